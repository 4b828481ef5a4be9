/* tests/unit/test_writer.c - StreamWriter over a hand-driven transport.
 *
 * The transport here queues writes in a weir__wbuf and sends nothing by itself: the test
 * decides when "the network" takes bytes (fake_send), so the exact size at which drain
 * blocks and wakes can be checked, tick by tick, with weir_loop_run_ready(). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/wbuf.h"
#include "tap.h"

#define HIGH WEIR_DEFAULT_HIGH_WATER
#define LOW WEIR_DEFAULT_LOW_WATER

/* --- a transport the test drives ---------------------------------------------------- */

typedef struct fake {
    weir_transport t;
    weir_loop *loop;
    weir__wbuf wbuf;
    bool eof, closing, lost;
    int lost_error;
    weir_timer lost_timer;
    uint8_t *sent; /* what the network took, in order */
    size_t nsent;
} fake;

static int fakes_freed, fake_aborts;
/* Drop writes after close, write_eof or the loss without a word, as asyncio's transports do. */
static bool fake_lenient;

static fake *fake_of(weir_transport *t) { return (fake *)t; }

static void fake_report_lost(weir_timer *timer, void *arg) {
    (void)timer;
    fake *f = arg;
    if (f->t.protocol) f->t.protocol->ops->connection_lost(f->t.protocol, f->lost_error);
}

/* The connection ends; connection_lost follows on the next tick, as transports promise. */
static void fake_lose(fake *f, int error) {
    if (f->lost) return;
    f->lost = true;
    f->lost_error = error;
    weir__wbuf_clear(&f->wbuf);
    weir_timer_start(f->loop, &f->lost_timer, weir_loop_now(f->loop), fake_report_lost, f);
}

/* The network takes n bytes from the front of the queue. */
static void fake_send(fake *f, size_t n) {
    while (n > 0 && weir__wbuf_size(&f->wbuf) > 0) {
        weir_bytes front = weir__wbuf_front(&f->wbuf);
        size_t k = front.len < n ? front.len : n;
        f->sent = realloc(f->sent, f->nsent + k);
        memcpy(f->sent + f->nsent, front.data, k);
        f->nsent += k;
        weir__wbuf_consume(&f->wbuf, k);
        n -= k;
    }
    if (f->closing && weir__wbuf_size(&f->wbuf) == 0) fake_lose(f, 0);
}

static int fake_write(weir_transport *t, const void *data, size_t len) {
    fake *f = fake_of(t);
    if (fake_lenient && (f->eof || f->closing || f->lost)) return 0;
    if (f->eof || f->closing) return WEIR_ECLOSED;
    if (f->lost) return WEIR_ECONNLOST;
    return weir__wbuf_append(&f->wbuf, data, len);
}

static int fake_write_eof(weir_transport *t) {
    fake_of(t)->eof = true;
    return 0;
}

static bool fake_can_write_eof(weir_transport *t) {
    (void)t;
    return true;
}

static void fake_close(weir_transport *t) {
    fake *f = fake_of(t);
    if (f->closing) return;
    f->closing = true;
    fake_send(f, 0);
}

static void fake_abort(weir_transport *t) {
    fake *f = fake_of(t);
    fake_aborts++;
    f->closing = true;
    fake_lose(f, 0);
}

static bool fake_is_closing(weir_transport *t) { return fake_of(t)->closing || fake_of(t)->lost; }

static size_t fake_size(weir_transport *t) { return weir__wbuf_size(&fake_of(t)->wbuf); }

static int fake_set_limits(weir_transport *t, size_t high, size_t low) {
    return weir__wbuf_set_limits(&fake_of(t)->wbuf, high, low);
}

static void fake_get_limits(weir_transport *t, size_t *high, size_t *low) {
    weir__wbuf_get_limits(&fake_of(t)->wbuf, high, low);
}

static int fake_extra(weir_transport *t, const char *name, weir_extra *out) {
    (void)t;
    if (strcmp(name, "answer") != 0) return WEIR_ENOENT;
    out->kind = WEIR_EXTRA_INT;
    out->num = 42;
    return 0;
}

static void fake_free(weir_transport *t) {
    fake *f = fake_of(t);
    weir_timer_stop(f->loop, &f->lost_timer);
    weir__wbuf_free(&f->wbuf);
    free(f->sent);
    free(f);
    fakes_freed++;
}

