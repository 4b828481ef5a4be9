/* sim/sim_internal.h - what the simulator's files share. */
#ifndef WEIR_SIM_INTERNAL_H
#define WEIR_SIM_INTERNAL_H

#include <stdarg.h>

#include "core/internal.h"
#include "core/rng.h"
#include "sim/hash.h"
#include "weir/sim.h"

/* Kinds of trace record. The hash covers the kind, time, ids, values and bytes. */
typedef enum weir__trace_kind {
    WEIR__TR_DRAW = 1, /* a draw: a = bound, b = value; note = what it was for */
    WEIR__TR_CONNECT,  /* conn opened: note = "client:port -> server:port" */
    WEIR__TR_ACCEPT,   /* handed to the server: note = the server's socket name */
    WEIR__TR_REFUSED,  /* note = "client -> target: why" (conn 0: no listener reached) */
    WEIR__TR_SEND,     /* a FIN or RST sent: note = "fin, arrives at Tms" (data segments are
                          not recorded when sent: their delivery and draws are) */
    WEIR__TR_DELIVER,  /* a segment delivered: a = len, data = the bytes */
    WEIR__TR_EOF,      /* EOF delivered (dir: the direction that ended) */
    WEIR__TR_RESET,    /* an RST reached the receiver of dir */
    WEIR__TR_CLOSE,    /* connection_lost given to an end: note = "client end lost: clean" */
    WEIR__TR_FAULT,    /* a fault fired: note = "N KIND at byte POS" */
    WEIR__TR_PAUSE,    /* the receiver of dir paused/resumed reading: a = 1/0 */
    WEIR__TR_NOTE,     /* weir_sim_note */
    WEIR__TR_DROP,     /* bytes discarded (sim/net): a = len, note = why ("receiver closed",
                          "after EOF", "stalled", "unread", ...) */
} weir__trace_kind;

typedef struct weir__trace_rec {
    weir__trace_kind kind;
    uint64_t conn; /* connection id (1-based), 0 = none */
    int dir;       /* 0 = client -> server, 1 = server -> client, -1 = none */
    int64_t a, b;
    const uint8_t *data;
    size_t len;
    const char *note; /* short text, may be NULL */
    size_t note_len;  /* strlen(note) when the caller knows it; 0: the trace measures it */
} weir__trace_rec;

struct weir__simnet; /* sim/net.c */

struct weir_sim {
    weir_loop *loop;
    int64_t now;
    uint64_t seed;
    int64_t max_time;
    uint64_t max_steps;

    /* the decision stream */
    uint64_t rng[4];    /* xoshiro256** state, seeded through splitmix64 */
    const uint8_t *dec; /* or these bytes */
    size_t dec_len, dec_pos;
    bool from_bytes;
    uint64_t draws;

    /* the trace */
    uint64_t hash; /* over every record so far (sim/trace.c) */
    uint64_t records;
    int64_t trace_time; /* time of the last record (times are hashed as deltas) */
    bool keep;
    char **lines;
    size_t nlines, cap_lines;

    char *report; /* the last stall report */
    bool time_up; /* the last run stopped at max_time (sim/sim.c) */

    struct weir__simnet *net; /* hosts, links, faults, connections (sim/net.c) */
};

/* The simulator behind a loop, or NULL if the loop is not a simulator. */
weir_sim *weir__sim_of(weir_loop *loop);

/* A uniform draw in [0, n) (0 when n == 0), recorded with `what`. */
uint64_t weir__sim_draw(weir_sim *s, const char *what, uint64_t n);
/* A uniform draw in [r.lo, r.hi] (r.lo when hi <= lo). */
int64_t weir__sim_range(weir_sim *s, const char *what, weir_sim_range r);
/* The same with the label's length given. */
int64_t weir__sim_range_len(weir_sim *s, const char *what, size_t what_len, weir_sim_range r);
/* true with probability p (p <= 0: false without drawing; p >= 1: true without drawing). */
bool weir__sim_chance(weir_sim *s, const char *what, double p);

