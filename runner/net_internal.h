/* runner/net_internal.h - what the network-scenario files of the runner share
 * (net_values.c, net_parse.c, net_run.c and friends). */
#ifndef WEIR_RUNNER_NET_INTERNAL_H
#define WEIR_RUNNER_NET_INTERNAL_H

#include "runner/scenario_internal.h"

/* ---- net_values.c ------------------------------------------------------------------- */

typedef enum weir__value_kind {
    WEIR__VAL_DURATION, /* 0 or N with ns, us, ms, s */
    WEIR__VAL_SIZE,     /* N bytes, or with B, KB, MB, GB, KiB, MiB, GiB */
    WEIR__VAL_RATE,     /* a size, optionally followed by /s */
    WEIR__VAL_COUNT,    /* N */
} weir__value_kind;

/* A value of kind k, or with allow_range a range LO..HI (a low end without a unit takes
 * the high end's: 1..50ms). 1 and *out; 0 when w is not such a value; -1 when it is one
 * that cannot be used, with *why saying why (overflow, a range where none is allowed,
 * LO > HI). Values are never negative. */
int weir__parse_value(weir_bytes w, weir__value_kind k, bool allow_range, weir__range *out,
                      const char **why);
/* What a value of kind k looks like, for messages. */
const char *weir__value_hint(weir__value_kind k);
/* A probability: 0, 1, or a decimal between them with up to 9 digits after the point.
 * 1 and *out, or 0. */
int weir__parse_probability(weir_bytes w, double *out);

/* ---- net_parse.c -------------------------------------------------------------------- */

/* The fault kinds as the language names them, indexed by weir_sim_fault_kind. */
extern const char *const weir__fault_names[];
#define WEIR__FAULT_KINDS 8 /* entries of weir__fault_names, [0] unused */

/* ---- running (net_run.c, net_peer.c, net_program.c) --------------------------------- */

struct weir_sim;
struct weir_task;
struct weir_reader;
struct weir_writer;
struct weir_server;
typedef struct weir__netrun weir__netrun;

/* A network run is a stall once it has run this many tasks and callbacks (or reached the
 * simulator's hour of virtual time). */
#define WEIR__NET_MAX_STEPS 10000000

typedef enum weir__actor_kind {
    WEIR__ACTOR_SERVER,
    WEIR__ACTOR_PEER,
    WEIR__ACTOR_RUN,
} weir__actor_kind;

/* A server, peer or run of a scenario while it runs. */
typedef struct weir__actor {
    weir__netrun *run;
    weir__actor_kind kind;
    const weir__step *decl;   /* its declaration line */
    const weir__step **steps; /* peer: its steps, in file order */
    size_t nsteps;
    struct weir_task *task; /* while it runs (detached: valid until `finished`) */
    bool finished;          /* its task returned (or never will be touched again) */
    bool done;              /* it did all it had to (a peer's last step, a run's return) */
    const weir__step *cur;  /* the step under way, for "still waiting" reports */
    /* a peer's connection */
    struct weir_reader *r;
    struct weir_writer *w;
    bool own_conn;              /* connecting peer: w is ours to free (a listening peer's
                                   belongs to its server) */
    bool accepted;              /* listening peer: its one connection came */
    struct weir_server *server; /* server, listening peer */
    void *cfg;                  /* server, run: the bundled handler's configuration */
    void *cfg_mem;              /* what cfg points into, freed with the run */
    void *result;               /* run: the bundled client's result */
} weir__actor;

struct weir__netrun {
    const weir_scenario_file *file;
    const weir__scenario *sc;
    unsigned flags;
    struct weir_sim *sim;
    weir__actor *actors;
    size_t nactors;
    bool failed;       /* the first failure is in `failure`; later ones are not looked at */
    bool stopping;     /* cleaning up: tasks unwind without checking or recording */
    int error;         /* an error of the runner itself (WEIR_ENOMEM) */
    weir__buf failure; /* "# FILE:LINE: STEP" and what went wrong */
    weir__buf verbose; /* WEIR_SCENARIO_VERBOSE: a line per step, as they complete */
    weir__buf scratch;
};

/* Run scenario i of f, a network scenario, on a simulator seeded with `seed`, appending its
 * diagnostics to diag. 1 passed, 0 failed, or a negative error. hash/records: the trace's. */
int weir__net_run(const weir_scenario_file *f, size_t i, unsigned flags, uint64_t seed,
                  weir__buf *diag, uint64_t *hash, size_t *records, weir__buf *trace_lines);

/* Check what step s produced (`got`, after `elapsed` ns) against its expectation; record a
 * verbose line, a trace note and, on a mismatch, the failure (which stops the run). true
 * when it matched. extra: the client result's KEY=N for a run step, or NULL. */
bool weir__net_check(weir__actor *a, const weir__step *s, const weir__outcome *got, int64_t elapsed,
                     const char *extra_got);
/* A failure that is not a mismatch ("unknown handler 'x'"), at step s. Stops the run. */
void weir__net_fail(weir__netrun *R, const weir__step *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The language's name for an error code a network call returned (0: success, NONE). */
void weir__net_outcome(int rc, weir__outcome *o);

/* net_peer.c: a peer's task bodies. */
int weir__peer_connect_task(void *arg);
int weir__peer_listen_task(void *arg);
/* net_program.c: servers (a task that starts one) and runs (a client in a task). */
int weir__server_task(void *arg);
int weir__run_task(void *arg);
void weir__program_free(weir__actor *a);

#endif