static const weir_transport_ops fake_ops = {
    .name = "fake",
    .write = fake_write,
    .write_eof = fake_write_eof,
    .can_write_eof = fake_can_write_eof,
    .close = fake_close,
    .abort = fake_abort,
    .is_closing = fake_is_closing,
    .write_buffer_size = fake_size,
    .set_write_buffer_limits = fake_set_limits,
    .get_write_buffer_limits = fake_get_limits,
    .get_extra_info = fake_extra,
    .free = fake_free,
};

typedef struct conn {
    weir_loop *loop;
    fake *f;
    weir_reader *r;
    weir_writer *w;
} conn;

static conn conn_new(void) {
    conn c = {0};
    if (weir_loop_new_virtual(&c.loop)) abort();
    c.f = calloc(1, sizeof *c.f);
    c.f->t.ops = &fake_ops;
    c.f->loop = c.loop;
    weir__wbuf_init(&c.f->wbuf, &c.f->t);
    if (weir_stream_open(c.loop, &c.f->t, WEIR_DEFAULT_LIMIT, &c.r, &c.w)) abort();
    return c;
}

static void conn_free(conn *c) {
    weir_writer_free(c->w);
    weir_loop_free(c->loop);
}

/* --- tasks -------------------------------------------------------------------------- */

static uint8_t zeros[4 * HIGH];

typedef struct drainer {
    weir_writer *w;
    int rc;
    bool done;
    int *order; /* where to record the finishing order, if anywhere */
    int id;
} drainer;

static int finished_count;

static int drain_task(void *arg) {
    drainer *d = arg;
    d->rc = weir_drain(d->w);
    d->done = true;
    if (d->order) d->order[finished_count++] = d->id;
    return 0;
}

static weir_task *spawn_drain(weir_loop *loop, drainer *d) {
    weir_task *t;
    if (weir_spawn(loop, drain_task, d, NULL, &t)) abort();
    return t;
}

/* --- tests -------------------------------------------------------------------------- */

/* --- the write queue on its own ---------------------------------------------------- */

typedef struct flowrec {
    weir_protocol p;
    int pauses, resumes;
    size_t size_at_resume;
    weir__wbuf *b;
} flowrec;

static void fr_pause(weir_protocol *p) { ((flowrec *)p)->pauses++; }
static void fr_resume(weir_protocol *p) {
    flowrec *f = (flowrec *)p;
    f->resumes++;
    f->size_at_resume = weir__wbuf_size(f->b);
}
static const weir_protocol_ops fr_ops = {.pause_writing = fr_pause, .resume_writing = fr_resume};

static void test_wbuf(void) {
    weir_transport t = {0};
    flowrec fr = {.p.ops = &fr_ops};
    weir__wbuf b;
    weir__wbuf_init(&b, &t);
    fr.b = &b;
    t.protocol = &fr.p;
    is_int(weir__wbuf_set_limits(&b, 100, 101), WEIR_EINVAL, "wbuf: high < low: EINVAL");
    is_int(weir__wbuf_set_limits(&b, 100, 40), 0, "wbuf: limits 100 / 40");
    ok(weir__wbuf_front(&b).len == 0, "empty queue: empty front");

    /* Many small appends across chunk boundaries, then odd-sized consumes. */
    enum { TOTAL = 3 * WEIR__WBUF_CHUNK + 777 };
    static uint8_t want[TOTAL], got[TOTAL];
    for (size_t i = 0; i < TOTAL; i++) want[i] = (uint8_t)(i * 7 + i / 251);
    size_t off = 0, step = 1;
    while (off < TOTAL) {
        size_t n = step < TOTAL - off ? step : TOTAL - off;
        if (weir__wbuf_append(&b, want + off, n)) break;
        off += n;
        step = step * 3 % 5003 + 1;
    }
    is_int(weir__wbuf_size(&b), TOTAL, "every append counted");
    is_int(fr.pauses, 1, "pause_writing once, when the size first went above high");
    ok(weir__wbuf_paused(&b), "paused");
    size_t have = 0, before_resume = 0;
    step = 1;
    while (weir__wbuf_size(&b) > 0) {
        weir_bytes front = weir__wbuf_front(&b);
        size_t n = step < front.len ? step : front.len;
        memcpy(got + have, front.data, n);
        have += n;
        size_t before = weir__wbuf_size(&b);
        int resumes = fr.resumes;
        weir__wbuf_consume(&b, n);
        if (fr.resumes != resumes) before_resume = before;
        step = step * 5 % 7919 + 1;
    }
    is_mem(got, have, want, TOTAL, "the bytes come out in order, none lost or doubled");
    is_int(fr.resumes, 1, "resume_writing once");
    ok(fr.size_at_resume <= 40 && before_resume > 40,
       "on the consume that took the size from above low (%zu) to low or below (%zu)",
       before_resume, fr.size_at_resume);

    weir__wbuf_append(&b, want, 50);
    weir__wbuf_consume(&b, 1000);
    is_int(weir__wbuf_size(&b), 0, "consuming more than the size empties the queue");
    weir__wbuf_append(&b, want, 150);
    is_int(fr.pauses, 2, "above high again: pause again");
    weir__wbuf_clear(&b);
    is_int(fr.resumes, 1, "clear does not resume (connection_lost releases writers)");
    t.protocol = NULL;
    weir__wbuf_append(&b, want, 150);
    ok(1, "no protocol: nobody to call, no crash");
    weir__wbuf_free(&b);
}

