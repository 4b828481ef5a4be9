/* tests/unit/test_mempipe.c - the in-memory connection (weir_stream_pair) end to end:
 * delivery on later ticks, flow control in both layers, half-close, close, abort, and
 * freeing with events still scheduled. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/stream_internal.h"
#include "tap.h"

#define HIGH WEIR_DEFAULT_HIGH_WATER
#define LOW WEIR_DEFAULT_LOW_WATER

typedef struct pair {
    weir_loop *loop;
    weir_reader *r[2];
    weir_writer *w[2];
} pair;

static pair pair_new(size_t capacity, int64_t limit) {
    pair p = {0};
    if (weir_loop_new_virtual(&p.loop)) abort();
    weir_pair_opts o = {.capacity = capacity, .limit = limit};
    if (weir_stream_pair(p.loop, &o, p.r, p.w)) abort();
    return p;
}

static void pair_free(pair *p) {
    weir_writer_free(p->w[0]);
    weir_writer_free(p->w[1]);
    weir_loop_free(p->loop);
}

/* The byte at offset i of the test stream: not periodic at any small length, so a lost,
 * doubled or reordered chunk shows. */
static uint8_t pattern(uint64_t i) {
    uint64_t x = i * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(x >> 56 ^ x >> 29 ^ i);
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* --- tasks -------------------------------------------------------------------------- */

typedef struct job {
    weir_writer *w;
    weir_reader *r;
    int rc;
    bool done;
    /* the bulk transfer */
    size_t total;
    size_t got;
    bool mismatch;
    size_t max_buffered; /* largest reader buffer seen */
    size_t max_queued;   /* largest writer queue seen after a drain */
    int waits;           /* drains called while paused */
    int pauses;          /* times the reader was seen paused */
    size_t seen;         /* the writer's queue when drain returned */
} job;

static int drain_task(void *arg) {
    job *j = arg;
    j->rc = weir_drain(j->w);
    j->seen = weir_writer_buffer_size(j->w);
    j->done = true;
    return 0;
}

static int wait_closed_task(void *arg) {
    job *j = arg;
    j->rc = weir_wait_closed(j->w);
    j->done = true;
    return 0;
}

/* Read exactly j->total bytes with varying read sizes, then expect EOF. */
static int bulk_reader(void *arg) {
    job *j = arg;
    uint32_t seed = 7;
    while (j->got < j->total) {
        size_t b = weir_reader_buffered(j->r);
        if (b > j->max_buffered) j->max_buffered = b;
        if (weir_reader_paused(j->r)) j->pauses++;
        weir_bytes v;
        int64_t n = 1 + (int64_t)(lcg(&seed) % 50000);
        int rc = (lcg(&seed) % 4 == 0 && n <= (int64_t)(j->total - j->got))
                     ? weir_readexactly(j->r, n, &v)
                     : weir_read(j->r, n, &v);
        if (rc) {
            j->rc = rc;
            return rc;
        }
        if (v.len == 0) break; /* early EOF: j->got < j->total shows it */
        for (size_t k = 0; k < v.len; k++)
            if (v.data[k] != pattern(j->got + k)) j->mismatch = true;
        j->got += v.len;
    }
    weir_bytes v;
    j->rc = weir_read(j->r, 1, &v);
    if (j->rc == 0 && (v.len != 0 || !weir_reader_at_eof(j->r))) j->rc = -999;
    j->done = true;
    return 0;
}

/* Write j->total bytes in chunks of varying size, draining after each, then write_eof. */
static int bulk_writer(void *arg) {
    job *j = arg;
    uint32_t seed = 99;
    uint8_t *buf = malloc(70000);
    size_t off = 0;
    while (off < j->total) {
        size_t n = 1 + lcg(&seed) % 70000;
        if (n > j->total - off) n = j->total - off;
        for (size_t k = 0; k < n; k++) buf[k] = pattern(off + k);
        int rc = weir_write(j->w, buf, n);
        if (weir_writer_buffer_size(j->w) > HIGH) j->waits++;
        if (rc == 0) rc = weir_drain(j->w);
        if (rc) {
            j->rc = rc;
            free(buf);
            return rc;
        }
        size_t q = weir_writer_buffer_size(j->w);
        if (q > j->max_queued) j->max_queued = q;
        off += n;
    }
    free(buf);
    j->rc = weir_write_eof(j->w);
    j->done = true;
    return 0;
}

static weir_task *spawn(weir_loop *loop, weir_task_fn fn, void *arg) {
    weir_task *t;
    if (weir_spawn(loop, fn, arg, NULL, &t)) abort();
    return t;
}

static int read_all(weir_reader *r, size_t n, uint8_t *out) {
    weir_bytes v;
    int rc = weir_readexactly(r, (int64_t)n, &v);
    if (rc == 0) memcpy(out, v.data, n);
    return rc;
}

/* --- tests -------------------------------------------------------------------------- */

/* --- the raw transports, under a recording protocol -------------------------------- */

typedef struct rec {
    weir_protocol p;
    uint8_t data[256];
    size_t n;
    int eofs, losts, lost_error, pauses, resumes;
    bool keep_open;
} rec;

static void rec_data(weir_protocol *p, const void *data, size_t len) {
    rec *r = (rec *)p;
    if (r->n + len <= sizeof r->data) memcpy(r->data + r->n, data, len);
    r->n += len;
}
static bool rec_eof(weir_protocol *p) {
    ((rec *)p)->eofs++;
    return ((rec *)p)->keep_open;
}
static void rec_lost(weir_protocol *p, int error) {
    ((rec *)p)->losts++;
    ((rec *)p)->lost_error = error;
}
static void rec_pause(weir_protocol *p) { ((rec *)p)->pauses++; }
static void rec_resume(weir_protocol *p) { ((rec *)p)->resumes++; }

static const weir_protocol_ops rec_ops = {
    .data_received = rec_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .pause_writing = rec_pause,
    .resume_writing = rec_resume,
};

static void test_raw_transport(void) {
    weir_loop *loop;
    weir_loop_new_virtual(&loop);
    weir_transport *t[2];
    is_int(weir__mempipe_new(loop, 16, t), 0, "mempipe_new, capacity 16");
    rec a = {.p.ops = &rec_ops, .keep_open = true}, b = {.p.ops = &rec_ops};
    t[0]->protocol = &a.p;
    t[1]->protocol = &b.p;

    is_int(t[0]->ops->write(t[0], "abc", 3), 0, "write");
    t[1]->ops->pause_reading(t[1]);
    weir_loop_run(loop);
    is_int(b.n, 0, "a receiver that paused before the delivery gets nothing");
    t[1]->ops->resume_reading(t[1]);
    weir_loop_run(loop);
    is_mem(b.data, b.n, "abc", 3, "resume_reading lets it through");

    t[0]->ops->set_write_buffer_limits(t[0], 4, 2);
    t[0]->ops->write(t[0], "0123456789abcdefXYZ!", 20);
    is_int(t[0]->ops->write_buffer_size(t[0]), 4, "16 on the wire, 4 queued");
    is_int(a.pauses, 0, "4 is not above high 4: no pause_writing");
    t[0]->ops->write(t[0], "?", 1);
    is_int(a.pauses, 1, "5 is: pause_writing once");
    weir_loop_run(loop);
    is_int(a.resumes, 1, "resume_writing once the queue moved on");
    is_mem(b.data, b.n, "abc0123456789abcdefXYZ!?", 24, "in order");

    /* eof_received returning false: the transport closes itself, then reports the loss. */
    is_int(t[0]->ops->write_eof(t[0]), 0, "write_eof");
    is_int(t[0]->ops->write_eof(t[0]), 0, "write_eof again is harmless");
    is_int(t[0]->ops->write(t[0], "x", 1), WEIR_ECLOSED, "write after write_eof: ECLOSED");
    weir_loop_run(loop);
    is_int(b.eofs, 1, "eof_received once");
    ok(t[1]->ops->is_closing(t[1]), "the receiver said false: its transport closed itself");
    ok(b.losts == 1 && b.lost_error == 0, "and reported connection_lost(0)");
    ok(!t[0]->ops->is_closing(t[0]), "the half-closed sender stays open");
    is_int(a.losts, 0, "and is not lost");
    t[0]->ops->close(t[0]);
    t[0]->ops->close(t[0]);
    t[0]->ops->abort(t[0]);
    weir_loop_run(loop);
    ok(a.losts == 1 && a.lost_error == 0, "close, close, abort: one connection_lost(0)");
    t[0]->ops->free(t[0]);
    t[1]->ops->free(t[1]);
    weir_loop_free(loop);
}

static void test_delivery_is_later(void) {
    pair p = pair_new(0, 0);
    is_int(weir_write(p.w[0], "hello", 5), 0, "write");
    is_int(weir_reader_buffered(p.r[1]), 0, "nothing arrives inside write");
    is_int(weir_writer_buffer_size(p.w[0]), 0, "the bytes are in flight, not queued");
    weir_loop_run_ready(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 5, "they arrive on a later tick");
    is_int(weir_loop_now(p.loop), 0, "without the clock moving");
    weir_bytes v;
    is_int(weir_read(p.r[1], 100, &v), 0, "read them");
    is_bytes(v, "hello", "the same bytes");
    is_int(weir_reader_buffered(p.r[0]), 0, "nothing echoes back to the writer's own reader");

    weir_extra x;
    is_int(weir_get_extra_info(p.w[0], "sockname", &x), 0, "sockname");
    ok(x.kind == WEIR_EXTRA_STR && strcmp(x.str, "mem:0") == 0, "sockname of end 0 is mem:0");
    is_int(weir_get_extra_info(p.w[0], "peername", &x), 0, "peername");
    ok(x.kind == WEIR_EXTRA_STR && strcmp(x.str, "mem:1") == 0, "peername of end 0 is mem:1");
    weir_get_extra_info(p.w[1], "sockname", &x);
    ok(strcmp(x.str, "mem:1") == 0, "sockname of end 1 is mem:1");
    is_int(weir_get_extra_info(p.w[0], "socket", &x), WEIR_ENOENT, "unknown key: ENOENT");
    ok(weir_can_write_eof(p.w[0]), "a pipe can write_eof");
    pair_free(&p);

    weir_reader *r[2];
    weir_writer *w[2];
    is_int(weir_stream_pair(NULL, NULL, r, w), WEIR_EINVAL, "stream_pair(NULL loop)");
    weir_loop *loop;
    weir_loop_new_virtual(&loop);
    weir_pair_opts bad = {.limit = -1};
    is_int(weir_stream_pair(loop, &bad, r, w), WEIR_EINVAL, "stream_pair(limit -1)");
    is_int(weir_stream_pair(loop, NULL, NULL, w), WEIR_EINVAL, "stream_pair(NULL readers)");
    weir_transport *t[2];
    is_int(weir__mempipe_new(NULL, 0, t), WEIR_EINVAL, "mempipe_new(NULL loop)");
    weir_loop_free(loop);
}

/* Capacity C in flight, high H queued: the sender gets C + H out before drain blocks. */
static void test_capacity_plus_high(void) {
    enum { C = 4096, L = 1024 };
    pair p = pair_new(C, L);
    size_t total = C + HIGH + 1;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++) data[i] = pattern(i);

    is_int(weir_write(p.w[0], data, C + HIGH), 0, "write capacity + high in one call");
    is_int(weir_writer_buffer_size(p.w[0]), HIGH, "capacity went in flight, high is queued");
    is_int(weir_drain(p.w[0]), 0, "not paused at exactly capacity + high");
    is_int(weir_write(p.w[0], data + C + HIGH, 1), 0, "one byte more");
    is_int(weir_drain(p.w[0]), WEIR_EAGAIN, "now paused: drain would wait");

    job d = {.w = p.w[0]};
    weir_task *t = spawn(p.loop, drain_task, &d);
    is_int(weir_loop_run(p.loop), WEIR_EDEADLOCK, "the loop stalls: the receiver never reads");
    ok(!d.done, "drain is blocked");
    is_int(weir_reader_buffered(p.r[1]), C, "the receiver got one wire's worth");
    ok(weir_reader_paused(p.r[1]), "which is above 2 x limit: it paused the pipe");
    is_int(weir_writer_buffer_size(p.w[0]), HIGH + 1 - C, "the wire refilled from the queue");
    weir_loop_run(p.loop);
    is_int(weir_reader_buffered(p.r[1]), C, "a paused receiver gets nothing more");

    /* Now read: everything arrives, in order, and the drain wakes. */
    uint8_t *got = malloc(total);
    size_t have = 0;
    int rounds = 0;
    while (have < total && rounds++ < 1000) {
        weir_bytes v;
        int rc = weir_read(p.r[1], (int64_t)(total - have), &v);
        if (rc == WEIR_EAGAIN) {
            weir_loop_run(p.loop);
            continue;
        }
        if (rc) break;
        memcpy(got + have, v.data, v.len);
        have += v.len;
        weir_loop_run(p.loop);
    }
    is_mem(got, have, data, total, "all capacity + high + 1 bytes arrive in order");
    ok(d.done && d.rc == 0, "and the drain returned 0");
    weir_join(t, NULL);
    free(got);
    free(data);
    pair_free(&p);
}

