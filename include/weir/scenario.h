/* weir/scenario.h - parse and run scenario files (docs/scenarios.md).
 *
 * A scenario file scripts a stream reader step by step and states what each step must
 * produce; a network scenario declares hosts, links, faults, servers and scripted peers and
 * runs the program under test on a seeded simulator (weir/sim.h). This is the library behind `weir
 * run`, public so that a test binary of your own can load scenario files and report them as TAP:
 *
 *   weir_scenario_file *f;
 *   weir_scenario_error err;
 *   if (weir_scenario_load("x.scn", &f, &err) != 0) {
 *       fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
 *       return 2;
 *   }
 *   int failed = weir_scenario_run_tap(&f, 1, NULL, stdout);
 *   weir_scenario_file_free(f);
 *
 * Parsing never runs anything and never crashes on any input bytes: a malformed file gives
 * WEIR_EINVAL and the position of its first error. Memory is bounded by the limits below. */
#ifndef WEIR_SCENARIO_H
#define WEIR_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits a file must respect; going over one is reported as a malformed file. */
#define WEIR_SCENARIO_MAX_INPUT (64u << 20) /* bytes in one file */
#define WEIR_SCENARIO_MAX_LINE (1u << 20)   /* bytes in one line, without its "\n" */
#define WEIR_SCENARIO_MAX_TOKENS 1024       /* words and strings on one line */
#define WEIR_SCENARIO_MAX_SEPARATORS 256    /* separators in one readuntil */
#define WEIR_SCENARIO_MAX_SCENARIOS 100000  /* scenarios in one file */
#define WEIR_SCENARIO_MAX_STEPS 100000      /* steps in one scenario */
#define WEIR_SCENARIO_MAX_HOSTS 256         /* hosts in one network scenario */
#define WEIR_SCENARIO_MAX_ACTORS 256        /* servers, peers and runs in one scenario */

/* A parsed file: its scenarios and their steps. Immutable once parsed. */
typedef struct weir_scenario_file weir_scenario_file;

/* Where and why a file was rejected. */
typedef struct weir_scenario_error {
    const char *file; /* the name given to the parse/load call (not copied) */
    int line;         /* 1-based; 0 when the error has no position (cannot open the file) */
    int col;          /* 1-based byte column; 0 when the error has no position */
    char message[256];
} weir_scenario_error;

/* Parse `len` bytes (any bytes) named `name` (used in errors and TAP output; copied).
 * 0 and *out; WEIR_EINVAL for a malformed file, WEIR_ENOMEM; on failure *out is NULL and
 * *err (if err is not NULL) says where. */
int weir_scenario_parse(const void *data, size_t len, const char *name, weir_scenario_file **out,
                        weir_scenario_error *err);

/* Read and parse the file at `path` (also its name). As weir_scenario_parse, plus
 * WEIR_ENOENT when the file cannot be opened or read (err->line is then 0). */
int weir_scenario_load(const char *path, weir_scenario_file **out, weir_scenario_error *err);

void weir_scenario_file_free(weir_scenario_file *f);

/* The file's name, the number of scenarios in it, and scenario i's name (NUL-terminated;
 * a name holding a NUL byte reads as truncated) and 1-based line. */
const char *weir_scenario_file_name(const weir_scenario_file *f);
size_t weir_scenario_count(const weir_scenario_file *f);
const char *weir_scenario_name(const weir_scenario_file *f, size_t i);
int weir_scenario_line(const weir_scenario_file *f, size_t i);

/* Options for running. NULL means all defaults (no flags, seed 1: what `weir run` uses). */
enum {
    /* Also trace every step with what it produced, as TAP comment lines. */
    WEIR_SCENARIO_VERBOSE = 1u << 0,
    /* Network scenarios: append the run's timeline (weir_sim_trace_write) and its hash. */
    WEIR_SCENARIO_TRACE = 1u << 1,
    /* Network scenarios: run twice with the same seed and compare the traces record by
     * record; a difference fails the scenario and shows the first differing record of both
     * runs, otherwise "deterministic (hash 0x...)" is reported. */
    WEIR_SCENARIO_CHECK_DETERMINISM = 1u << 2,
};
typedef struct weir_scenario_opts {
    unsigned flags; /* WEIR_SCENARIO_* */
    uint64_t seed;  /* network scenarios: the simulator's seed (reader scenarios have none) */
} weir_scenario_opts;

/* What one run of a scenario gave, besides passing or failing. */
typedef struct weir_scenario_result {
    bool network;        /* a network scenario: it ran on a simulator */
    uint64_t trace_hash; /* network: the hash of the run's trace (weir_sim_trace_hash) */
    size_t trace_records;
    bool deterministic; /* WEIR_SCENARIO_CHECK_DETERMINISM: both runs gave the same trace */
} weir_scenario_result;

/* Whether scenario i of f is a network scenario (it declares hosts; docs/scenarios.md). */
bool weir_scenario_is_network(const weir_scenario_file *f, size_t i);

/* Run scenario i of f: a reader scenario on a fresh virtual loop and reader, a network
 * scenario on a fresh simulator seeded with opts->seed. 1 if it passed, 0 if it failed,
 * or a negative error (WEIR_EINVAL for i out of range, WEIR_ENOMEM). A failure (and, with
 * WEIR_SCENARIO_VERBOSE, the trace) is described on `diag` as "# " lines; diag may be NULL.
 * Stops at the first step that does not match. */
int weir_scenario_run(const weir_scenario_file *f, size_t i, const weir_scenario_opts *opts,
                      FILE *diag);
/* The same, also filling *result (may be NULL). */
int weir_scenario_run_ex(const weir_scenario_file *f, size_t i, const weir_scenario_opts *opts,
                         FILE *diag, weir_scenario_result *result);

/* Run every scenario of files[0..nfiles) (network ones with opts->seed) as one TAP stream
 * on `out`: the plan "1..N", then
 * "ok K - FILE: NAME" or "not ok K - FILE: NAME" with "# " diagnostics, and a summary
 * comment when anything failed. Returns the number of scenarios that failed, or a negative
 * error (WEIR_ENOMEM), in which case the TAP stream ends early. */
int weir_scenario_run_tap(weir_scenario_file *const *files, size_t nfiles,
                          const weir_scenario_opts *opts, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