static void test_limits(void) {
    conn c = conn_new();
    size_t high, low;
    weir_writer_get_limits(c.w, &high, &low);
    is_int(high, 65536, "default high water is 64 KiB");
    is_int(low, 16384, "default low water is 16 KiB");

    is_int(weir_writer_set_limits(c.w, 1000, -1), 0, "set_limits(1000, -1)");
    weir_writer_get_limits(c.w, &high, &low);
    ok(high == 1000 && low == 250, "low derived as high / 4 (got %zu/%zu)", high, low);

    is_int(weir_writer_set_limits(c.w, 1001, -1), 0, "set_limits(1001, -1)");
    weir_writer_get_limits(c.w, &high, &low);
    ok(high == 1001 && low == 250, "high / 4 rounds down (got %zu/%zu)", high, low);

    is_int(weir_writer_set_limits(c.w, -1, 100), 0, "set_limits(-1, 100)");
    weir_writer_get_limits(c.w, &high, &low);
    ok(high == 400 && low == 100, "high derived as 4 * low (got %zu/%zu)", high, low);

    is_int(weir_writer_set_limits(c.w, 0, 0), 0, "set_limits(0, 0) is allowed");
    is_int(weir_writer_set_limits(c.w, 7, 7), 0, "high == low is allowed");

    is_int(weir_writer_set_limits(c.w, -1, -1), 0, "set_limits(-1, -1)");
    weir_writer_get_limits(c.w, &high, &low);
    ok(high == 65536 && low == 16384, "(-1, -1) restores the defaults (got %zu/%zu)", high, low);

    is_int(weir_writer_set_limits(c.w, 10, 20), WEIR_EINVAL, "high < low: EINVAL");
    is_int(weir_writer_set_limits(c.w, -1, 20000), 0, "(-1, 20000) gives 80000/20000");
    is_int(weir_writer_set_limits(c.w, -2, -1), WEIR_EINVAL, "high -2: EINVAL");
    is_int(weir_writer_set_limits(c.w, -1, -5), WEIR_EINVAL, "low -5: EINVAL");
    is_int(weir_writer_set_limits(c.w, 100, -7), WEIR_EINVAL, "low -7 with high: EINVAL");
    is_int(weir_writer_set_limits(c.w, -1, INT64_MAX / 4 + 1), WEIR_EINVAL,
           "4 * low would overflow: EINVAL");
    weir_writer_get_limits(c.w, &high, &low);
    ok(high == 80000 && low == 20000, "failed calls change nothing (got %zu/%zu)", high, low);
    is_int(weir_writer_set_limits(NULL, 1, 1), WEIR_EINVAL, "NULL writer: EINVAL");
    weir_writer_get_limits(c.w, NULL, NULL); /* NULL outputs are allowed */
    conn_free(&c);
}

