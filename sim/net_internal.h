/* sim/net_internal.h - what the simulated network's files share.
 *
 *   host.c   hosts, their addresses and names; resolving; weir_sim_spawn
 *   link.c   link rules (weir_sim_set_link) and the conditions of a connection's directions
 *   fault.c  the fault table, a connection's armed faults, triggers and their effects
 *   flow.c   one direction of a connection: segments, timing, the window, delivery
 *   conn.c   a connection's two transports and its life cycle
 *   net.c    the network itself: connect, listen, accept, freeing
 *
 * Ownership: the network owns hosts, rules, faults, listeners and every connection. A
 * connection is freed when both of its transports have been freed and no callback it queued
 * is outstanding; whatever is left when the simulator goes is freed by weir__simnet_free(),
 * which runs after the loop is gone and so never calls into it. */
#ifndef WEIR_SIM_NET_INTERNAL_H
#define WEIR_SIM_NET_INTERNAL_H

#include "core/wbuf.h"
#include "sim/sim_internal.h"

#define WEIR__EPHEMERAL_LO 49152 /* the IANA dynamic range: client ports, listen(0) */
#define WEIR__DEFAULT_WINDOW 65536

typedef struct weir__simnet simnet;
typedef struct sim_host sim_host;
typedef struct sim_conn sim_conn;
typedef struct sim_end sim_end;
typedef struct sim_flow sim_flow;
typedef struct sim_fault sim_fault;
typedef struct fault_inst fault_inst;
typedef struct sim_listener sim_listener;

/* --- hosts (host.c) ----------------------------------------------------------------- */

typedef struct sim_addr {
    int family;      /* AF_INET or AF_INET6 */
    uint8_t raw[16]; /* network order; 4 bytes used for AF_INET */
    char text[48];   /* canonical text: "10.0.0.1", "fd00::1" */
} sim_addr;

struct sim_host {
    char *name;
    sim_addr *addrs;
    size_t naddrs;
    int next_port; /* the next ephemeral port to try */
};

/* Where a name or literal leads. */
typedef struct sim_target {
    sim_host *host;
    const sim_addr *addr; /* the literal's address; NULL for a name (any of the host's) */
    bool loopback;        /* localhost, 127.0.0.0/8 or ::1: the caller's own host */
    int family;           /* of a loopback literal: AF_INET or AF_INET6; 0 for "localhost" */
} sim_target;

/* Resolve a name or an address literal as seen from host `self`. WEIR_ENOENT for a name
 * nobody has, WEIR_EHOSTUNREACH for an address nobody has, WEIR_EINVAL for "". */
int weir__host_resolve(simnet *net, sim_host *self, const char *text, sim_target *out);
/* The host a task runs on: its weir__task_data, else the implicit "localhost". */
sim_host *weir__host_of_task(simnet *net, weir_task *t);
sim_host *weir__host_by_name(simnet *net, const char *name);
/* Parse an IPv4 or IPv6 literal ("::ffff:1.2.3.4" is IPv6). false if it is not one. */
bool weir__addr_parse(const char *text, sim_addr *out);
bool weir__addr_is_loopback(const sim_addr *a);
/* "10.0.0.1:80", "[fd00::1]:80": the address (or a bare name) and a port. */
void weir__fmt_hostport(char *buf, size_t n, const char *addr, int family, int port);
/* The next ephemeral port of h (49152..65535, then round again). */
int weir__host_next_port(sim_host *h);
/* Hostname matching for rules: NULL and "*" match any host; names compare ignoring case. */
bool weir__name_matches(const char *pattern, const sim_host *h);
int weir__hosts_init(simnet *net);
void weir__hosts_free(simnet *net);

/* --- links (link.c) ----------------------------------------------------------------- */

typedef struct link_rule {
    char *from, *to; /* NULL = "*" */
    weir_sim_link link;
} link_rule;

/* The conditions for bytes from -> to, defaults filled in. */
weir_sim_link weir__link_for(simnet *net, const sim_host *from, const sim_host *to);
void weir__links_free(simnet *net);

/* --- faults (fault.c) --------------------------------------------------------------- */

/* A fault as added, with its own copies of names and pattern. */
struct sim_fault {
    weir_sim_fault f;
    char *from, *to;  /* NULL = any */
    uint8_t *pattern; /* f.pattern points here */
    size_t *kmp;      /* the pattern's failure function */
    int number;       /* 1-based, in the order added: trace and docs call it "fault N" */
    uint64_t matched; /* connections that matched from/to/port so far (for nth) */
};

