/* tools/cli.h - what the weir command's files share (weir.c: options and files;
 * sweep.c: running scenarios over seeds, in worker processes, and reporting them as TAP). */
#ifndef WEIR_TOOLS_CLI_H
#define WEIR_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/scenario.h"

/* One scenario to run: scenario `index` of `file`. */
typedef struct weir__cli_unit {
    const weir_scenario_file *file;
    size_t index;
    bool network; /* runs once per seed; a reader scenario runs once */
} weir__cli_unit;

typedef struct weir__cli_sweep {
    const char *argv0; /* how weir was invoked, for the commands that reproduce a failure */
    unsigned flags;    /* WEIR_SCENARIO_* */
    const weir__cli_unit *units;
    size_t nunits;
    /* The seeds: `--seed N` is the range N..N. A shard runs seeds lo .. lo + count - 1 of
     * the range first .. first + total - 1. */
    uint64_t first, total;
    uint64_t lo, count;
    bool range;                /* --seeds was given: say "seeds A..B" */
    uint64_t shard_k, shard_n; /* 0: no --shard */
    int jobs;                  /* processes; 1 = this one */
    bool progress;             /* a progress line on stderr (a terminal) */
} weir__cli_sweep;

/* Run the sweep and print one TAP stream on `out`: a test point per scenario (all its
 * seeds), then the failing seeds, each with the command that reproduces it. Returns the
 * exit status: 0 all passed, 1 something failed, 2 the sweep could not run. */
int weir__cli_run_sweep(const weir__cli_sweep *sw, FILE *out);

/* runner/seeds.c (the library): the k-th of n shards of count seeds from first. */
void weir__seed_slice(uint64_t first, uint64_t count, uint64_t k, uint64_t n, uint64_t *lo,
                      uint64_t *len);

#endif
