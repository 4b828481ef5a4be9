/* sim/flow.c - one direction of a simulated connection.
 *
 * The sender's transport queues what the program writes (a weir__wbuf, with its
 * watermarks). The flow takes bytes from that queue and cuts them into segments while the
 * window has room: the window is the bytes in flight plus the bytes that have arrived and
 * not been handed to the receiver, i.e. the receiver's socket buffer. A receiver that
 * pauses reading stops taking bytes, the window fills, the sender's queue grows past its
 * high watermark and drain() blocks: TCP's end-to-end flow control, and the reason a
 * receiver that never reads costs at most a window of memory.
 *
 * Each segment's size is drawn from the link's range, capped by what is queued and by the
 * window. Its arrival time is
 *
 *     start  = max(now, when the link finished sending the previous segment)
 *     done   = start + ceil(len * 1e9 / bandwidth)          (bandwidth 0: done = start)
 *     at     = max(arrival of the previous segment, done + latency + jitter)
 *
 * with jitter drawn per segment, so segments never overtake each other. FIN and RST are
 * segments without bytes and arrive the same way, in order.
 *
 * Delivery is a timer per flow at the head segment's arrival: each due segment is one
 * data_received call. An RST is handled one tick after the bytes it follows, so a task
 * woken by those bytes reads them before the reset discards what is left unread.
 *
 * An RST is noticed when the poll transport (net/sock.c) would notice it. An end that reads
 * gets the bytes in front of it first, as recv() returns them before the error. An end that
 * does not read (paused, or its EOF has come) but has bytes queued is polled for writing:
 * the send fails at once and what waited unread is lost. An end that is not watched at all
 * keeps the RST, as the kernel does, until it writes (weir__flow_notice_rst: the send fails)
 * or resumes reading (the bytes that waited, then the reset). Linux reports an RST after the
 * peer's FIN, on an end that has not sent its own, as EPIPE (CLOSE_WAIT), else ECONNRESET.
 * Bytes that reach an end after it closed are discarded, and one that closed cleanly
 * answers with an RST, as TCP does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net_internal.h"

static sim_end *sender(sim_flow *f) { return &f->c->end[f->dir]; }
static sim_end *receiver(sim_flow *f) { return &f->c->end[1 - f->dir]; }
static weir_sim *sim_of(sim_flow *f) { return f->c->net->s; }

/* --- the segment ring --------------------------------------------------------------- */

static sim_seg *seg_at(sim_flow *f, size_t i) {
    size_t j = f->shead + i;
    return &f->segs[j < f->scap ? j : j - f->scap];
}

/* Double the ring (out of line: the common push does not grow it). */
static __attribute__((noinline)) bool seg_grow(sim_flow *f) {
    size_t cap = f->scap ? f->scap * 2 : 16;
    sim_seg *segs = malloc(cap * sizeof *segs);
    if (!segs) return false;
    for (size_t i = 0; i < f->nsegs; i++) segs[i] = *seg_at(f, i);
    free(f->segs);
    f->segs = segs;
    f->scap = cap;
    f->shead = 0;
    return true;
}

/* A new slot at the tail, or NULL without memory. */
static inline sim_seg *seg_push(sim_flow *f, seg_kind kind, int64_t at, uint64_t pos, size_t len) {
    if (f->nsegs == f->scap && !seg_grow(f)) return NULL;
    size_t i = f->shead + f->nsegs;
    if (i >= f->scap) i -= f->scap;
    sim_seg *seg = &f->segs[i];
    seg->at = at;
    seg->pos = pos;
    seg->len = len;
    seg->kind = kind;
    f->nsegs++;
    return seg;
}

static void seg_pop(sim_flow *f) {
    if (++f->shead == f->scap) f->shead = 0;
    f->nsegs--;
}

/* --- the byte buffer ---------------------------------------------------------------- */

/* Make room by moving the bytes to the front, or into a bigger block. */
static __attribute__((noinline)) int buf_make_room(sim_flow *f, size_t extra) {
    size_t used = f->len + f->staged;
    size_t need = used + extra;
    if (need <= f->cap) {
        memmove(f->buf, f->buf + f->off, used);
        f->off = 0;
        return WEIR_OK;
    }
    /* Grow by doubling: the buffer never needs more than the window (plus one segment). */
    size_t cap = f->cap ? f->cap * 2 : 4096;
    if (cap < need) cap = need;
    uint8_t *buf = malloc(cap);
    if (!buf) return WEIR_ENOMEM;
    if (used) memcpy(buf, f->buf + f->off, used);
    free(f->buf);
    f->buf = buf;
    f->cap = cap;
    f->off = 0;
    return WEIR_OK;
}