static void test_drain_below_high(void) {
    conn c = conn_new();
    is_int(weir_write(c.w, zeros, HIGH), 0, "write exactly high bytes");
    is_int(weir_writer_buffer_size(c.w), HIGH, "all of them queued");
    is_int(weir_drain(c.w), 0, "drain at exactly high returns at once (outside a task)");
    drainer d = {.w = c.w};
    weir_task *t = spawn_drain(c.loop, &d);
    weir_loop_run_ready(c.loop);
    ok(d.done && d.rc == 0, "drain in a task at exactly high completes in one tick");
    weir_join(t, NULL);

    is_int(weir_write(c.w, zeros, 1), 0, "one byte more");
    is_int(weir_drain(c.w), WEIR_EAGAIN, "above high: drain would wait (EAGAIN outside a task)");
    conn_free(&c);
}

static void test_drain_wakes_at_low(void) {
    conn c = conn_new();
    weir_write(c.w, zeros, HIGH + 1);
    drainer d = {.w = c.w};
    weir_task *t = spawn_drain(c.loop, &d);
    weir_loop_run_ready(c.loop);
    ok(!d.done, "drain blocks at high + 1 bytes");

    fake_send(c.f, HIGH + 1 - (LOW + 1));
    is_int(weir_writer_buffer_size(c.w), LOW + 1, "buffer at low + 1");
    weir_loop_run_ready(c.loop);
    ok(!d.done, "drain still blocked at low + 1 (below high is not enough)");

    fake_send(c.f, 1);
    is_int(weir_writer_buffer_size(c.w), LOW, "buffer at low");
    ok(!d.done, "the wake-up is not synchronous");
    size_t ran = weir_loop_run_ready(c.loop);
    ok(d.done && d.rc == 0, "drain returns 0 on the next tick once the buffer is at low");
    is_int(ran, 1, "exactly the drain task ran");
    weir_join(t, NULL);

    /* Writing again above high pauses again; lowering the limits pauses at once. */
    is_int(weir_drain(c.w), 0, "not paused any more");
    weir_write(c.w, zeros, 100);
    is_int(weir_writer_set_limits(c.w, 1000, 10), 0, "limits below the current size");
    is_int(weir_drain(c.w), WEIR_EAGAIN, "set_limits pauses when the size is above high");
    fake_send(c.f, weir_writer_buffer_size(c.w) - 10);
    is_int(weir_drain(c.w), 0, "resumed at the new low");
    conn_free(&c);
}

static void test_many_drains(void) {
    conn c = conn_new();
    weir_write(c.w, zeros, 2 * HIGH);
    enum { N = 10 };
    drainer d[N];
    weir_task *t[N];
    int order[N];
    finished_count = 0;
    for (int i = 0; i < N; i++) {
        d[i] = (drainer){.w = c.w, .order = order, .id = i};
        t[i] = spawn_drain(c.loop, &d[i]);
    }
    weir_loop_run_ready(c.loop);
    int waiting = 0;
    for (int i = 0; i < N; i++) waiting += !d[i].done;
    is_int(waiting, N, "10 drains wait at once");
    fake_send(c.f, 2 * HIGH - LOW);
    weir_loop_run_ready(c.loop);
    int woke = 0, in_order = 1;
    for (int i = 0; i < N; i++) {
        woke += d[i].done && d[i].rc == 0;
        in_order &= order[i] == i;
    }
    is_int(woke, N, "resume_writing wakes all 10 with 0");
    ok(in_order, "in the order they started waiting");
    for (int i = 0; i < N; i++) weir_join(t[i], NULL);
    conn_free(&c);
}

static void test_drain_reader_exception(void) {
    conn c = conn_new();
    static const char msg[] = "parser gave up";
    is_int(weir_reader_set_exception(c.r, WEIR_EUSER - 7, msg, strlen(msg)), 0,
           "set an exception on the reader");
    is_int(weir_drain(c.w), WEIR_EUSER - 7, "drain fails with it (not paused)");
    weir_write(c.w, zeros, HIGH + 1);
    drainer d = {.w = c.w};
    weir_task *t = spawn_drain(c.loop, &d);
    weir_loop_run_ready(c.loop);
    ok(d.done && d.rc == WEIR_EUSER - 7, "drain fails with it before waiting (paused)");
    const weir_error *e = weir_reader_exception(c.r);
    ok(e && e->message_len == strlen(msg) && memcmp(e->message, msg, e->message_len) == 0,
       "the message stays with the reader");
    weir_join(t, NULL);
    conn_free(&c);
}