/* A fault armed on one direction of one connection. */
struct fault_inst {
    sim_fault *fault;
    sim_flow *flow;
    bool fired;
    bool pattern_seen; /* the pattern has passed (sticky) */
    size_t kmp_state;  /* pattern bytes matched so far */
    weir_timer timer;  /* at `at`, when that lies in the future at set-up */
};

/* At a connection attempt that reached a listener: count it for every fault it matches,
 * make the probability draws, and arm what applies on c's flows. Returns the number of the
 * REFUSE fault that fires (the connection must then be refused), 0 for none, or
 * WEIR_ENOMEM. */
int weir__faults_arm(simnet *net, sim_conn *c);
/* Fire every armed fault of c whose time-only condition already holds (after set-up). */
void weir__faults_start(sim_conn *c);
/* Of the next n bytes at p about to pass on f, how many may pass before a fault must fire
 * (n when none does in them; 0 when one fires before the first). */
size_t weir__faults_cut(sim_flow *f, const uint8_t *p, size_t n);
/* n bytes at p passed on f: advance pattern matching, then fire what now holds. */
void weir__faults_passed(sim_flow *f, const uint8_t *p, size_t n);
/* Fire what holds now with nothing passing (used when the cut was 0). */
void weir__faults_check(sim_flow *f);
void weir__faults_stop(sim_conn *c);
void weir__faults_free(simnet *net);

/* --- flows (flow.c) ----------------------------------------------------------------- */

typedef enum seg_kind { SEG_DATA, SEG_FIN, SEG_RST } seg_kind;

typedef struct sim_seg {
    int64_t at;   /* when it arrives at the receiver */
    uint64_t pos; /* stream offset of its first byte (of what follows, for FIN/RST) */
    size_t len;   /* bytes (DATA only) */
    seg_kind kind;
} sim_seg;

/* Bytes from ends[dir] to ends[1 - dir]. The buffer holds, in order, the bytes in flight
 * (sent, not yet handed to the receiver: what counts against the window) and the staged
 * bytes (taken from the sender's queue for the segment being cut, not yet sent).
 *
 * Field order is for the cache: with a thousand connections every event lands on a cold
 * connection, so what one delivery or one write reads is kept on as few 64-byte lines as
 * possible (a delivery reads lines 0-2, a write 0-3), and what faults and closing use
 * comes last. */
struct sim_flow {
    /* Line 0. The next arrival (or the end of a hold). First, and the flow starts a cache
     * line: the loop reads the timer, then the callback reads c and the flags beside it. */
    _Alignas(64) weir_timer timer;
    sim_conn *c;
    int dir;
    bool pumping;      /* inside flow_pump: a nested write only queues */
    bool busy;         /* inside data_received: the buffer must not move */
    bool dropping;     /* the sender's bytes are discarded (EOF/RESET/LIMIT/STALL fault, or
                          the sender is gone) */
    bool rst_deferred; /* the RST waits for its own tick (rst_event) */
    bool fin_wanted;   /* write_eof: a FIN follows the queued bytes (close: end_flushed) */
    bool fin_queued;   /* a FIN is in flight or delivered */
    bool rst_queued;   /* an RST is in flight or delivered */
    bool stalled;      /* STALL: nothing more is ever delivered, not even a FIN or RST */

    /* Line 1: the bytes and the segments. */
    uint8_t *buf;
    size_t off, len, staged, cap; /* in flight: [off, off+len); staged: the next `staged` */
    sim_seg *segs;                /* ring of segments in flight, oldest first */
    size_t shead, nsegs;

    /* Line 2: positions and times. */
    size_t scap;
    uint64_t sent;      /* bytes that have passed (the stream position) */
    int64_t busy_until; /* bandwidth: when the link has finished sending what it has */
    int64_t last_at;    /* arrival time of the newest segment: later ones never overtake */
    int64_t rst_at;     /* arrival of the queued RST, -1 if none: it may pass a paused reader */
    uint64_t hold_pos;  /* HOLD: nothing at or after this position is delivered ... */
    int64_t hold_until; /* ... before this time (WEIR_FOREVER: never); 0 = no hold */
    size_t window;      /* the link's window (never 0) */

    /* Line 3: the rest of the link's conditions (weir_sim_link, minus connect_delay), and
     * the faults a segment is checked against. */
    int64_t latency, bandwidth;
    weir_sim_range jitter, segment;
    fault_inst **faults; /* armed on this direction */
    size_t nfaults;

