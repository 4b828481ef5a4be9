/* core/mempipe.c - an in-memory connection: two transports joined back to back.
 *
 * Each direction is a flow: the sender's write queue (a weir__wbuf, unbounded, with the
 * usual watermarks) feeds a buffer of `capacity` bytes "on the wire", which stands for the
 * kernel's socket buffers. A write goes straight onto the wire when the queue is empty (as
 * asyncio's transports try send() first), so a sender can have capacity + high bytes out
 * before it is paused. The wire is handed to the peer on a later tick, never inside write():
 * all of it in one data_received per tick (like one recv()), unless the receiver has paused
 * reading, in which case it waits. After each delivery the queue refills the wire.
 *
 * "A later tick" is weir_call_soon: in FIFO order with ready tasks, so a task woken by a
 * delivery runs before the next delivery, as in asyncio. A queued call cannot be taken back,
 * so the pipe counts the calls it has queued and is freed only when both ends are freed and
 * the last call has run (weir_loop_free runs what is queued, so nothing leaks). If call_soon
 * has no memory, a timer due now stands in: timers can be stopped, so they need no count.
 *
 * Closing follows an AF_UNIX socketpair through the socket transport (net/sock.c):
 *   write_eof  FIN after the queued bytes: the peer's eof_received, then it may write back.
 *   close      the same FIN; this end stops receiving (bytes sent to it are dropped) and gets
 *              connection_lost(0) once its queue has moved onto the wire (its socket is
 *              closed then). The peer reads the EOF, or, if bytes it had sent were dropped
 *              unread, a reset (WEIR_ECONNRESET, after the bytes in front of it), as Linux
 *              does when a socket is closed with unread data. A write of the peer's after
 *              that fails to send: the write succeeds, as asyncio's does, and the peer gets
 *              connection_lost(WEIR_EPIPE), so drain and reads fail; so does a queue it is
 *              still sending then, unless the peer is reading (the read comes first).
 *   abort      the queue and the bytes in flight are dropped; this end gets
 *              connection_lost(0), the peer connection_lost(WEIR_ECONNRESET).
 * Every event reaches a protocol from a callback on a later tick, never from inside the call
 * that caused it. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/stream_internal.h"
#include "core/wbuf.h"

#define DEFAULT_CAPACITY 65536

static const char *const end_names[2] = {"mem:0", "mem:1"};

typedef struct mempipe mempipe;

/* Something to do on a later tick: one delivery of a flow, or one connection_lost. */
typedef struct event {
    mempipe *pipe;
    void (*fn)(void *arg);
    void *arg;
    bool queued;      /* a weir_call_soon for it is outstanding */
    weir_timer timer; /* the stand-in when call_soon has no memory */
} event;

/* Bytes in flight from end[i] to end[1 - i]. */
typedef struct flow {
    uint8_t *wire; /* capacity bytes; the first len are in flight */
    size_t len;
    bool busy;          /* inside the receiver's data_received: the wire must not be refilled */
    bool fin;           /* the sender shut its write side: EOF follows the bytes */
    bool fin_delivered; /* eof_received was called (or there is nobody left to tell) */
    bool reset;         /* the sender closed with bytes unread: a reset, not an EOF, ends it */
    event delivery;
} flow;

typedef struct pipe_end {
    weir_transport t; /* first: the ops get &t back */
    mempipe *pipe;
    int index;
    weir__wbuf wbuf;     /* written, not yet in flight */
    bool write_closed;   /* write_eof, close or abort: write() fails with WEIR_ECLOSED */
    bool closing;        /* close or abort: nothing more is received */
    bool reading_paused; /* pause_reading */
    bool lost;           /* connection_lost is scheduled (or delivered): the end is finished */
    int lost_error;
    bool freed; /* ops->free: the protocol is gone */
    event lost_event;
    const char *sockname, *peername;
} pipe_end;

struct mempipe {
    weir_loop *loop;
    size_t capacity;
    pipe_end end[2];
    flow flow[2]; /* flow[i]: from end[i] */
    int refs;     /* ends not yet freed */
    int queued;   /* events queued with weir_call_soon and not yet run */
};

static pipe_end *end_of(weir_transport *t) { return (pipe_end *)t; }
static pipe_end *peer_of(pipe_end *e) { return &e->pipe->end[1 - e->index]; }
static flow *out_flow(pipe_end *e) { return &e->pipe->flow[e->index]; }

static weir_protocol *protocol_of(pipe_end *e) {
    return e->t.protocol && e->t.protocol->ops ? e->t.protocol : NULL;
}

/* Whether bytes may still be handed to e. */
static bool receiving(const pipe_end *e) { return !e->closing && !e->lost && !e->freed; }