static void test_connection_lost(void) {
    /* A clean loss while drains wait: they return 0, the reader sees EOF. */
    conn c = conn_new();
    weir_write(c.w, zeros, HIGH + 1);
    drainer d[2] = {{.w = c.w}, {.w = c.w}};
    weir_task *t0 = spawn_drain(c.loop, &d[0]), *t1 = spawn_drain(c.loop, &d[1]);
    weir_loop_run_ready(c.loop);
    fake_lose(c.f, 0);
    weir_loop_run_ready(c.loop);
    ok(d[0].done && d[0].rc == 0 && d[1].done && d[1].rc == 0,
       "connection_lost(0) wakes every waiting drain with 0");
    ok(weir_reader_at_eof(c.r), "connection_lost(0) feeds EOF to the reader");
    is_int(weir_drain(c.w), WEIR_ECONNLOST, "a later drain: ECONNLOST");
    is_int(weir_write(c.w, "x", 1), WEIR_ECONNLOST, "a later write: ECONNLOST");
    ok(weir_writer_is_closing(c.w), "is_closing after the loss");
    weir_join(t0, NULL);
    weir_join(t1, NULL);
    conn_free(&c);

    /* A loss with an error: drains and wait_closed get it, the reader holds it. */
    c = conn_new();
    weir_write(c.w, zeros, HIGH + 1);
    drainer dd = {.w = c.w};
    weir_task *t = spawn_drain(c.loop, &dd);
    weir_loop_run_ready(c.loop);
    fake_lose(c.f, WEIR_ECONNRESET);
    weir_loop_run_ready(c.loop);
    ok(dd.done && dd.rc == WEIR_ECONNRESET, "connection_lost(err) wakes drain with err");
    const weir_error *e = weir_reader_exception(c.r);
    ok(e && e->code == WEIR_ECONNRESET, "the reader's exception is the error");
    ok(e && strcmp(e->message, weir_strerror(WEIR_ECONNRESET)) == 0, "with weir_strerror's text");
    is_int(weir_drain(c.w), WEIR_ECONNRESET, "later drains fail with the reader's exception");
    is_int(weir_wait_closed(c.w), WEIR_ECONNRESET, "wait_closed returns the error");
    weir_join(t, NULL);
    conn_free(&c);
}

typedef struct closer {
    weir_writer *w;
    int write_rc, drain_rc, closed_rc;
    bool closing_at_once;
    bool done;
} closer;

static int close_then_drain(void *arg) {
    closer *c = arg;
    weir_writer_close(c->w);
    c->closing_at_once = weir_writer_is_closing(c->w);
    c->write_rc = weir_write(c->w, "late", 4);
    c->drain_rc = weir_drain(c->w);
    c->closed_rc = weir_wait_closed(c->w);
    c->done = true;
    return 0;
}

static void test_close(void) {
    conn c = conn_new();
    closer cl = {.w = c.w};
    weir_task *t;
    weir_spawn(c.loop, close_then_drain, &cl, NULL, &t);
    weir_loop_run(c.loop);
    ok(cl.closing_at_once, "is_closing is true right after close");
    is_int(cl.write_rc, WEIR_ECLOSED, "write after close: ECLOSED");
    is_int(cl.drain_rc, WEIR_ECONNLOST,
           "drain right after close yields once, sees the loss: ECONNLOST");
    is_int(cl.closed_rc, 0, "wait_closed returns 0 for a clean close");
    is_int(weir_wait_closed(c.w), 0, "and again, at once, outside a task");
    weir_join(t, NULL);
    conn_free(&c);

    /* wait_closed blocks until the queue is flushed and the loss reported. */
    c = conn_new();
    weir_write(c.w, "abc", 3);
    weir_writer_close(c.w);
    is_int(weir_wait_closed(c.w), WEIR_EAGAIN, "wait_closed outside a task would block");
    closer w2 = {.w = c.w};
    weir_spawn(c.loop, close_then_drain, &w2, NULL, &t);
    weir_loop_run_ready(c.loop);
    ok(!w2.done, "wait_closed waits while bytes are queued");
    fake_send(c.f, 3);
    weir_loop_run_ready(c.loop);
    ok(w2.done && w2.closed_rc == 0, "wait_closed returns once the transport lost the conn");
    is_mem(c.f->sent, c.f->nsent, "abc", 3, "the queued bytes went out before the close");
    weir_join(t, NULL);
    conn_free(&c);
}