    int64_t fin_delay;    /* SLOW_CLOSE: added to a FIN's arrival */
    const char *drop_why; /* why the sender's bytes are dropped, for the trace */
};

/* Cut and send what the sender has queued, as far as window and faults allow. */
void weir__flow_pump(sim_flow *f);
/* A write's bytes straight onto the link, when the pump would take all of them from the
 * sender's queue at once anyway: nothing queued before them, room for all of them in the
 * window, no armed fault that could cut them, and no watermark crossed (the queue is empty
 * and len <= high, so neither pause_writing nor resume_writing would be called). Then
 * skipping the queue changes nothing but a copy. false: the caller queues them as usual. */
bool weir__flow_write(sim_flow *f, const void *data, size_t len);
/* Arm the delivery timer for the head segment (or stop it). */
void weir__flow_kick(sim_flow *f);
/* Queue a FIN / an RST after what is in flight (no-op if not possible any more). */
void weir__flow_send_fin(sim_flow *f);
void weir__flow_send_rst(sim_flow *f);
/* Drop everything not yet sent, and from now on everything the sender queues. */
void weir__flow_drop_sender(sim_flow *f, const char *why);
/* Drop the segments at or after stream position pos that are still in flight. */
void weir__flow_drop_from(sim_flow *f, uint64_t pos, const char *why);
/* The position of the first byte that has not arrived yet (sent if all have). */
uint64_t weir__flow_arrived_pos(const sim_flow *f, int64_t now);
/* An RST that has arrived at an end that was not watching (weir__end_watching) is noticed
 * now, by a write whose send() fails: the bytes before it are never read, and the end is
 * reset. false if no RST has arrived. */
bool weir__flow_notice_rst(sim_flow *f);
/* Discard what has arrived and not been handed over (a close with unread bytes). */
size_t weir__flow_discard_arrived(sim_flow *f, int64_t now);
void weir__flow_init(sim_flow *f, sim_conn *c, int dir, const weir_sim_link *l);
void weir__flow_release(sim_flow *f);

/* --- connections (conn.c) ----------------------------------------------------------- */

/* Something to run on a later tick (FIFO with ready tasks), cancellable by its owner going
 * away: a queued call is counted so the connection outlives it (as in core/mempipe.c). */
typedef struct sim_event {
    sim_conn *c;
    void (*fn)(void *arg);
    void *arg;
    bool queued;
    weir_timer timer; /* stand-in when call_soon has no memory */
} sim_event;

struct sim_end {
    _Alignas(64) weir_transport t; /* first: the ops get &t back; starts a cache line */
    sim_conn *c;
    int index;           /* 0 = client, 1 = server */
    bool handed;         /* the owner has it (connect returned it / on_accept got it) */
    bool write_closed;   /* write_eof, close or abort: write() fails with WEIR_ECLOSED */
    bool closing;        /* close or abort: nothing more is read */
    bool aborted;        /* abort (or reset): no clean FIN */
    bool unread;         /* bytes reached it after it stopped reading: RST instead of FIN */
    bool reading_paused; /* pause_reading */
    bool eof_in;         /* its EOF was delivered: the transport reads no more */
    bool lost;           /* connection_lost is scheduled or delivered */
    bool lost_reported;
    bool freed;
    weir__wbuf wbuf; /* written, not yet taken onto the link */
    int lost_error;
    sim_event lost_event;
    char sockname[80], peername[80];
};

struct sim_conn {
    /* What every event of the connection reads first, on one cache line. The flows and the
     * ends start cache lines too, so a connection is allocated 64-byte aligned. */
    simnet *net;
    uint64_t id;
    int refs;                 /* ends not yet freed */
    int queued;               /* sim_events queued with weir_call_soon and not yet run */
    int depth;                /* inside a protocol or accept callback: do not free yet */
    int port;                 /* the server's port (0 for a Unix socket) */
    sim_listener *pending_on; /* in this listener's accept queue */
    sim_host *host[2];        /* client, server */
    sim_flow flow[2];         /* flow[i]: from end[i] */
    sim_end end[2];
    sim_event rst_event[2]; /* an RST processed a tick after the bytes before it */
    fault_inst *insts;      /* armed faults (flows point into this) */
    size_t ninsts;
    sim_conn *prev, *next; /* the network's list */
    sim_conn *pending_next;
};

/* Whether e still takes bytes / an EOF now, and whether it has anyone to tell. Inline:
 * delivery asks for every segment. */