/* Whether e still reads what its peer sends (as the socket transport polls for reading):
 * receiving, not paused, and the peer's flow not ended yet. */
static bool reading(pipe_end *e) {
    return receiving(e) && !e->reading_paused && !out_flow(peer_of(e))->fin_delivered;
}

/* The peer's socket is closed (its close has completed, or it is gone): a send fails. */
static bool peer_gone(pipe_end *e) { return peer_of(e)->lost; }

/* --- the wire ----------------------------------------------------------------------- */

/* Put as much of data on s's wire as fits; returns how much did. */
static size_t wire_push(mempipe *p, flow *f, const uint8_t *data, size_t len) {
    size_t room = p->capacity - f->len;
    size_t n = len < room ? len : room;
    memcpy(f->wire + f->len, data, n);
    f->len += n;
    return n;
}

/* --- scheduling --------------------------------------------------------------------- */

static void pipe_destroy(mempipe *p);

static void event_init(event *ev, mempipe *p, void (*fn)(void *), void *arg) {
    ev->pipe = p;
    ev->fn = fn;
    ev->arg = arg;
}

static bool event_pending(const event *ev) { return ev->queued || weir_timer_armed(&ev->timer); }

static void event_soon(void *arg) {
    event *ev = arg;
    mempipe *p = ev->pipe;
    ev->queued = false;
    p->queued--;
    if (p->refs == 0) {
        /* Both ends are gone: only the memory is left to release. */
        if (p->queued == 0) pipe_destroy(p);
        return;
    }
    ev->fn(ev->arg);
}

static void event_timer(weir_timer *timer, void *arg) {
    (void)timer;
    event *ev = arg;
    ev->fn(ev->arg);
}

static void event_schedule(event *ev) {
    if (event_pending(ev)) return;
    mempipe *p = ev->pipe;
    if (weir_call_soon(p->loop, event_soon, ev) == 0) {
        ev->queued = true;
        p->queued++;
    } else {
        weir_timer_start(p->loop, &ev->timer, weir_loop_now(p->loop), event_timer, ev);
    }
}

static void deliver(void *arg);
static void report_lost(void *arg);

static bool fin_pending(const pipe_end *s, const flow *f) {
    return f->fin && !f->fin_delivered && f->len == 0 && weir__wbuf_size(&s->wbuf) == 0;
}

/* Arrange for s's flow to be delivered on a later tick, if there is anything to do: bytes or
 * an EOF for a receiver that takes them, or bytes to drop for one that no longer does. */
static void schedule_delivery(pipe_end *s) {
    flow *f = out_flow(s);
    pipe_end *r = peer_of(s);
    if (f->len == 0 && !fin_pending(s, f)) return;
    if (receiving(r) && r->reading_paused) return; /* resume_reading will call us */
    event_schedule(&f->delivery);
}

/* The end is finished: connection_lost(error) follows on a later tick. */
static void lose(pipe_end *e, int error) {
    if (e->lost) return;
    e->lost = true;
    e->lost_error = error;
    weir__wbuf_clear(&e->wbuf);
    if (!e->freed) event_schedule(&e->lost_event);
}

static void report_lost(void *arg) {
    pipe_end *e = arg;
    weir_protocol *proto = protocol_of(e);
    if (proto && proto->ops->connection_lost) proto->ops->connection_lost(proto, e->lost_error);
}

/* Move queued bytes of s onto its wire, as far as they fit. */
static void pump(pipe_end *s) {
    flow *f = out_flow(s);
    mempipe *p = s->pipe;
    if (weir__wbuf_size(&s->wbuf) > 0 && peer_gone(s) && !s->lost && !reading(s)) {
        /* Sending to a closed socket fails (EPIPE). An end that reads would find the peer's
         * EOF or reset first: deliver() decides for it. */
        lose(s, WEIR_EPIPE);
        return;
    }
    while (!f->busy && f->len < p->capacity && weir__wbuf_size(&s->wbuf) > 0) {
        weir_bytes front = weir__wbuf_front(&s->wbuf);
        size_t n = wire_push(p, f, front.data, front.len);
        /* May call resume_writing, which may write again: loop on the fresh state. */
        weir__wbuf_consume(&s->wbuf, n);
    }
    /* A close completes once the queue is in flight, as asyncio's does once it is sent. */
    if (s->closing && weir__wbuf_size(&s->wbuf) == 0) lose(s, 0);
}