/* Room for `extra` more bytes after the in-flight and staged ones. Never called while a
 * data_received call holds a pointer into the buffer (f->busy). */
static inline int buf_reserve(sim_flow *f, size_t extra) {
    if (f->off + f->len + f->staged + extra <= f->cap) return WEIR_OK;
    return buf_make_room(f, extra);
}

/* --- timing ------------------------------------------------------------------------- */

static int64_t tx_time(int64_t bandwidth, size_t len) {
    if (bandwidth <= 0 || len == 0) return 0;
#ifdef __SIZEOF_INT128__
    unsigned __int128 ns =
        ((unsigned __int128)len * 1000000000u + (uint64_t)bandwidth - 1) / (uint64_t)bandwidth;
    return ns > (unsigned __int128)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ns;
#else
    long double ns = (long double)len * 1e9L / (long double)bandwidth;
    int64_t whole = (int64_t)ns;
    return whole + ((long double)whole < ns);
#endif
}

static int64_t add_sat(int64_t a, int64_t b) { return a > WEIR_FOREVER - b ? WEIR_FOREVER : a + b; }

/* When a segment of len bytes cut now arrives (draws its jitter). */
static int64_t arrival(sim_flow *f, size_t len) {
    int64_t now = weir__net_now(f->c->net);
    int64_t start = f->busy_until > now ? f->busy_until : now;
    int64_t done = add_sat(start, tx_time(f->bandwidth, len));
    f->busy_until = done;
    weir_sim_range j = f->jitter;
    int64_t jitter = j.hi > j.lo ? weir__sim_range_lit(sim_of(f), "jitter", j) : j.lo;
    int64_t at = add_sat(add_sat(done, f->latency), jitter);
    if (at < f->last_at) at = f->last_at;
    f->last_at = at;
    return at;
}

/* --- sending ------------------------------------------------------------------------ */

/* The staged bytes' first n pass: they become a segment in flight. */
static void send_data(sim_flow *f, size_t n) {
    int64_t at = arrival(f, n);
    if (!seg_push(f, SEG_DATA, at, f->sent, n)) {
        /* No memory for the bookkeeping: the bytes are lost, as on a link that drops them,
         * and the trace says so. */
        f->staged -= n;
        memmove(f->buf + f->off + f->len, f->buf + f->off + f->len + n, f->staged);
        weir__conn_record(f->c, WEIR__TR_DROP, f->dir, (int64_t)n, 0, NULL, 0, "no memory");
        return;
    }
    /* Not recorded: the delivery is (with its bytes), and the draws that decided the size
     * and the time are; a record per segment sent would double the trace's cost. */
    f->len += n;
    f->staged -= n;
    f->sent += n;
}

static void send_marker(sim_flow *f, seg_kind kind, int64_t extra_delay) {
    int64_t at = add_sat(arrival(f, 0), extra_delay);
    if (at > f->last_at) f->last_at = at;
    const char *what = kind == SEG_FIN ? "fin" : "rst";
    if (!seg_push(f, kind, at, f->sent, 0)) {
        weir__conn_record(f->c, WEIR__TR_DROP, f->dir, 0, 0, NULL, 0, what);
        return;
    }
    if (kind == SEG_RST) f->rst_at = at;
    char ms[32], note[64];
    snprintf(note, sizeof note, "%s, arrives at %sms", what, weir__sim_fmt_ms(ms, at));
    weir__conn_record(f->c, WEIR__TR_SEND, f->dir, 0, 0, NULL, 0, note);
}

void weir__flow_send_fin(sim_flow *f) {
    if (f->fin_queued || f->rst_queued || f->stalled) return;
    f->fin_queued = true;
    send_marker(f, SEG_FIN, f->fin_delay);
    weir__flow_kick(f);
}

void weir__flow_send_rst(sim_flow *f) {
    if (f->rst_queued || f->stalled) return;
    f->rst_queued = true;
    /* Nothing follows an RST. */
    f->dropping = true;
    f->staged = 0;
    send_marker(f, SEG_RST, 0);
    weir__flow_kick(f);
}

/* Copy n bytes from the front of the sender's queue into the buffer after the staged ones.
 * The queue may span chunks. Consuming may call resume_writing, and a protocol may write
 * from there (that only appends while we pump) or even abort (the queue empties and the
 * flow drops: the caller checks). */
