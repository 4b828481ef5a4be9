/* runner/run_internal.h - what the running side of the scenario runner shares (run.c,
 * probe.c, tap.c). Separate from scenario_internal.h so the parser needs nothing of core. */
#ifndef WEIR_RUNNER_RUN_INTERNAL_H
#define WEIR_RUNNER_RUN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "runner/scenario_internal.h"
#include "weir/weir.h"

/* The dummy transport: records pause_reading / resume_reading. */
typedef struct weir__probe {
    weir_transport base; /* first, so a weir_transport * is a weir__probe * */
    bool paused;
    unsigned pauses, resumes;
} weir__probe;

void weir__probe_init(weir__probe *p);

/* Run scenario i of f, appending "# " diagnostic lines (the failure; every step with
 * WEIR_SCENARIO_VERBOSE) to diag. 1 passed, 0 failed, or a negative error. */
int weir__scenario_run(const weir_scenario_file *f, size_t i, unsigned flags, weir__buf *diag);

/* exec.c: run scenario i of f, a reader or a network scenario (with `seed`), with the
 * options of weir_scenario_opts; res may be NULL. */
int weir__scenario_exec(const weir_scenario_file *f, size_t i, unsigned flags, uint64_t seed,
                        weir__buf *diag, weir_scenario_result *res);

/* seeds.c: the k-th (1-based) of n shards of the `count` seeds starting at `first`:
 * *lo and *len (0 for a bad k or n). Shards are contiguous, in order, and their sizes
 * differ by at most one. */
void weir__seed_slice(uint64_t first, uint64_t count, uint64_t k, uint64_t n, uint64_t *lo,
                      uint64_t *len);

#endif