/* A flow's event: hand the receiver what is on the wire, then the EOF if it is due. */
static void deliver(void *arg) {
    pipe_end *s = arg;
    flow *f = out_flow(s);
    pipe_end *r = peer_of(s);
    if (!receiving(r)) {
        /* Bytes dropped by an end that closed were never read: its socket closes with unread
         * data, which resets the sender's reads (after what is in front). */
        if (f->len > 0 && r->closing) out_flow(r)->reset = true;
        f->len = 0;
        f->fin_delivered = f->fin;
    } else if (!r->reading_paused) {
        weir_protocol *proto = protocol_of(r);
        if (f->len > 0) {
            size_t n = f->len;
            /* Taken before the call: nothing refills the wire while busy, so the bytes stay
             * intact, and a protocol that aborts meanwhile finds an empty wire. */
            f->len = 0;
            if (proto && proto->ops->data_received) {
                f->busy = true;
                proto->ops->data_received(proto, f->wire, n);
                f->busy = false;
            }
        }
        if (fin_pending(s, f) && receiving(r) && !r->reading_paused) {
            f->fin_delivered = true;
            if (f->reset) {
                lose(r, WEIR_ECONNRESET);
            } else {
                bool keep_open = true;
                if (proto && proto->ops->eof_received) keep_open = proto->ops->eof_received(proto);
                if (!keep_open) r->t.ops->close(&r->t);
                /* Then the queue it is still sending fails, if s's socket is closed. */
                if (!r->lost && !r->freed) pump(r);
            }
        }
    }
    pump(s);
    schedule_delivery(s);
}

/* --- transport ops ------------------------------------------------------------------ */

static int pipe_write(weir_transport *t, const void *data, size_t len) {
    pipe_end *s = end_of(t);
    if (s->write_closed) return WEIR_ECLOSED;
    if (len == 0) return WEIR_OK;
    if (!data) return WEIR_EINVAL;
    if (s->lost) return WEIR_ECONNLOST;
    if (peer_gone(s)) {
        /* The send fails with EPIPE. As asyncio's transport, the write itself succeeds; the
         * loss reaches the protocol through connection_lost. */
        lose(s, WEIR_EPIPE);
        return WEIR_OK;
    }
    flow *f = out_flow(s);
    size_t n = 0;
    if (weir__wbuf_size(&s->wbuf) == 0 && !f->busy) n = wire_push(s->pipe, f, data, len);
    int rc = weir__wbuf_append(&s->wbuf, (const uint8_t *)data + n, len - n);
    if (rc) {
        f->len -= n; /* undo: the bytes just pushed are the wire's newest */
        return rc;
    }
    schedule_delivery(s);
    return WEIR_OK;
}

static int pipe_write_eof(weir_transport *t) {
    pipe_end *s = end_of(t);
    if (s->write_closed || s->lost) return WEIR_OK;
    s->write_closed = true;
    out_flow(s)->fin = true;
    schedule_delivery(s);
    return WEIR_OK;
}

static bool pipe_can_write_eof(weir_transport *t) {
    (void)t;
    return true;
}

static void pipe_close(weir_transport *t) {
    pipe_end *e = end_of(t);
    bool was = e->closing || e->lost;
    e->closing = true;
    e->write_closed = true;
    if (was) return;
    out_flow(e)->fin = true;
    /* Whatever the peer has in flight to us is dropped from now on. */
    schedule_delivery(peer_of(e));
    if (weir__wbuf_size(&e->wbuf) == 0) lose(e, 0);
    schedule_delivery(e);
}

static void pipe_abort(weir_transport *t) {
    pipe_end *e = end_of(t);
    e->closing = true;
    e->write_closed = true;
    if (e->lost) return; /* already finished: a flushed close has nothing left to drop */
    flow *f = out_flow(e);
    f->len = 0;
    f->fin = f->fin_delivered = true; /* a reset is not an EOF */
    weir__wbuf_clear(&e->wbuf);
    pipe_end *peer = peer_of(e);
    if (!peer->lost) {
        flow *back = out_flow(peer);
        back->len = 0;
        back->fin_delivered = true;
        lose(peer, WEIR_ECONNRESET);
    }
    lose(e, 0);
}

static bool pipe_is_closing(weir_transport *t) {
    pipe_end *e = end_of(t);
    return e->closing || e->lost;
}

static void pipe_pause_reading(weir_transport *t) { end_of(t)->reading_paused = true; }

static void pipe_resume_reading(weir_transport *t) {
    pipe_end *e = end_of(t);
    if (!e->reading_paused) return;
    e->reading_paused = false;
    schedule_delivery(peer_of(e));
}

static size_t pipe_write_buffer_size(weir_transport *t) {
    return weir__wbuf_size(&end_of(t)->wbuf);
}

static int pipe_set_limits(weir_transport *t, size_t high, size_t low) {
    return weir__wbuf_set_limits(&end_of(t)->wbuf, high, low);
}