/* The drain wakes on the tick the queue first reaches low, not before or after. */
static void test_drain_wakes_at_low(void) {
    enum { C = 1000 };
    pair p = pair_new(C, 1 << 20);
    is_int(weir_writer_set_limits(p.w[0], 3000, 2000), 0, "limits 3000 / 2000");
    uint8_t buf[8000] = {0};
    weir_write(p.w[0], buf, C + 3001);
    is_int(weir_writer_buffer_size(p.w[0]), 3001, "C in flight, 3001 queued: paused");
    job d = {.w = p.w[0]};
    weir_task *t = spawn(p.loop, drain_task, &d);
    weir_loop_run_ready(p.loop);
    /* Each delivery tick moves C bytes: the queue goes 3001, 2001, 1001, 1, 0. The woken
     * drain runs in the same iteration as the delivery that woke it. */
    ok(d.done && d.rc == 0, "drain woke");
    is_int(d.seen, 1001, "on the tick the queue went from 2001 (above low) to 1001");
    is_int(weir_reader_buffered(p.r[1]), C + 3001, "everything was delivered");
    is_int(weir_loop_now(p.loop), 0, "all on ticks at time 0");
    weir_join(t, NULL);
    pair_free(&p);
}

static void test_bulk_transfer(void) {
    enum { C = 10000, L = 8192 };
    pair p = pair_new(C, L);
    job w = {.w = p.w[0], .total = 3 * 1024 * 1024 + 12345};
    job r = {.r = p.r[1], .total = w.total};
    weir_task *tw = spawn(p.loop, bulk_writer, &w);
    weir_task *tr = spawn(p.loop, bulk_reader, &r);
    is_int(weir_loop_run(p.loop), 0, "the transfer finishes");
    ok(w.done && w.rc == 0, "the writer wrote everything and write_eof");
    ok(r.done && r.rc == 0, "the reader read everything, then EOF (rc %d)", r.rc);
    is_int(r.got, w.total, "every byte arrived");
    ok(!r.mismatch, "byte for byte, in order");
    ok(r.pauses > 0, "the reader paused the pipe on the way (%d times)", r.pauses);
    ok(r.max_buffered <= 2 * L + C, "the reader's buffer stayed within 2 x limit + capacity (%zu)",
       r.max_buffered);
    ok(w.waits > 0, "the writer was paused on the way (%d drains waited)", w.waits);
    ok(w.max_queued <= HIGH, "after each drain the queue was at or below high (max %zu)",
       w.max_queued);
    weir_join(tw, NULL);
    weir_join(tr, NULL);
    pair_free(&p);
}

