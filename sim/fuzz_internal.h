/* sim/fuzz_internal.h - what the fuzz harness's files share (sim/fuzz.c runs an input,
 * sim/fuzz_replay.c replays one, writes it as a scenario and is a main()). */
#ifndef WEIR_SIM_FUZZ_INTERNAL_H
#define WEIR_SIM_FUZZ_INTERNAL_H

#include "weir/fuzz.h"

/* One piece of the payload as the parser's end received it. */
typedef struct weir__fuzz_seg {
    int64_t at; /* virtual time, ns */
    size_t len;
} weir__fuzz_seg;

/* The schedule as the parser saw it, and what the peer got back: what a scenario needs to
 * replay the run without the simulator's draws. Filled by weir__fuzz_run when given. */
typedef struct weir__fuzz_log {
    weir__fuzz_seg *segs;
    size_t nsegs, cap;
    int64_t eof_at;  /* when EOF reached the parser, -1 if it did not */
    int64_t lost_at; /* when its connection was lost with an error, -1 if it was not */
    uint8_t *reply;  /* what the peer read back */
    size_t reply_len, reply_cap;
    bool no_memory; /* something could not be logged */
} weir__fuzz_log;

/* weir_fuzz_run, with the report always filled (into *rep, not opts->report) and, when
 * log is non-NULL, the schedule logged. */
int weir__fuzz_run(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                   weir_handler parser, void *arg, weir__fuzz_log *log, weir_fuzz_report *rep);
void weir__fuzz_log_free(weir__fuzz_log *log);

/* "EOF", "EOF after byte 12", ...: the ending in words, for timelines and scenarios. */
const char *weir__fuzz_end_name(weir_fuzz_end end);

#endif