static inline bool weir__end_ready(const sim_end *e) {
    return e->handed && e->t.protocol && e->t.protocol->ops && !e->reading_paused && !e->closing &&
           !e->lost;
}

/* Whether the poll transport would be watching e's socket now, so that an RST reaching it
 * is noticed at once: it reads (no pause, no EOF yet; an owner attaches its protocol before
 * the loop polls again), or it has bytes queued to send (it is polled for writing, and the
 * send fails), or it is closing (flushing). Otherwise nothing polls the socket and the RST
 * waits in the kernel until the end writes (the send fails, weir__flow_notice_rst) or
 * resumes reading. */
static inline bool weir__end_watching(const sim_end *e) {
    return (e->handed && !e->reading_paused && !e->eof_in) || e->closing ||
           weir__wbuf_size(&e->wbuf) > 0 || e->c->flow[e->index].staged > 0;
}

int weir__conn_new(simnet *net, sim_host *client, sim_host *server, int port, sim_conn **out);
/* Free c now, whatever its state (the network is going, or set-up failed). */
void weir__conn_destroy(sim_conn *c);
/* Free c if nothing refers to it any more. */
void weir__conn_maybe_free(sim_conn *c);
/* The end is finished: connection_lost(error) follows on a later tick. */
void weir__end_lose(sim_end *e, int error);
/* An RST reached e and was noticed: connection_lost(error) (WEIR_ECONNRESET, or WEIR_EPIPE
 * when it came after the peer's FIN and e had not sent its own: Linux's CLOSE_WAIT). */
void weir__end_reset(sim_end *e, int error);
/* A clean close has flushed: FIN (or RST if bytes went unread) and connection_lost(0). */
void weir__end_flushed(sim_end *e);
/* Hand e to its owner: events held back for lack of a protocol may now be delivered. */
void weir__end_hand(sim_end *e);
void weir__event_init(sim_event *ev, sim_conn *c, void (*fn)(void *), void *arg);
void weir__event_schedule(sim_event *ev);
void weir__event_cancel(sim_event *ev);

/* --- the network (net.c) ------------------------------------------------------------ */

typedef enum bind_kind {
    BIND_ANY,      /* every address of the host, its name and its loopback */
    BIND_ADDR,     /* one address of the host */
    BIND_LOOPBACK, /* the host's loopback only */
} bind_kind;

struct sim_listener {
    simnet *net;
    sim_host *host;
    bind_kind bind;
    const sim_addr *addr; /* BIND_ADDR */
    int family;           /* BIND_LOOPBACK: AF_INET or AF_INET6 */
    int port;             /* 0 for a Unix socket */
    char *path;           /* Unix socket path, or NULL */
    int backlog;
    weir_accept_fn on_accept;
    void *arg;
    sim_conn *pending_head, *pending_tail; /* established, not yet handed to on_accept */
    int npending;
    weir_timer timer; /* hands the pending connections over */
    char **texts;     /* listener_addresses */
    size_t ntexts;
    bool accepting; /* inside on_accept: a close there must not free us yet */
    bool closed;
    sim_listener *prev, *next;
};

struct weir__simnet {
    weir_sim *s;
    sim_host **hosts; /* hosts[0] is the implicit "localhost" */
    size_t nhosts, cap_hosts;
    link_rule *links;
    size_t nlinks, cap_links;
    sim_fault **faults;
    size_t nfaults, cap_faults;
    sim_listener *listeners;
    sim_conn *conns;
    uint64_t next_conn; /* ids of connections made so far */
};

static inline weir_loop *weir__net_loop(simnet *net) { return net->s->loop; }
static inline int64_t weir__net_now(simnet *net) { return net->s->now; }

/* Record an event of c in the trace. */
static inline void weir__conn_record(sim_conn *c, weir__trace_kind kind, int dir, int64_t a,
                                     int64_t b, const uint8_t *data, size_t len, const char *note) {
    weir__trace_rec r = {.kind = kind,
                         .conn = c->id,
                         .dir = dir,
                         .a = a,
                         .b = b,
                         .data = data,
                         .len = len,
                         .note = note};
    weir__sim_record(c->net->s, &r);
}

/* The delivery of a data segment: recorded for every segment, so hashed inline. */
static inline WEIR__ALWAYS_INLINE void weir__conn_record_delivery(sim_conn *c, int dir,
                                                                  const uint8_t *data, size_t len) {
    weir__sim_record_inline(c->net->s, WEIR__TR_DELIVER, c->id, dir, (int64_t)len, 0, NULL, 0, data,
                            len);
}

#endif