static void test_reader_pauses_pipe(void) {
    enum { L = 100 };
    pair p = pair_new(0, L);
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = pattern(i);
    weir_write(p.w[0], buf, 300);
    weir_loop_run_ready(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 300, "300 bytes delivered in one tick");
    ok(weir_reader_paused(p.r[1]), "above 2 x limit (200): the reader paused the pipe");
    weir_write(p.w[0], buf + 300, 500);
    weir_loop_run(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 300, "nothing more arrives while paused");
    is_int(weir_writer_buffer_size(p.w[0]), 0, "the 500 wait in flight, not in the queue");
    uint8_t out[1000];
    is_int(read_all(p.r[1], 150, out), 0, "read 150");
    ok(weir_reader_paused(p.r[1]), "150 left: still above the limit, still paused");
    weir_loop_run(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 150, "still nothing new");
    is_int(read_all(p.r[1], 50, out + 150), 0, "read 50 more");
    ok(!weir_reader_paused(p.r[1]), "100 left, at the limit: the reader resumed the pipe");
    weir_loop_run_ready(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 600, "the 500 in flight arrive on the next tick");
    ok(weir_reader_paused(p.r[1]), "and pause the pipe again");
    is_int(read_all(p.r[1], 600, out + 200), 0, "read the rest");
    is_mem(out, 800, buf, 800, "800 bytes in order");
    pair_free(&p);
}