/* A full 64-bit draw (weir_random on a simulator loop), recorded with `what`. */
uint64_t weir__sim_draw64(weir_sim *s, const char *what);
/* sim/decide.c: start the stream from opts->seed, or from opts->decisions when non-NULL. */
void weir__sim_decide_init(weir_sim *s, const weir_sim_opts *opts);

/* Record one event at the current virtual time. */
void weir__sim_record(weir_sim *s, const weir__trace_rec *r);

/* weir__sim_record for the records made for every segment (its draws, its delivery),
 * inline: the same words are hashed (sim/hash.h), without the call or the record struct, so
 * fields the caller passes as constants fold away. With text kept it takes the ordinary
 * way, which formats the line. note_len is strlen(note) (0 for NULL). */
static inline WEIR__ALWAYS_INLINE void weir__sim_record_inline(weir_sim *s, weir__trace_kind kind,
                                                               uint64_t conn, int dir, int64_t a,
                                                               int64_t b, const char *note,
                                                               size_t note_len, const uint8_t *data,
                                                               size_t len) {
    if (s->keep) {
        weir__trace_rec r = {.kind = kind,
                             .conn = conn,
                             .dir = dir,
                             .a = a,
                             .b = b,
                             .data = data,
                             .len = len,
                             .note = note,
                             .note_len = note_len};
        weir__sim_record(s, &r);
        return;
    }
    int64_t now = s->now;
    s->hash = weir__hash_record(s->hash, (uint64_t)kind,
                                (int64_t)((uint64_t)now - (uint64_t)s->trace_time), conn, dir, a, b,
                                note, note_len, data, data ? len : 0);
    s->trace_time = now;
    s->records++;
}

/* weir__sim_range_len for the draws made for every segment, inline with a literal label:
 * weir__sim_range_lit(s, "jitter", r). A seeded draw is taken and recorded here, exactly as
 * sim/decide.c would; a draw from bytes (and a 2^64-wide range) goes there. */
static inline WEIR__ALWAYS_INLINE int64_t weir__sim_range_inline(weir_sim *s, const char *what,
                                                                 size_t what_len,
                                                                 weir_sim_range r) {
    if (r.hi <= r.lo) return r.lo;
    uint64_t n = (uint64_t)r.hi - (uint64_t)r.lo + 1;
    if (s->from_bytes || n == 0) return weir__sim_range_len(s, what, what_len, r);
    uint64_t v = weir__xoshiro_uniform(s->rng, n);
    s->draws++;
    weir__sim_record_inline(s, WEIR__TR_DRAW, 0, -1, (int64_t)n, (int64_t)v, what, what_len, NULL,
                            0);
    return (int64_t)((uint64_t)r.lo + v);
}
#define weir__sim_range_lit(s, lit, r) weir__sim_range_inline((s), "" lit, sizeof(lit) - 1, (r))
/* sim/trace.c: an empty trace (the hash at its basis), and freeing its lines. */
void weir__sim_trace_init(weir_sim *s);
void weir__sim_trace_free(weir_sim *s);
/* Virtual time as milliseconds with six decimals ("12.500000"), exact (integer arithmetic);
 * buf needs 32 bytes. Shared by the trace and the stall report. */
const char *weir__sim_fmt_ms(char *buf, int64_t ns);

/* sim/net.c: the network, created with the simulator and freed with it.
 * weir_sim_free() frees the loop FIRST (which cancels every task and lets it unwind, so a
 * task blocked on a connection can still close it while the network exists), sets s->loop
 * to NULL, and only then calls weir__simnet_free(): by then every task and timer of the loop
 * is gone, so it must free its structures without calling into the loop (weir_timer_stop
 * on a NULL loop is a no-op, so code shared with the live path is safe). */
int weir__simnet_new(weir_sim *s);
void weir__simnet_free(weir_sim *s);
/* The name of the host task t runs on (from its weir__task_data), or NULL. For reports. */
const char *weir__simnet_task_host(weir_sim *s, weir_task *t);
extern const weir_net_ops weir__simnet_ops;

#endif
