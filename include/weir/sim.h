/* weir/sim.h - a deterministic simulated network.
 *
 * A simulator is a loop backend with a virtual clock in nanoseconds and one seeded decision
 * stream: every random choice it makes (a chunk size, a delay, whether a fault fires) is a
 * draw from that stream, in a defined order, and is recorded in the run's trace together
 * with every delivered chunk. The same program with the same seed gives the same trace, byte
 * for byte, and the same trace hash. The draws can also come from bytes you supply (a fuzz
 * input, a recorded run) instead of the seeded generator.
 *
 * Programs use the ordinary calls (weir/net.h) inside tasks spawned with weir_sim_spawn(),
 * which says which simulated host the task runs on. */
#ifndef WEIR_SIM_H
#define WEIR_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/bytes.h"
#include "weir/loop.h"
#include "weir/net.h"
#include "weir/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_sim weir_sim;

typedef struct weir_sim_opts {
    uint64_t seed;
    /* Non-NULL: draws are decoded from these bytes instead of the seeded generator (each
     * draw takes just enough bytes for its range; past the end every draw is 0, the
     * smallest choice, which is what makes shrinking an input work). Not copied. */
    const uint8_t *decisions;
    size_t decisions_len;
    bool keep_trace;    /* keep the trace as text lines (for --trace and comparisons) */
    int64_t max_time;   /* virtual-time bound in ns; 0 = 1 hour */
    uint64_t max_steps; /* bound on tasks/callbacks run; 0 = 100 million */
} weir_sim_opts;

/* A simulator with its own loop. opts may be NULL (seed 0). WEIR_ENOMEM or 0. */
int weir_sim_new(const weir_sim_opts *opts, weir_sim **out);
/* Free the simulator, its network and its loop (weir_loop_free's rules apply). */
void weir_sim_free(weir_sim *s);
weir_loop *weir_sim_loop(weir_sim *s);
/* The simulator running the current task, or NULL. */
weir_sim *weir_sim_current(void);
uint64_t weir_sim_seed(const weir_sim *s);

/* --- hosts ------------------------------------------------------------------------- */

/* Add a host: a name (resolvable by the simulated hosts table) and its addresses, IPv4
 * and/or IPv6 literals separated by commas ("10.0.0.1,fd00::1"); NULL/"" = no address (it
 * is reached by name only). WEIR_EINVAL for a bad literal or name, WEIR_EADDRINUSE for a
 * name or address already taken. */
int weir_sim_add_host(weir_sim *s, const char *name, const char *addrs);

/* Spawn a task that runs on a host (as weir_spawn; the host decides the source address of
 * its connections and where its servers listen). WEIR_ENOENT for an unknown host. */
int weir_sim_spawn(weir_sim *s, const char *host, weir_task_fn fn, void *arg,
                   const weir_task_opts *opts, weir_task **out);

/* --- links ------------------------------------------------------------------------- */

/* A range drawn uniformly (inclusive) from the decision stream each time it is used;
 * lo == hi is a fixed value. */
typedef struct weir_sim_range {
    int64_t lo, hi;
} weir_sim_range;

/* Conditions for bytes flowing one way between two hosts. Zero fields take defaults. */
typedef struct weir_sim_link {
    int64_t latency;              /* ns, fixed one-way delay of every segment */
    weir_sim_range jitter;        /* ns, added per segment (segments still arrive in order) */
    int64_t bandwidth;            /* bytes per second; 0 = unlimited */
    weir_sim_range segment;       /* bytes per segment; {0, 0} = all that is queued */
    weir_sim_range connect_delay; /* ns, connection set-up */
    size_t window;                /* bytes in flight before the sender's queue grows
                                     (the receiver's socket buffer); 0 = 65536 */
} weir_sim_link;

/* Set the conditions for from -> to; "*" for either side matches any host. The most
 * specific rule wins (exact pair, then one side "*", then "* -> *"). */
int weir_sim_set_link(weir_sim *s, const char *from, const char *to, const weir_sim_link *l);

/* --- faults ------------------------------------------------------------------------ */

typedef enum weir_sim_fault_kind {
    WEIR_FAULT_EOF = 1,    /* half-close from -> to: the receiver sees EOF, later bytes drop */
    WEIR_FAULT_RESET,      /* RST: both ends get WEIR_ECONNRESET, unread data is lost */
    WEIR_FAULT_REFUSE,     /* the connection attempt gets WEIR_ECONNREFUSED */
    WEIR_FAULT_HOLD,       /* bytes from -> to are held for `duration` (0: for ever), then
                              delivered: a partition that heals */
    WEIR_FAULT_LIMIT_DATA, /* close the connection once `bytes` have passed from -> to
                              (toxiproxy's limit_data) */
    WEIR_FAULT_SLOW_CLOSE, /* a close (FIN) from -> to is delivered `duration` late */
    WEIR_FAULT_STALL,      /* bytes from -> to stop for ever (toxiproxy's timeout 0) */
} weir_sim_fault_kind;

/* A fault on connections between two hosts, in one direction, fired when its trigger holds.
 * Trigger fields left at their "off" value are not conditions; all the set ones must hold. */
typedef struct weir_sim_fault {
    weir_sim_fault_kind kind;
    const char *from, *to; /* host names, "*" or NULL = any; the direction bytes flow */
    int port;              /* the server's port; 0 = any */
    /* trigger */
    int64_t at;          /* virtual time (ns) from which it fires; -1 = off */
    int64_t after_bytes; /* once this many bytes have passed from -> to; -1 = off */
    weir_bytes pattern;  /* once these bytes have passed (len 0 = off) */
    int nth;             /* only the nth connection matching from/to/port (1-based); 0 = off */
    double probability;  /* per connection, drawn from the decision stream; 0 = off */
    /* effect */
    int64_t duration; /* HOLD, SLOW_CLOSE: ns */
    int64_t bytes;    /* LIMIT_DATA: bytes */
} weir_sim_fault;

/* A fault with every trigger off. */
weir_sim_fault weir_sim_fault_init(weir_sim_fault_kind kind);
int weir_sim_add_fault(weir_sim *s, const weir_sim_fault *f);

/* --- running ----------------------------------------------------------------------- */

/* Run until nothing is runnable and nothing is scheduled. 0 when every task finished;
 * WEIR_EDEADLOCK when tasks are blocked with nothing left to wake them; WEIR_ESTALL when the
 * time or step bound was hit first. In both error cases weir_sim_report() says what each
 * blocked task waits for. */
int weir_sim_run(weir_sim *s);
/* The last run's stall/deadlock report: one line per blocked task, or "" . Owned by s. */
const char *weir_sim_report(const weir_sim *s);

/* --- the trace --------------------------------------------------------------------- */

/* Add a line of your own to the trace (hashed like the simulator's own records). */
void weir_sim_note(weir_sim *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The hash of everything recorded so far (64-bit FNV-1a over the records). */
uint64_t weir_sim_trace_hash(const weir_sim *s);
/* Records so far, and (with keep_trace) the i-th as text, else NULL. */
size_t weir_sim_trace_count(const weir_sim *s);
const char *weir_sim_trace_line(const weir_sim *s, size_t i);
/* Print the kept trace as a readable timeline. */
void weir_sim_trace_write(const weir_sim *s, FILE *out);
/* Draws made from the decision stream so far. */
uint64_t weir_sim_draws(const weir_sim *s);

#ifdef __cplusplus
}
#endif
#endif