typedef struct halfclose {
    weir_reader *r[2];
    weir_writer *w[2];
    int step_rc[8];
    char answer[16];
    bool done[2];
} halfclose;

/* Client: send a request, shut the write side, read the answer until EOF. */
static int hc_client(void *arg) {
    halfclose *h = arg;
    weir_write(h->w[0], "ping", 4);
    h->step_rc[0] = weir_write_eof(h->w[0]);
    h->step_rc[1] = weir_write(h->w[0], "more", 4);
    weir_bytes v;
    h->step_rc[2] = weir_read(h->r[0], -1, &v);
    if (h->step_rc[2] == 0) memcpy(h->answer, v.data, v.len < 15 ? v.len : 15);
    h->step_rc[3] = weir_wait_closed(h->w[0]); /* the server closes: we must close too */
    h->done[0] = true;
    return 0;
}

/* Server: read the request to EOF, answer, close. */
static int hc_server(void *arg) {
    halfclose *h = arg;
    weir_bytes v;
    h->step_rc[4] = weir_read(h->r[1], -1, &v);
    h->step_rc[5] =
        (v.len == 4 && memcmp(v.data, "ping", 4) == 0 && weir_reader_at_eof(h->r[1])) ? 0 : -999;
    h->step_rc[6] = weir_write(h->w[1], "pong", 4);
    weir_writer_close(h->w[1]);
    h->step_rc[7] = weir_wait_closed(h->w[1]);
    h->done[1] = true;
    return 0;
}