static void test_write_eof(void) {
    conn c = conn_new();
    ok(weir_can_write_eof(c.w), "can_write_eof");
    is_int(weir_write(c.w, "a", 1), 0, "write before write_eof");
    is_int(weir_write_eof(c.w), 0, "write_eof");
    is_int(weir_write(c.w, "b", 1), WEIR_ECLOSED, "write after write_eof: ECLOSED");
    weir_bytes one = WEIR_LIT("c");
    is_int(weir_writelines(c.w, &one, 1), WEIR_ECLOSED, "writelines after write_eof: ECLOSED");
    ok(!weir_writer_is_closing(c.w), "write_eof alone is not closing");
    conn_free(&c);

    /* The writer keeps its promises over a transport that drops late writes silently. */
    fake_lenient = true;
    c = conn_new();
    weir_write_eof(c.w);
    is_int(weir_write(c.w, "b", 1), WEIR_ECLOSED, "lenient transport: ECLOSED after write_eof");
    is_int(weir_write(c.w, NULL, 0), WEIR_ECLOSED, "even for an empty write (asyncio too)");
    conn_free(&c);
    c = conn_new();
    weir_writer_close(c.w);
    is_int(weir_write(c.w, "b", 1), WEIR_ECLOSED, "lenient transport: ECLOSED after close");
    conn_free(&c);
    c = conn_new();
    fake_lose(c.f, WEIR_ECONNRESET);
    weir_loop_run(c.loop);
    is_int(weir_write(c.w, "b", 1), WEIR_ECONNLOST, "lenient transport: ECONNLOST once lost");
    is_int(weir_write(c.w, "", 0), 0, "an empty write after the loss is a no-op (asyncio)");
    conn_free(&c);
    fake_lenient = false;
}

static void test_writelines_and_args(void) {
    conn c = conn_new();
    weir_bytes parts[] = {WEIR_LIT("GET "), WEIR_LIT(""), WEIR_LIT("/ HTTP/1.1\r\n")};
    is_int(weir_writelines(c.w, parts, 3), 0, "writelines");
    weir_bytes bad[] = {WEIR_LIT("x"), {NULL, 3}};
    is_int(weir_writelines(c.w, bad, 2), WEIR_EINVAL, "writelines with a NULL buffer: EINVAL");
    is_int(weir_writelines(c.w, NULL, 1), WEIR_EINVAL, "writelines(NULL, 1): EINVAL");
    is_int(weir_writelines(c.w, NULL, 0), 0, "writelines(NULL, 0) is empty");
    is_int(weir_write(c.w, NULL, 1), WEIR_EINVAL, "write(NULL, 1): EINVAL");
    is_int(weir_write(c.w, NULL, 0), 0, "write(NULL, 0) is empty");
    fake_send(c.f, 100);
    is_mem(c.f->sent, c.f->nsent, "GET / HTTP/1.1\r\n", 16,
           "writelines queued every part, in order, and the bad call queued nothing");

    weir_extra x;
    is_int(weir_get_extra_info(c.w, "answer", &x), 0, "get_extra_info passes through");
    ok(x.kind == WEIR_EXTRA_INT && x.num == 42, "with the transport's value");
    is_int(weir_get_extra_info(c.w, "nope", &x), WEIR_ENOENT, "unknown name: ENOENT");
    is_int(weir_get_extra_info(c.w, NULL, &x), WEIR_EINVAL, "NULL name: EINVAL");
    is_int(weir_get_extra_info(c.w, "answer", NULL), WEIR_EINVAL, "NULL out: EINVAL");
    ok(weir_writer_reader(c.w) == c.r, "weir_writer_reader");
    ok(weir_writer_transport(c.w) == &c.f->t, "weir_writer_transport");
    ok(c.f->t.protocol != NULL, "stream_open attached the protocol");

    is_int(weir_write(NULL, "x", 1), WEIR_EINVAL, "write(NULL writer)");
    is_int(weir_writelines(NULL, parts, 1), WEIR_EINVAL, "writelines(NULL writer)");
    is_int(weir_drain(NULL), WEIR_EINVAL, "drain(NULL)");
    is_int(weir_write_eof(NULL), WEIR_EINVAL, "write_eof(NULL)");
    is_int(weir_wait_closed(NULL), WEIR_EINVAL, "wait_closed(NULL)");
    is_int(weir_get_extra_info(NULL, "x", &x), WEIR_EINVAL, "get_extra_info(NULL)");
    ok(!weir_can_write_eof(NULL) && !weir_writer_is_closing(NULL), "NULL: false");
    ok(weir_writer_buffer_size(NULL) == 0 && !weir_writer_reader(NULL) &&
           !weir_writer_transport(NULL),
       "NULL: 0 / NULL");
    weir_writer_close(NULL);
    weir_writer_free(NULL);

    weir_reader *r;
    weir_writer *w;
    is_int(weir_stream_open(c.loop, &c.f->t, 0, &r, &w), WEIR_EINVAL, "stream_open limit 0");
    ok(r == NULL && w == NULL, "outputs cleared on failure");
    is_int(weir_stream_open(NULL, &c.f->t, 10, &r, &w), WEIR_EINVAL, "stream_open NULL loop");
    is_int(weir_stream_open(c.loop, NULL, 10, &r, &w), WEIR_EINVAL, "stream_open NULL t");
    is_int(weir_stream_open(c.loop, &c.f->t, 10, NULL, &w), WEIR_EINVAL, "NULL reader out");
    conn_free(&c);
}