static void pipe_get_limits(weir_transport *t, size_t *high, size_t *low) {
    weir__wbuf_get_limits(&end_of(t)->wbuf, high, low);
}

static int pipe_get_extra_info(weir_transport *t, const char *name, weir_extra *out) {
    pipe_end *e = end_of(t);
    const char *str = NULL;
    if (name && strcmp(name, "sockname") == 0) str = e->sockname;
    if (name && strcmp(name, "peername") == 0) str = e->peername;
    if (!str) return WEIR_ENOENT;
    *out = (weir_extra){.kind = WEIR_EXTRA_STR, .str = str, .len = strlen(str)};
    return WEIR_OK;
}

static void pipe_destroy(mempipe *p) {
    for (int i = 0; i < 2; i++) free(p->flow[i].wire);
    free(p);
}

static void pipe_free(weir_transport *t) {
    pipe_end *e = end_of(t);
    if (e->freed) return;
    if (!e->lost) pipe_abort(t);
    mempipe *p = e->pipe;
    e->freed = true;
    e->t.protocol = NULL;
    weir_timer_stop(p->loop, &e->lost_event.timer);
    weir__wbuf_free(&e->wbuf);
    if (--p->refs > 0) return; /* the peer may still receive what we sent */
    for (int i = 0; i < 2; i++) weir_timer_stop(p->loop, &p->flow[i].delivery.timer);
    /* Queued calls still point at the pipe: the last of them frees it. */
    if (p->queued == 0) pipe_destroy(p);
}

static const weir_transport_ops pipe_ops = {
    .name = "mempipe",
    .write = pipe_write,
    .write_eof = pipe_write_eof,
    .can_write_eof = pipe_can_write_eof,
    .close = pipe_close,
    .abort = pipe_abort,
    .is_closing = pipe_is_closing,
    .pause_reading = pipe_pause_reading,
    .resume_reading = pipe_resume_reading,
    .write_buffer_size = pipe_write_buffer_size,
    .set_write_buffer_limits = pipe_set_limits,
    .get_write_buffer_limits = pipe_get_limits,
    .get_extra_info = pipe_get_extra_info,
    .free = pipe_free,
};

/* --- construction ------------------------------------------------------------------- */

int weir__mempipe_new(weir_loop *loop, size_t capacity, weir_transport *ends[2]) {
    if (!ends) return WEIR_EINVAL;
    ends[0] = ends[1] = NULL;
    if (!loop) return WEIR_EINVAL;
    if (capacity == 0) capacity = DEFAULT_CAPACITY;
    mempipe *p = calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    p->loop = loop;
    p->capacity = capacity;
    p->refs = 2;
    for (int i = 0; i < 2; i++) {
        p->flow[i].wire = malloc(capacity);
        if (!p->flow[i].wire) {
            free(p->flow[0].wire);
            free(p);
            return WEIR_ENOMEM;
        }
    }
    for (int i = 0; i < 2; i++) {
        pipe_end *e = &p->end[i];
        e->t.ops = &pipe_ops;
        e->pipe = p;
        e->index = i;
        weir__wbuf_init(&e->wbuf, &e->t);
        event_init(&e->lost_event, p, report_lost, e);
        event_init(&p->flow[i].delivery, p, deliver, e);
        e->sockname = end_names[i];
        e->peername = end_names[1 - i];
        ends[i] = &e->t;
    }
    return WEIR_OK;
}

int weir_stream_pair(weir_loop *loop, const weir_pair_opts *opts, weir_reader *r[2],
                     weir_writer *w[2]) {
    if (r) r[0] = r[1] = NULL;
    if (w) w[0] = w[1] = NULL;
    if (!loop || !r || !w) return WEIR_EINVAL;
    size_t capacity = opts ? opts->capacity : 0;
    int64_t limit = opts && opts->limit ? opts->limit : WEIR_DEFAULT_LIMIT;
    if (limit <= 0) return WEIR_EINVAL;
    weir_transport *t[2];
    int rc = weir__mempipe_new(loop, capacity, t);
    if (rc) return rc;
    rc = weir_stream_open(loop, t[0], limit, &r[0], &w[0]);
    if (rc == 0) rc = weir_stream_open(loop, t[1], limit, &r[1], &w[1]);
    if (rc) {
        /* Each end goes with its writer if it has one, else on its own. */
        if (w[0])
            weir_writer_free(w[0]);
        else
            t[0]->ops->free(t[0]);
        t[1]->ops->free(t[1]);
        r[0] = r[1] = NULL;
        w[0] = w[1] = NULL;
    }
    return rc;
}