static void test_half_close(void) {
    pair p = pair_new(0, 0);
    halfclose h = {0};
    memcpy(h.r, p.r, sizeof h.r);
    memcpy(h.w, p.w, sizeof h.w);
    weir_task *tc = spawn(p.loop, hc_client, &h);
    weir_task *ts = spawn(p.loop, hc_server, &h);
    weir_loop_run(p.loop);
    is_int(h.step_rc[0], 0, "client: write_eof");
    is_int(h.step_rc[1], WEIR_ECLOSED, "client: write after write_eof: ECLOSED");
    is_int(h.step_rc[4], 0, "server: read(-1) returns at EOF");
    is_int(h.step_rc[5], 0, "server: saw exactly \"ping\" then EOF");
    is_int(h.step_rc[6], 0, "server: can still write after the peer's EOF (half-close)");
    is_int(h.step_rc[7], 0, "server: wait_closed after close: 0");
    ok(h.done[1], "server finished");
    is_int(h.step_rc[2], 0, "client: read(-1) of the answer");
    ok(strcmp(h.answer, "pong") == 0, "client: got \"pong\" (%s)", h.answer);
    ok(!h.done[0], "client: wait_closed still waits: its end is open");
    ok(!weir_writer_is_closing(p.w[0]), "client end is not closing");
    weir_writer_close(p.w[0]);
    weir_loop_run(p.loop);
    ok(h.done[0] && h.step_rc[3] == 0, "client: wait_closed returns 0 once it closes too");
    weir_join(tc, NULL);
    weir_join(ts, NULL);
    pair_free(&p);
}