static void test_cancel_and_free(void) {
    /* A cancelled drain leaves the waiter list; a later resume must not touch it. */
    conn c = conn_new();
    weir_write(c.w, zeros, HIGH + 1);
    drainer d1 = {.w = c.w}, d2 = {.w = c.w};
    weir_task *t1 = spawn_drain(c.loop, &d1), *t2 = spawn_drain(c.loop, &d2);
    weir_loop_run_ready(c.loop);
    weir_task_cancel(t1);
    weir_loop_run_ready(c.loop);
    ok(d1.done && d1.rc == WEIR_ECANCELED, "a cancelled drain returns ECANCELED");
    ok(!d2.done, "the other drain keeps waiting");
    weir_join(t1, NULL);
    fake_send(c.f, HIGH);
    weir_loop_run_ready(c.loop);
    ok(d2.done && d2.rc == 0, "resume wakes the remaining drain");
    weir_join(t2, NULL);
    conn_free(&c);

    /* Freeing the writer while a drain waits and connection_lost is scheduled. */
    c = conn_new();
    weir_write(c.w, zeros, HIGH + 1);
    drainer d3 = {.w = c.w};
    weir_task *t3 = spawn_drain(c.loop, &d3);
    weir_loop_run_ready(c.loop);
    int freed = fakes_freed;
    weir_writer_free(c.w);
    is_int(fakes_freed - freed, 1, "free released the transport");
    weir_loop_run_ready(c.loop);
    ok(d3.done && d3.rc == WEIR_ECONNLOST, "a drain waiting on a freed writer: ECONNLOST");
    weir_join(t3, NULL);
    weir_loop_free(c.loop);

    /* An open (or merely closing) writer is aborted on free; a lost one is not. */
    c = conn_new();
    weir_write(c.w, "x", 1);
    weir_writer_close(c.w); /* closing, the byte still queued: not lost yet */
    int before = fake_aborts;
    weir_writer_free(c.w);
    is_int(fake_aborts - before, 1, "free aborts a connection that is not lost yet");
    weir_loop_free(c.loop);

    c = conn_new();
    weir_writer_close(c.w);
    weir_loop_run(c.loop);
    before = fake_aborts;
    weir_writer_free(c.w);
    is_int(fake_aborts - before, 0, "free does not abort a connection already lost");
    weir_loop_free(c.loop);
}

int main(void) {
    test_wbuf();
    test_limits();
    test_drain_below_high();
    test_drain_wakes_at_low();
    test_many_drains();
    test_drain_reader_exception();
    test_connection_lost();
    test_close();
    test_write_eof();
    test_writelines_and_args();
    test_cancel_and_free();
    return done_testing();
}
