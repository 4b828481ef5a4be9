/* fuzz/sim_schedule.h - what the sim_schedule target's files share: the simulated world a
 * fuzz input draws (hosts, links, faults) and what its faults allow the bundled examples
 * to report. sim_schedule.c has the line-echo mode and the entry point,
 * sim_schedule_http.c the two HTTP modes. */
#ifndef WEIR_FUZZ_SIM_SCHEDULE_H
#define WEIR_FUZZ_SIM_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/fuzz.h"
#include "weir/weir.h"

/* The client's deadline: well past anything a schedule without stalls takes (latency,
 * jitter and healing holds are at most tens of milliseconds per segment), so only a
 * stall, a hold that never heals or a hang runs into it. */
#define SCHED_DEADLINE (60 * WEIR_SEC)

/* The world of one input. */
typedef struct sched {
    weir_sim *s;
    /* What the drawn faults may do (a fault with a probability may also not fire). */
    bool may_fail;     /* a fault (or the mode's configuration) can keep the exchange from
                          completing */
    bool cs_cut;       /* bytes client -> server can stop early (EOF, RESET, LIMIT_DATA) */
    bool sc_cut;       /* the same, server -> client */
    bool can_stall;    /* a STALL or a HOLD that never heals: only the deadline ends it */
    char failure[512]; /* the first invariant that failed */
    char outcome[160]; /* what the exchange gave, for the timeline */
} sched;

/* A draw from the input, named for the timeline. */
static inline uint64_t sched_draw(sched *w, const char *what, uint64_t n) {
    return weir_fuzz_draw(w->s, what, n);
}

/* Record a failed invariant (the first one wins); always returns false. */
bool sched_fail(sched *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Whether rc is one of the errors the drawn faults explain. `extra` is one more code the
 * mode allows (0 for none). */
bool sched_error_ok(const sched *w, int rc, int extra);

/* A client task: runs fn(arg) with the deadline set; done/rc say how it ended. */
typedef struct sched_client {
    int (*fn)(void *arg);
    void *arg;
    bool done;
    int rc;
} sched_client;
int sched_client_task(void *arg);

/* The two HTTP modes: draw their configuration, run, check. Return true when every
 * invariant held. */
bool sched_http_responder(sched *w);
bool sched_http_scripted(sched *w);

#endif