static void test_close(void) {
    pair p = pair_new(0, 0);
    weir_write(p.w[0], "bye", 3);
    weir_writer_close(p.w[0]);
    ok(weir_writer_is_closing(p.w[0]), "is_closing at once");
    is_int(weir_write(p.w[0], "x", 1), WEIR_ECLOSED, "write after close: ECLOSED");
    job c = {.w = p.w[0]};
    weir_task *t = spawn(p.loop, wait_closed_task, &c);
    weir_loop_run(p.loop);
    ok(c.done && c.rc == 0, "wait_closed after close: 0");
    ok(weir_reader_at_eof(p.r[0]), "the closed end's own reader is at EOF");
    is_int(weir_drain(p.w[0]), WEIR_ECONNLOST, "drain after the loss: ECONNLOST");
    weir_bytes v;
    is_int(weir_read(p.r[1], 10, &v), 0, "the peer reads");
    is_bytes(v, "bye", "the bytes written before close");
    is_int(weir_read(p.r[1], 10, &v), 0, "then");
    ok(v.len == 0 && weir_reader_at_eof(p.r[1]), "EOF");
    ok(!weir_writer_is_closing(p.w[1]), "the peer is not closed by our close");
    is_int(weir_write(p.w[1], "late", 4), 0, "the peer may still write (to nobody)");
    weir_loop_run(p.loop);
    is_int(weir_reader_buffered(p.r[0]), 0, "a closed end receives nothing");
    weir_join(t, NULL);
    pair_free(&p);

    /* Close with bytes still queued: the loss waits for the queue to go out, a closing end
     * receives nothing, and every byte still reaches the peer before its EOF. */
    p = pair_new(100, 10);
    uint8_t data[400];
    for (size_t i = 0; i < sizeof data; i++) data[i] = pattern(i);
    weir_write(p.w[0], data, sizeof data);
    weir_loop_run(p.loop);
    ok(weir_reader_paused(p.r[1]) && weir_writer_buffer_size(p.w[0]) == 200,
       "peer paused after 100 bytes, 100 on the wire, 200 queued");
    weir_writer_close(p.w[0]);
    weir_write(p.w[1], "to a closing end", 16);
    job c2 = {.w = p.w[0]};
    t = spawn(p.loop, wait_closed_task, &c2);
    weir_loop_run(p.loop);
    ok(!c2.done, "wait_closed waits while the queue is not out");
    is_int(weir_reader_buffered(p.r[0]), 0, "a closing end receives nothing");
    uint8_t got[400];
    size_t have = 0;
    while (have < sizeof got) {
        if (weir_read(p.r[1], 1000, &v) != 0 || v.len == 0) break;
        memcpy(got + have, v.data, v.len);
        have += v.len;
        weir_loop_run(p.loop);
    }
    is_mem(got, have, data, sizeof data, "the peer got all 400 bytes written before close");
    ok(c2.done && c2.rc == 0, "wait_closed returned 0 once they were out");
    /* The 16 bytes it sent to the closing end were never read: as with a socket closed with
     * unread data, a reset, not an EOF, follows the data. */
    is_int(weir_read(p.r[1], 10, &v), WEIR_ECONNRESET, "then the peer reads a reset");
    weir_join(t, NULL);
    pair_free(&p);

    /* write_eof with nothing in flight still reaches the peer. */
    p = pair_new(0, 0);
    weir_write(p.w[0], "a", 1);
    weir_loop_run(p.loop);
    ok(!weir_reader_at_eof(p.r[1]), "data, no EOF yet");
    weir_write_eof(p.w[0]);
    weir_loop_run(p.loop);
    is_int(weir_reader_buffered(p.r[1]), 1, "the byte is still there");
    weir_read(p.r[1], 10, &v);
    ok(weir_reader_at_eof(p.r[1]), "a later write_eof alone delivers the EOF");
    pair_free(&p);

    /* The peer is stuck sending to us; we close: what it sent is dropped unread, so the
     * peer, which reads, is reset (as a socketpair does) and its drain wakes. */
    p = pair_new(100, 10);
    static uint8_t lots[1000];
    weir_writer_set_limits(p.w[1], 200, 50);
    weir_write(p.w[1], lots, sizeof lots);
    job d2 = {.w = p.w[1]};
    t = spawn(p.loop, drain_task, &d2);
    weir_loop_run(p.loop);
    ok(!d2.done, "the peer's drain waits: we stopped reading");
    weir_writer_close(p.w[0]);
    weir_loop_run(p.loop);
    ok(d2.done && d2.rc == WEIR_ECONNRESET, "after our close its drain fails with a reset");
    is_int(weir_writer_buffer_size(p.w[1]), 0, "its queue emptied");
    weir_join(t, NULL);
    pair_free(&p);

    /* Drain right after close: the yield lets connection_lost in. */
    p = pair_new(0, 0);
    weir_writer_close(p.w[0]);
    job d = {.w = p.w[0]};
    t = spawn(p.loop, drain_task, &d);
    weir_loop_run(p.loop);
    is_int(d.rc, WEIR_ECONNLOST, "drain just after close: ECONNLOST");
    weir_join(t, NULL);
    pair_free(&p);
}

/* Writing to a peer that has closed, as an AF_UNIX socketpair does through the socket
 * transport (net/sock.c): the send fails with EPIPE. The write itself succeeds, as asyncio's
 * does; drain gives WEIR_ECONNLOST, and reads and wait_closed WEIR_EPIPE. */
typedef struct late_job {
    weir_reader *r;
    weir_writer *w;
    weir_writer *peer;
    int mode; /* 0: read the EOF first; 1: write at once; 2: paused, a queue; 3: paused */
    int eof_rc, write_rc, drain_rc, write2_rc, read_rc, line_rc, closed_rc;
    size_t eof_len, line_len;
} late_job;

static int late_task(void *arg) {
    late_job *j = arg;
    weir_bytes v;
    weir_transport *t = weir_writer_transport(j->w);
    if (j->mode >= 2) t->ops->pause_reading(t);
    if (j->mode == 2) {
        static uint8_t big[1 << 20]; /* far more than the wire takes: a queue stays */
        j->write_rc = weir_write(j->w, big, sizeof big);
    }
    if (j->mode == 3) {
        weir_writer_transport(j->peer)->ops->pause_reading(weir_writer_transport(j->peer));
        weir_write(j->w, "unread\n", 7); /* the peer never reads this */
        weir_write(j->peer, "bye\n", 4); /* and sends a line before it closes */
    }
    weir_sleep(WEIR_MS);
    weir_writer_close(j->peer);
    weir_sleep(WEIR_MS);
    if (j->mode == 0) {
        j->eof_rc = weir_readline(j->r, &v);
        j->eof_len = v.len;
    }
    if (j->mode < 2) j->write_rc = weir_write(j->w, "late\n", 5);
    j->drain_rc = weir_drain(j->w);
    j->write2_rc = weir_write(j->w, "later\n", 6);
    if (j->mode >= 2) t->ops->resume_reading(t);
    j->line_rc = weir_readline(j->r, &v);
    j->line_len = v.len;
    j->read_rc = weir_readline(j->r, &v);
    weir_writer_close(j->w);
    j->closed_rc = weir_wait_closed(j->w);
    return 0;
}