static void stage_from_queue(sim_flow *f, size_t n) {
    weir__wbuf *q = &sender(f)->wbuf;
    while (n > 0 && !f->dropping) {
        weir_bytes front = weir__wbuf_front(q);
        if (front.len == 0) break;
        size_t k = front.len < n ? front.len : n;
        memcpy(f->buf + f->off + f->len + f->staged, front.data, k);
        f->staged += k;
        n -= k;
        weir__wbuf_consume(q, k);
    }
}

static size_t queued_bytes(sim_flow *f) { return f->staged + weir__wbuf_size(&sender(f)->wbuf); }

static void drop_queued(sim_flow *f) {
    weir__wbuf *q = &sender(f)->wbuf;
    size_t n = queued_bytes(f);
    f->staged = 0;
    if (weir__wbuf_size(q)) weir__wbuf_consume(q, weir__wbuf_size(q));
    weir__conn_record(f->c, WEIR__TR_DROP, f->dir, (int64_t)n, 0, NULL, 0,
                      f->drop_why ? f->drop_why : "not sent");
}

/* How many bytes the next segment carries: drawn from the link's range, within `cap`. */
static size_t segment_size(sim_flow *f, size_t cap) {
    weir_sim_range r = f->segment;
    if (r.hi == 0 || (uint64_t)r.lo >= cap) return cap;
    if ((uint64_t)r.hi > cap) r.hi = (int64_t)cap;
    return (size_t)weir__sim_range_lit(sim_of(f), "segment", r);
}

/* Cut and send what is queued, as far as window and faults allow, without looking at the
 * delivery timer. false: it did not run (a pump is already running and will see the new
 * bytes, or data_received holds the buffer), and nothing changed. */
static bool pump(sim_flow *f) {
    if (f->pumping || f->busy) return false;
    sim_end *s = sender(f);
    f->pumping = true;
    for (;;) {
        size_t queued = queued_bytes(f);
        if (queued == 0) break;
        if (f->dropping) {
            drop_queued(f);
            continue;
        }
        size_t window = f->window;
        size_t room = window > f->len ? window - f->len : 0;
        if (room == 0) break;
        size_t n = segment_size(f, queued < room ? queued : room);
        if (f->staged < n) {
            if (buf_reserve(f, n - f->staged) != 0) break; /* try again on the next pump */
            stage_from_queue(f, n - f->staged);
            if (f->dropping) continue;
            if (f->staged < n) n = f->staged;
            if (n == 0) continue;
        }
        const uint8_t *p = f->buf + f->off + f->len;
        size_t cut = f->nfaults ? weir__faults_cut(f, p, n) : n;
        if (cut == 0) {
            /* A fault fires before the first byte: fire it, then look again (it has fired,
             * so it does not stop the next cut). */
            weir__faults_check(f);
            continue;
        }
        send_data(f, cut);
        /* p still points at the bytes just sent: sending moves no bytes. */
        if (f->nfaults) weir__faults_passed(f, p, cut);
    }
    f->pumping = false;
    if (queued_bytes(f) == 0) {
        if (f->fin_wanted && !s->closing) weir__flow_send_fin(f);
        if (s->closing && !s->lost) weir__end_flushed(s);
    }
    return true;
}

void weir__flow_pump(sim_flow *f) {
    if (pump(f)) weir__flow_kick(f);
}

bool weir__flow_write(sim_flow *f, const void *data, size_t len) {
    const weir__wbuf *q = &sender(f)->wbuf;
    if (f->pumping || f->busy || f->dropping || f->nfaults || f->staged || q->size || q->paused ||
        len > q->high)
        return false;
    size_t room = f->window > f->len ? f->window - f->len : 0;
    if (len > room || buf_reserve(f, len) != 0) return false;
    memcpy(f->buf + f->off + f->len, data, len);
    f->staged = len;
    weir__flow_pump(f);
    return true;
}

void weir__flow_drop_sender(sim_flow *f, const char *why) {
    if (!f->dropping) f->drop_why = why;
    f->dropping = true;
    /* Inside a pump the loop sees the flag and drops the rest itself. */
    if (!f->pumping) weir__flow_pump(f);
}

void weir__flow_drop_from(sim_flow *f, uint64_t pos, const char *why) {
    size_t bytes = 0;
    while (f->nsegs) {
        sim_seg *tail = seg_at(f, f->nsegs - 1);
        if (tail->pos < pos) break;
        if (tail->kind == SEG_DATA) {
            f->len -= tail->len;
            bytes += tail->len;
        }
        if (tail->kind == SEG_RST) f->rst_at = -1;
        f->nsegs--;
    }
    /* Staged bytes came after everything in flight; they go too. */
    f->staged = 0;
    if (bytes) weir__conn_record(f->c, WEIR__TR_DROP, f->dir, (int64_t)bytes, 0, NULL, 0, why);
    weir__flow_kick(f);
}