static late_job run_late(int mode) {
    pair p = pair_new(100, 0);
    late_job j = {.r = p.r[0], .w = p.w[0], .peer = p.w[1], .mode = mode};
    weir_task *t = spawn(p.loop, late_task, &j);
    weir_loop_run(p.loop);
    weir_join(t, NULL);
    pair_free(&p);
    return j;
}

static void test_write_after_peer_closed(void) {
    late_job j = run_late(0);
    is_int(j.eof_rc, 0, "the peer closed: we read EOF");
    is_int(j.eof_len, 0, "(empty)");
    is_int(j.write_rc, 0, "a write succeeds (its send fails)");
    is_int(j.drain_rc, WEIR_ECONNLOST, "drain: WEIR_ECONNLOST");
    is_int(j.write2_rc, WEIR_ECONNLOST, "the next write: WEIR_ECONNLOST");
    is_int(j.line_rc, WEIR_EPIPE, "reads: WEIR_EPIPE");
    is_int(j.closed_rc, WEIR_EPIPE, "wait_closed: WEIR_EPIPE");

    j = run_late(1);
    is_int(j.write_rc, 0, "without reading the EOF first: the write succeeds");
    is_int(j.drain_rc, WEIR_ECONNLOST, "drain: WEIR_ECONNLOST");
    is_int(j.line_rc, WEIR_EPIPE, "the EOF is not read: WEIR_EPIPE");
    is_int(j.closed_rc, WEIR_EPIPE, "wait_closed: WEIR_EPIPE");

    j = run_late(2);
    is_int(j.write_rc, 0, "a paused end with a queue");
    is_int(j.drain_rc, WEIR_EPIPE, "drain fails when the peer closes: WEIR_EPIPE");
    is_int(j.line_rc, WEIR_EPIPE, "reads: WEIR_EPIPE");
    is_int(j.closed_rc, WEIR_EPIPE, "wait_closed: WEIR_EPIPE");

    j = run_late(3);
    is_int(j.drain_rc, WEIR_OK, "the peer closed with our line unread; nothing queued");
    is_int(j.write2_rc, 0, "a write succeeds (its send fails)");
    is_int(j.line_rc, WEIR_EPIPE, "so the peer's line is never read: WEIR_EPIPE");
}

/* A paused end whose peer sent a line and closed with our bytes unread: resuming, it reads
 * the line, then the reset (a socket closed with unread data resets its peer). */
static int unread_task(void *arg) {
    late_job *j = arg;
    weir_bytes v;
    weir_transport *t = weir_writer_transport(j->w);
    t->ops->pause_reading(t);
    weir_writer_transport(j->peer)->ops->pause_reading(weir_writer_transport(j->peer));
    weir_write(j->w, "unread\n", 7);
    weir_write(j->peer, "bye\n", 4);
    weir_sleep(WEIR_MS);
    weir_writer_close(j->peer);
    weir_sleep(WEIR_MS);
    t->ops->resume_reading(t);
    j->line_rc = weir_readline(j->r, &v);
    j->line_len = v.len;
    j->read_rc = weir_readline(j->r, &v);
    weir_writer_close(j->w);
    j->closed_rc = weir_wait_closed(j->w);
    return 0;
}

static void test_close_with_unread_resets_peer(void) {
    pair p = pair_new(100, 0);
    late_job j = {.r = p.r[0], .w = p.w[0], .peer = p.w[1]};
    weir_task *t = spawn(p.loop, unread_task, &j);
    weir_loop_run(p.loop);
    weir_join(t, NULL);
    pair_free(&p);
    is_int(j.line_rc, 0, "the line the peer sent before closing is read");
    is_int(j.line_len, 4, "(all of it)");
    is_int(j.read_rc, WEIR_ECONNRESET, "then a reset, not an EOF: our bytes went unread");
    is_int(j.closed_rc, WEIR_ECONNRESET, "wait_closed: WEIR_ECONNRESET");
}

static void test_abort(void) {
    /* End 0 reads nothing and pauses at once (limit 100); end 1 queues two wires' worth
     * more than it can have in flight, so its drain waits. */
    pair p = pair_new(0, 100);
    static uint8_t big[3 * 65536 + 1];
    weir_write(p.w[1], big, sizeof big);
    job d = {.w = p.w[1]};
    job c = {.w = p.w[1]};
    weir_task *td = spawn(p.loop, drain_task, &d);
    weir_task *tc = spawn(p.loop, wait_closed_task, &c);
    weir_loop_run_ready(p.loop);
    ok(!d.done, "a drain waits on end 1");
    weir_write(p.w[0], "lost", 4);
    weir_transport *t0 = weir_writer_transport(p.w[0]);
    t0->ops->abort(t0);
    ok(weir_writer_is_closing(p.w[0]), "abort: closing at once");
    weir_loop_run(p.loop);
    ok(d.done && d.rc == WEIR_ECONNRESET, "the peer's drain fails: ECONNRESET");
    ok(c.done && c.rc == WEIR_ECONNRESET, "the peer's wait_closed: ECONNRESET");
    is_int(weir_writer_buffer_size(p.w[1]), 0, "the peer's queue was dropped");
    weir_bytes v;
    is_int(weir_read(p.r[1], 10, &v), WEIR_ECONNRESET, "the peer's reader fails: ECONNRESET");
    is_int(weir_write(p.w[1], "x", 1), WEIR_ECONNLOST, "the peer's write: ECONNLOST");
    is_int(weir_wait_closed(p.w[0]), 0, "the aborting end was lost cleanly");
    weir_join(td, NULL);
    weir_join(tc, NULL);
    pair_free(&p);
}

static void test_free_with_events_pending(void) {
    /* Everything scheduled, nothing run: free both ends, then the loop. */
    pair p = pair_new(0, 0);
    weir_write(p.w[0], "a", 1);
    weir_write(p.w[1], "b", 1);
    weir_writer_close(p.w[1]);
    pair_free(&p);
    ok(1, "freeing with deliveries and connection_lost pending is clean (ASan)");

    /* One end freed open: the other is reset on a later tick, with no dangling timer. */
    p = pair_new(0, 0);
    weir_write(p.w[0], "a", 1);
    weir_writer_free(p.w[0]);
    weir_loop_run(p.loop);
    weir_bytes v;
    is_int(weir_read(p.r[1], 10, &v), WEIR_ECONNRESET, "freeing an open end resets the peer");
    weir_writer_free(p.w[1]);
    weir_loop_free(p.loop);

    /* Closed and flushed, then freed: bytes still in flight reach the peer. */
    p = pair_new(0, 0);
    weir_write(p.w[0], "tail", 4);
    weir_writer_close(p.w[0]);
    job c = {.w = p.w[0]};
    weir_task *t = spawn(p.loop, wait_closed_task, &c);
    weir_loop_run_ready(p.loop);
    weir_join(t, NULL);
    is_int(weir_reader_buffered(p.r[1]), 4, "delivered");
    weir_writer_free(p.w[0]);
    weir_loop_run(p.loop);
    is_int(weir_read(p.r[1], 10, &v), 0, "the peer reads after the closer was freed");
    is_bytes(v, "tail", "everything that was in flight");
    is_int(weir_read(p.r[1], 10, &v), 0, "then EOF");
    ok(v.len == 0 && weir_reader_at_eof(p.r[1]), "a clean EOF, not a reset");
    weir_writer_free(p.w[1]);
    weir_loop_free(p.loop);

    /* Freed while the peer is mid-delivery of a large flow. */
    p = pair_new(100, 10);
    uint8_t big[5000] = {0};
    weir_write(p.w[0], big, sizeof big);
    weir_loop_run_ready(p.loop);
    weir_writer_free(p.w[1]);
    weir_loop_run(p.loop);
    ok(weir_writer_is_closing(p.w[0]), "the sender sees the reset");
    weir_writer_free(p.w[0]);
    weir_loop_free(p.loop);
}

int main(void) {
    test_delivery_is_later();
    test_raw_transport();
    test_capacity_plus_high();
    test_drain_wakes_at_low();
    test_bulk_transfer();
    test_reader_pauses_pipe();
    test_half_close();
    test_close();
    test_write_after_peer_closed();
    test_close_with_unread_resets_peer();
    test_abort();
    test_free_with_events_pending();
    return done_testing();
}