/* A HOLD keeps segments on the link: they have not arrived, whatever their time. */
static bool held(const sim_flow *f, const sim_seg *s, int64_t now) {
    return f->hold_until != 0 && now < f->hold_until && s->pos >= f->hold_pos;
}

uint64_t weir__flow_arrived_pos(const sim_flow *f, int64_t now) {
    for (size_t i = 0; i < f->nsegs; i++) {
        const sim_seg *s = &f->segs[(f->shead + i) % f->scap];
        if (s->at > now || held(f, s, now)) return s->pos;
    }
    return f->sent;
}

size_t weir__flow_discard_arrived(sim_flow *f, int64_t now) {
    size_t n = 0;
    while (f->nsegs) {
        sim_seg *h = seg_at(f, 0);
        if (h->at > now || h->kind == SEG_RST || held(f, h, now)) break;
        if (h->kind == SEG_DATA) {
            f->off += h->len;
            f->len -= h->len;
            n += h->len;
        }
        seg_pop(f);
    }
    if (n) weir__conn_record(f->c, WEIR__TR_DROP, f->dir, (int64_t)n, 0, NULL, 0, "unread");
    return n;
}

/* --- delivering --------------------------------------------------------------------- */

/* What an RST on f is reported as: EPIPE when the sender's FIN came first (it cannot follow
 * an RST, and segments keep their order) and the receiver has not sent its own FIN, which is
 * Linux's CLOSE_WAIT; ECONNRESET otherwise. */
static int rst_error(sim_flow *f) {
    const sim_flow *back = &f->c->flow[1 - f->dir];
    return f->fin_queued && !back->fin_queued ? WEIR_EPIPE : WEIR_ECONNRESET;
}

bool weir__flow_notice_rst(sim_flow *f) {
    int64_t now = weir__net_now(f->c->net);
    sim_end *r = receiver(f);
    if (f->rst_at < 0 || f->rst_at > now || f->nsegs == 0 || r->lost || !r->handed) return false;
    const sim_seg *tail = seg_at(f, f->nsegs - 1);
    if (tail->kind != SEG_RST || held(f, tail, now)) return false;
    weir__flow_discard_arrived(f, WEIR_FOREVER); /* everything before the RST has arrived */
    seg_pop(f);
    f->rst_at = -1;
    weir__conn_record(f->c, WEIR__TR_RESET, f->dir, 0, 0, NULL, 0, NULL);
    weir__end_reset(r, rst_error(f));
    weir__flow_kick(f);
    return true;
}

/* When the head segment can next be looked at, or WEIR_FOREVER for "not by time". */
static int64_t next_time(sim_flow *f) {
    /* An RST waiting for its own tick: nothing can come before it, nothing follows it. */
    if (f->nsegs == 0 || f->rst_deferred) return WEIR_FOREVER;
    sim_end *r = receiver(f);
    const sim_seg *h = seg_at(f, 0);
    int64_t when = h->at;
    bool discarding = r->closing || r->lost;
    if (!discarding && !weir__end_ready(r)) {
        /* Paused (or not accepted yet): only an RST can get through, and only to an end
         * that has an owner to tell. */
        if (f->rst_at < 0 || !r->handed) return WEIR_FOREVER;
        when = f->rst_at;
        h = seg_at(f, f->nsegs - 1);
    }
    if (f->hold_until != 0 && h->pos >= f->hold_pos && when < f->hold_until) when = f->hold_until;
    /* An RST that has arrived at an end nothing watches waits for a write or a resume. */
    if (h->kind == SEG_RST && !r->lost && when <= weir__net_now(f->c->net) &&
        !weir__end_watching(r))
        return WEIR_FOREVER;
    return when;
}

static void flow_timer(weir_timer *timer, void *arg);

void weir__flow_kick(sim_flow *f) {
    weir_loop *loop = weir__net_loop(f->c->net);
    if (!loop) return;
    int64_t when = next_time(f);
    if (when == WEIR_FOREVER) {
        if (weir_timer_armed(&f->timer)) weir_timer_stop(loop, &f->timer);
        return;
    }
    if (weir_timer_armed(&f->timer) && f->timer.when == when) return;
    weir_timer_start(loop, &f->timer, when, flow_timer, f);
}

/* A segment reaches an end that no longer reads. */
static void discard_head(sim_flow *f, sim_end *r) {
    sim_seg h = *seg_at(f, 0);
    seg_pop(f);
    if (h.kind != SEG_DATA) return;
    f->off += h.len;
    f->len -= h.len;
    weir__conn_record(f->c, WEIR__TR_DROP, f->dir, (int64_t)h.len, 0, NULL, 0,
                      r->aborted ? "receiver gone" : "receiver closed");
    if (r->aborted) return;
    /* TCP: bytes for a socket that was closed are answered with an RST (once the FIN has
     * gone; until then the RST replaces it, see weir__end_flushed). */
    r->unread = true;
    sim_flow *back = &f->c->flow[r->index];
    if (back->fin_queued) weir__flow_send_rst(back);
}

static void deliver(sim_flow *f, bool rst_now) {
    sim_conn *c = f->c;
    sim_end *r = receiver(f);
    int64_t now = weir__net_now(c->net);
    bool gave = false;
    c->depth++;
    while (f->nsegs) {
        sim_seg *h = seg_at(f, 0);
        if (h->at > now || held(f, h, now)) break;
        if (h->kind == SEG_RST) {
            if (r->lost) {
                seg_pop(f);
                f->rst_at = -1;
                continue;
            }
            if (!r->handed || !weir__end_watching(r)) break; /* see weir__flow_notice_rst */
            if (gave && !rst_now) {
                f->rst_deferred = true;
                weir__event_schedule(&c->rst_event[f->dir]);
                break;
            }
            seg_pop(f);
            f->rst_at = -1;
            weir__conn_record(c, WEIR__TR_RESET, f->dir, 0, 0, NULL, 0, NULL);
            weir__end_reset(r, rst_error(f));
            continue;
        }
        if (r->closing || r->lost) {
            discard_head(f, r);
            continue;
        }
        if (!weir__end_ready(r)) {
            /* An RST that has arrived behind bytes a paused reader left, at an end polled for
             * writing: the send fails, and the bytes are never read. */
            sim_seg *tail = seg_at(f, f->nsegs - 1);
            if (r->handed && tail->kind == SEG_RST && tail->at <= now && !held(f, tail, now) &&
                weir__end_watching(r)) {
                weir__flow_discard_arrived(f, WEIR_FOREVER);
                continue;
            }
            break;
        }
        weir_protocol *proto = r->t.protocol;
        if (h->kind == SEG_DATA) {
            size_t n = h->len;
            const uint8_t *p = f->buf + f->off;
            seg_pop(f);
            f->off += n;
            f->len -= n;
            weir__conn_record_delivery(c, f->dir, p, n);
            gave = true;
            if (proto->ops->data_received) {
                f->busy = true;
                proto->ops->data_received(proto, p, n);
                f->busy = false;
            }
        } else {
            seg_pop(f);
            gave = true;
            r->eof_in = true; /* the transport stops reading: an RST now waits for a write */
            weir__conn_record(c, WEIR__TR_EOF, f->dir, 0, 0, NULL, 0, NULL);
            bool keep_open = true;
            if (proto->ops->eof_received) keep_open = proto->ops->eof_received(proto);
            if (!keep_open && !r->closing && !r->lost) r->t.ops->close(&r->t);
        }
    }
    if (f->len == 0 && f->staged == 0) f->off = 0;
    c->depth--;
    pump(f); /* the window has room again */
    weir__flow_kick(f);
    weir__conn_maybe_free(c);
}

static void flow_timer(weir_timer *timer, void *arg) {
    (void)timer;
    deliver(arg, false);
}

static void rst_event(void *arg) {
    sim_flow *f = arg;
    f->rst_deferred = false;
    deliver(f, true);
}

void weir__flow_init(sim_flow *f, sim_conn *c, int dir, const weir_sim_link *l) {
    memset(f, 0, sizeof *f);
    f->c = c;
    f->dir = dir;
    f->latency = l->latency;
    f->bandwidth = l->bandwidth;
    f->jitter = l->jitter;
    f->segment = l->segment;
    f->window = l->window ? l->window : WEIR__DEFAULT_WINDOW;
    f->rst_at = -1;
    weir__event_init(&c->rst_event[dir], c, rst_event, f);
}

void weir__flow_release(sim_flow *f) {
    weir_timer_stop(weir__net_loop(f->c->net), &f->timer);
    free(f->buf);
    free(f->segs);
    free(f->faults);
    f->buf = NULL;
    f->segs = NULL;
    f->faults = NULL;
    f->nsegs = f->scap = 0;
    f->nfaults = 0;
}
