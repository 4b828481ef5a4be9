/* tests/unit/test_reader.c - the StreamReader through its C API, where the scenario language
 * cannot reach: random chunkings that must lose no byte, line iteration, reads outside any
 * task (WEIR_EAGAIN), reads in tasks that are cancelled, time out or are woken by an
 * exception, concurrent reads, error details, flow control against a fake transport, and a
 * 1 MiB line fed a byte at a time. All on the virtual backend, so times are exact. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"
#include "tap.h"

#define is_str(got, got_len, want, ...)                                                            \
    tap_is_mem((got), (got_len), (want), strlen(want), __FILE__, __LINE__, __VA_ARGS__)

static void bail(const char *what) {
    printf("Bail out! %s\n", what);
    exit(1);
}

static weir_loop *new_loop(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_virtual(&loop) != 0 || !loop) bail("weir_loop_new_virtual failed");
    return loop;
}

static weir_reader *new_reader(int64_t limit) {
    weir_reader *r = NULL;
    if (weir_reader_new(limit, &r) != 0 || !r) bail("weir_reader_new failed");
    return r;
}

static void feed(weir_reader *r, const char *s) {
    if (weir_reader_feed(r, s, strlen(s)) != 0) bail("feed failed");
}

static weir_task *spawn(weir_loop *loop, weir_task_fn fn, void *arg) {
    weir_task *t = NULL;
    if (weir_spawn(loop, fn, arg, NULL, &t) != 0 || !t) bail("weir_spawn failed");
    return t;
}

/* Join t; a task still blocked (a failed expectation) is cancelled first, so it never
 * outlives the objects it uses. */
static void finish(weir_loop *loop, weir_task *t) {
    if (!weir_task_done(t)) {
        weir_task_cancel(t);
        weir_loop_run_ready(loop);
    }
    if (weir_join(t, NULL) != 0) bail("a task would not finish");
}

/* The message of the reader's last failed read, as a view. */
static weir_bytes err_msg(const weir_reader *r) {
    const weir_error *e = weir_reader_error(r);
    return weir_bytes_of(e->message ? e->message : "", e->message_len);
}

/* --- one read in a task, with everything it returned copied out ------------------------- */

typedef enum { OP_READ, OP_READEXACTLY, OP_READUNTIL, OP_READUNTIL_ANY, OP_READLINE } op_kind;

typedef struct op {
    /* what to do */
    weir_reader *r;
    op_kind kind;
    int64_t n;              /* read, readexactly */
    const char *sep;        /* readuntil (strlen) */
    const weir_bytes *seps; /* readuntil_any */
    size_t nseps;
    int64_t deadline_in; /* relative deadline (negative: already passed); 0: none */
    /* what happened */
    bool done;
    int rc;
    int64_t t_start, t_end;
    char *got; /* owned copies, freed by op_clear */
    size_t got_len;
    char *msg;
    size_t msg_len;
    char *partial;
    size_t partial_len;
    int64_t expected, consumed;
} op;

static int run_op(weir_reader *r, op_kind kind, int64_t n, const char *sep, const weir_bytes *seps,
                  size_t nseps, weir_bytes *out) {
    switch (kind) {
        case OP_READ:
            return weir_read(r, n, out);
        case OP_READEXACTLY:
            return weir_readexactly(r, n, out);
        case OP_READUNTIL:
            return weir_readuntil(r, sep, strlen(sep), out);
        case OP_READUNTIL_ANY:
            return weir_readuntil_any(r, seps, nseps, out);
        case OP_READLINE:
            return weir_readline(r, out);
    }
    return WEIR_EINVAL;
}

static int op_task(void *arg) {
    op *o = arg;
    o->t_start = weir_now();
    if (o->deadline_in) weir_deadline_set(weir_now() + o->deadline_in);
    weir_bytes out = {NULL, 0};
    o->rc = run_op(o->r, o->kind, o->n, o->sep, o->seps, o->nseps, &out);
    o->t_end = weir_now();
    const weir_error *e = weir_reader_error(o->r);
    o->got = weir_bytes_dup(out);
    o->got_len = out.len;
    o->msg = weir_bytes_dup(err_msg(o->r));
    o->msg_len = e->message_len;
    o->partial = weir_bytes_dup(e->partial);
    o->partial_len = e->partial.len;
    o->expected = e->expected;
    o->consumed = e->consumed;
    o->done = true;
    return o->rc;
}

static void op_clear(op *o) {
    free(o->got);
    free(o->msg);
    free(o->partial);
}

/* --- a seeded PRNG (splitmix64), so every failure can be replayed ------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *g) {
    uint64_t z = (g->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t below(rng *g, size_t n) { return n ? (size_t)(rnd(g) % n) : 0; }

/* A growing byte string. */
typedef struct sink {
    uint8_t *p;
    size_t len, cap;
} sink;

static void sink_put(sink *s, const void *p, size_t n) {
    if (n == 0) return;
    if (s->cap - s->len < n) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap - s->len < n) cap *= 2;
        uint8_t *q = realloc(s->p, cap);
        if (!q) bail("out of memory");
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

/* First start of needle in hay, or -1. */
static int64_t find_mem(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t n) {
    if (n > hay_len) return -1;
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0) return (int64_t)i;
    return -1;
}

/* --- nothing lost: random feeds and random reads ----------------------------------------- */

/* A stream over a small alphabet, so random separators match now and then. */
static uint8_t *random_stream(rng *g, size_t len) {
    static const char alphabet[] = "aabbcd\n\0";
    uint8_t *s = malloc(len ? len : 1);
    if (!s) bail("out of memory");
    for (size_t i = 0; i < len; i++) s[i] = (uint8_t)alphabet[below(g, sizeof alphabet - 1)];
    return s;
}

typedef struct fuzz {
    weir_reader *r;
    int64_t limit;
    rng g;
    const uint8_t *stream;
    size_t len;
    size_t max_chunk;
    sink got;
    bool failed;
    char why[200];
    size_t ops, waits_possible, limits, incompletes;
} fuzz;

static void fuzz_fail(fuzz *f, const char *what, int rc) {
    if (f->failed) return;
    f->failed = true;
    snprintf(f->why, sizeof f->why, "%s (rc %s) after %zu ops, %zu bytes out", what,
             weir_errname(rc), f->ops, f->got.len);
}

/* Append returned bytes, checking them against the stream at once (a precise diagnosis). */
static void fuzz_take(fuzz *f, weir_bytes b, const char *what) {
    if (f->got.len + b.len > f->len || memcmp(f->stream + f->got.len, b.data, b.len) != 0)
        fuzz_fail(f, what, 0);
    sink_put(&f->got, b.data, b.len);
}

/* The separators a successful readuntil saw: the output ends with the match that ends
 * first (no separator ends earlier), and the winner starts at or before the limit. */
static void fuzz_check_until(fuzz *f, weir_bytes out, const weir_bytes *seps, size_t nseps) {
    bool ends = false;
    size_t winner = SIZE_MAX;
    for (size_t i = 0; i < nseps; i++) {
        int64_t at = find_mem(out.data, out.len, seps[i].data, seps[i].len);
        if (at >= 0 && (size_t)at + seps[i].len < out.len) fuzz_fail(f, "an earlier match", 0);
        if (at >= 0 && (size_t)at + seps[i].len == out.len) {
            ends = true;
            if (seps[i].len < winner) winner = seps[i].len;
        }
    }
    if (!ends)
        fuzz_fail(f, "readuntil output does not end with a separator", 0);
    else if ((int64_t)(out.len - winner) > f->limit)
        fuzz_fail(f, "match past the limit", 0);
}

/* One random read; `in_task` says whether it may wait. Returns its rc. */
static int fuzz_step(fuzz *f, bool in_task) {
    static const char *const pool[] = {"a",  "b",   "\n",  "ab",   "ba",  "cd",
                                       "\0", "aab", "bcd", "\n\n", "dab", "abab"};
    static const size_t pool_len[] = {1, 1, 1, 2, 2, 2, 1, 3, 3, 2, 3, 4};
    weir_reader *r = f->r;
    weir_bytes out = {NULL, 0};
    weir_bytes seps[12];
    size_t nseps = 0;
    size_t before = weir_reader_buffered(r);
    int rc;
    f->ops++;
    size_t pick = below(&f->g, 20);
    if (in_task && below(&f->g, 400) == 0) pick = 20; /* read(-1) ends the run: rarely */
    if (pick < 5) {
        /* read(n) */
        int64_t n = (int64_t)below(&f->g, 300) + 1;
        rc = weir_read(r, n, &out);
        if (rc == 0) {
            if ((int64_t)out.len > n) fuzz_fail(f, "read(n) returned more than n", rc);
            if (out.len == 0 && !weir_reader_at_eof(r)) fuzz_fail(f, "empty read before EOF", rc);
            fuzz_take(f, out, "read(n) bytes");
        }
    } else if (pick < 9) {
        /* readexactly(n) */
        int64_t n = (int64_t)below(&f->g, 300);
        rc = weir_readexactly(r, n, &out);
        if (rc == 0) {
            if ((int64_t)out.len != n) fuzz_fail(f, "readexactly length", rc);
            fuzz_take(f, out, "readexactly bytes");
        } else if (rc == WEIR_EINCOMPLETE) {
            const weir_error *e = weir_reader_error(r);
            if (e->expected != n || (int64_t)e->partial.len >= n)
                fuzz_fail(f, "readexactly IncompleteReadError details", rc);
            if (weir_reader_buffered(r) != 0) fuzz_fail(f, "buffer kept after Incomplete", rc);
            fuzz_take(f, e->partial, "readexactly partial");
            f->incompletes++;
        }
    } else if (pick < 20) {
        /* readuntil, one separator or several */
        bool multi = below(&f->g, 2);
        nseps = multi ? below(&f->g, 12) + 1 : 1;
        for (size_t i = 0; i < nseps; i++) {
            size_t k = below(&f->g, 12);
            seps[i] = weir_bytes_of(pool[k], pool_len[k]);
        }
        rc = multi ? weir_readuntil_any(r, seps, nseps, &out)
                   : weir_readuntil(r, seps[0].data, seps[0].len, &out);
        if (rc == 0) {
            fuzz_check_until(f, out, seps, nseps);
            fuzz_take(f, out, "readuntil bytes");
        } else if (rc == WEIR_EINCOMPLETE) {
            const weir_error *e = weir_reader_error(r);
            if (e->expected != -1) fuzz_fail(f, "readuntil expected != -1", rc);
            fuzz_take(f, e->partial, "readuntil partial");
            f->incompletes++;
        } else if (rc == WEIR_ELIMIT) {
            f->limits++;
            /* LimitOverrunError never changes the buffer (nothing happened in between
             * unless the read waited first). */
            if (!in_task && weir_reader_buffered(r) != before)
                fuzz_fail(f, "LimitOverrunError changed the buffer", rc);
        }
    } else {
        /* read(-1): rare, it waits for EOF */
        rc = weir_read(r, -1, &out);
        if (rc == 0) {
            if (!weir_reader_at_eof(r)) fuzz_fail(f, "read(-1) returned before EOF", rc);
            fuzz_take(f, out, "read(-1) bytes");
        }
    }
    if (rc == WEIR_EAGAIN) {
        if (in_task) fuzz_fail(f, "EAGAIN inside a task", rc);
        if (weir_reader_buffered(r) != before) fuzz_fail(f, "EAGAIN consumed bytes", rc);
        if (out.data == NULL || out.len != 0) fuzz_fail(f, "EAGAIN output not empty", rc);
        if (weir_reader_error(r)->code != WEIR_EAGAIN) fuzz_fail(f, "EAGAIN not in error", rc);
    } else if (rc != 0 && rc != WEIR_EINCOMPLETE && rc != WEIR_ELIMIT) {
        fuzz_fail(f, "unexpected error", rc);
    }
    return rc;
}

static int fuzz_feeder(void *arg) {
    fuzz *f = arg;
    rng g = {f->g.s ^ 0x5555};
    size_t pos = 0;
    while (pos < f->len) {
        size_t n = below(&g, f->max_chunk + 1); /* 0 now and then: a no-op feed */
        if (n > f->len - pos) n = f->len - pos;
        if (weir_reader_feed(f->r, f->stream + pos, n) != 0) fuzz_fail(f, "feed failed", 0);
        pos += n;
        for (size_t y = below(&g, 3); y > 0; y--) weir_yield();
    }
    weir_reader_feed_eof(f->r);
    return 0;
}

static int fuzz_reader(void *arg) {
    fuzz *f = arg;
    while (!weir_reader_at_eof(f->r) && !f->failed) fuzz_step(f, true);
    return 0;
}

static void fuzz_setup(fuzz *f, uint64_t seed, rng *g) {
    static const int64_t limits[] = {1, 3, 16, 100, 65536};
    static const size_t chunks[] = {1, 5, 64, 1000, 9000};
    memset(f, 0, sizeof *f);
    f->g.s = seed;
    f->limit = limits[below(g, 5)];
    f->max_chunk = chunks[below(g, 5)];
    f->len = below(g, 4) == 0 ? below(g, 10) : below(g, 20000);
    f->r = new_reader(f->limit);
}

static void test_nothing_lost_in_tasks(void) {
    size_t ops = 0, limits = 0, incompletes = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        rng g = {seed * 7919};
        fuzz f;
        fuzz_setup(&f, seed, &g);
        uint8_t *stream = random_stream(&g, f.len);
        f.stream = stream;
        weir_loop *loop = new_loop();
        weir_task *reader = spawn(loop, fuzz_reader, &f);
        weir_task *feeder = spawn(loop, fuzz_feeder, &f);
        int rc = weir_loop_run(loop);
        finish(loop, reader);
        finish(loop, feeder);
        bool same = f.got.len == f.len && (f.len == 0 || memcmp(f.got.p, stream, f.len) == 0);
        ok(rc == 0 && !f.failed && same && weir_reader_buffered(f.r) == 0,
           "seed %llu (limit %lld, chunks <= %zu, %zu bytes): every byte fed comes out once, "
           "in order",
           (unsigned long long)seed, (long long)f.limit, f.max_chunk, f.len);
        if (f.failed) printf("#   %s\n", f.why);
        if (rc) printf("#   loop: %s\n", weir_errname(rc));
        ops += f.ops;
        limits += f.limits;
        incompletes += f.incompletes;
        free(f.got.p);
        free(stream);
        weir_loop_free(loop);
        weir_reader_free(f.r);
    }
    /* The runs above must actually exercise the error paths, or they prove little. */
    ok(limits > 20, "the random runs hit LimitOverrunError (%zu times)", limits);
    ok(incompletes > 20, "the random runs hit IncompleteReadError (%zu times)", incompletes);
    ok(ops > 5000, "the random runs made %zu reads", ops);
}

/* The same outside any task: a read that would wait returns WEIR_EAGAIN and consumes
 * nothing, and the test feeds the next chunk. */
static void test_nothing_lost_outside_tasks(void) {
    size_t eagains = 0;
    for (uint64_t seed = 101; seed <= 160; seed++) {
        rng g = {seed * 104729};
        fuzz f;
        fuzz_setup(&f, seed, &g);
        uint8_t *stream = random_stream(&g, f.len);
        f.stream = stream;
        size_t pos = 0;
        while (!weir_reader_at_eof(f.r) && !f.failed && f.ops < 1000000) {
            if (fuzz_step(&f, false) != WEIR_EAGAIN) continue;
            eagains++;
            if (pos == f.len) {
                weir_reader_feed_eof(f.r);
                continue;
            }
            size_t n = below(&g, f.max_chunk) + 1;
            if (n > f.len - pos) n = f.len - pos;
            if (weir_reader_feed(f.r, stream + pos, n) != 0) fuzz_fail(&f, "feed failed", 0);
            pos += n;
        }
        bool same = f.got.len == f.len && (f.len == 0 || memcmp(f.got.p, stream, f.len) == 0);
        ok(!f.failed && same && pos == f.len,
           "seed %llu outside tasks (limit %lld, %zu bytes): EAGAIN consumed nothing, every "
           "byte came out once",
           (unsigned long long)seed, (long long)f.limit, f.len);
        if (f.failed) printf("#   %s\n", f.why);
        free(f.got.p);
        free(stream);
        weir_reader_free(f.r);
    }
    ok(eagains > 500, "the runs outside tasks hit WEIR_EAGAIN (%zu times)", eagains);
}

/* --- line iteration ------------------------------------------------------------------ */

typedef struct lines {
    weir_reader *r;
    sink all;
    int count, last_rc;
} lines;

static int iterate_lines(void *arg) {
    lines *l = arg;
    weir_bytes line;
    int rc;
    while ((rc = weir_reader_next_line(l->r, &line)) > 0) {
        /* Every line but the last ends with "\n" and holds no other one. */
        const uint8_t *nl = memchr(line.data, '\n', line.len);
        if (nl && nl != line.data + line.len - 1) l->last_rc = 99;
        sink_put(&l->all, line.data, line.len);
        l->count++;
    }
    if (l->last_rc != 99) l->last_rc = rc;
    return 0;
}

static void test_next_line(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes line = {NULL, 7};
    feed(r, "one\ntwo\n\nlast");
    is_int(weir_reader_next_line(r, &line), 1, "next_line: 1 for a line");
    is_bytes(line, "one\n", "next_line: the line with its newline");
    is_int(weir_reader_next_line(r, &line), 1, "next_line: second line");
    is_bytes(line, "two\n", "next_line: second line's bytes");
    is_int(weir_reader_next_line(r, &line), 1, "next_line: an empty line is still a line");
    is_bytes(line, "\n", "next_line: the empty line is \"\\n\"");
    is_int(weir_reader_next_line(r, &line), WEIR_EAGAIN,
           "next_line: a partial line before EOF outside a task is EAGAIN, not the end");
    is_int(weir_reader_buffered(r), 4, "next_line: EAGAIN kept the partial line");
    weir_reader_feed_eof(r);
    is_int(weir_reader_next_line(r, &line), 1, "next_line: the partial last line at EOF");
    is_bytes(line, "last", "next_line: the partial last line's bytes");
    is_int(weir_reader_next_line(r, &line), 0, "next_line: 0 at the clean EOF");
    ok(line.data != NULL && line.len == 0, "next_line: an empty view at the end");
    is_int(weir_reader_next_line(r, &line), 0, "next_line: 0 again after the end");
    weir_reader_free(r);

    /* Errors propagate: an over-long line, then the following line still comes. */
    r = new_reader(4);
    feed(r, "toolong\nok\nxxxxxxxxxx");
    weir_reader_feed_eof(r);
    is_int(weir_reader_next_line(r, &line), WEIR_ETOOLONG, "next_line: ETOOLONG propagates");
    is_str((const char *)err_msg(r).data, err_msg(r).len,
           "Separator is found, but chunk is longer than limit",
           "next_line: ETOOLONG carries readline's message");
    is_int(weir_reader_next_line(r, &line), 1, "next_line: the line after the dropped one");
    is_bytes(line, "ok\n", "next_line: it is intact");
    /* "xxxxxxxxxx" at EOF: over the limit without a separator is LimitOverrun, not a
     * partial line, so ETOOLONG again (CPython's order: found, limit, EOF). */
    is_int(weir_reader_next_line(r, &line), WEIR_ETOOLONG,
           "next_line: an over-limit partial last line is ETOOLONG");
    is_int(weir_reader_next_line(r, &line), 0, "next_line: then the end");
    weir_reader_free(r);

    r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "a\n");
    static const char boom[] = "boom\0!";
    is_int(weir_reader_set_exception(r, WEIR_EUSER - 3, boom, sizeof boom - 1), 0, "set_exception");
    is_int(weir_reader_next_line(r, &line), WEIR_EUSER - 3,
           "next_line: the set exception propagates, buffered line or not");
    is_mem(err_msg(r).data, err_msg(r).len, boom, sizeof boom - 1, "next_line: with its message");
    weir_reader_free(r);

    /* In a task, lines split across many small feeds. */
    weir_loop *loop = new_loop();
    r = new_reader(64);
    lines l = {r, {0}, 0, 0};
    weir_task *t = spawn(loop, iterate_lines, &l);
    static const char text[] = "alpha\nbeta\n\ngamma delta\nend";
    for (size_t i = 0; i < sizeof text - 1; i += 3) {
        size_t n = sizeof text - 1 - i < 3 ? sizeof text - 1 - i : 3;
        weir_reader_feed(r, text + i, n);
        weir_loop_run_ready(loop);
    }
    ok(!weir_task_done(t), "line iteration in a task waits for EOF");
    weir_reader_feed_eof(r);
    is_int(weir_loop_run(loop), 0, "line iteration finishes at EOF");
    is_int(l.count, 5, "line iteration: 5 lines, the last one partial");
    is_int(l.last_rc, 0, "line iteration ends with 0");
    is_mem(l.all.p, l.all.len, text, sizeof text - 1, "line iteration: the lines make the text");
    finish(loop, t);
    free(l.all.p);
    weir_loop_free(loop);
    weir_reader_free(r);
}

/* --- outside any task ---------------------------------------------------------------- */

static void test_eagain_outside_task(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out = {NULL, 99};
    weir_bytes two[2] = {WEIR_LIT("x"), WEIR_LIT("yz")};

    is_int(weir_read(r, 1, &out), WEIR_EAGAIN, "read(1) on an empty reader: EAGAIN");
    ok(out.data != NULL && out.len == 0, "EAGAIN: an empty, non-NULL view");
    is_int(weir_reader_error(r)->code, WEIR_EAGAIN, "EAGAIN recorded in weir_reader_error");
    is_int(weir_read(r, -1, &out), WEIR_EAGAIN, "read(-1) on an empty reader: EAGAIN");
    is_int(weir_readexactly(r, 1, &out), WEIR_EAGAIN, "readexactly(1): EAGAIN");
    is_int(weir_readline(r, &out), WEIR_EAGAIN, "readline: EAGAIN");
    is_int(weir_readuntil(r, "x", 1, &out), WEIR_EAGAIN, "readuntil: EAGAIN");
    is_int(weir_readuntil_any(r, two, 2, &out), WEIR_EAGAIN, "readuntil_any: EAGAIN");
    is_int(weir_read(r, 0, &out), 0, "read(0) never waits");
    is_int(weir_readexactly(r, 0, &out), 0, "readexactly(0) never waits");

    feed(r, "abc\ndef");
    is_int(weir_read(r, -1, &out), WEIR_EAGAIN, "read(-1) before EOF with data: EAGAIN");
    is_int(weir_reader_buffered(r), 7, "read(-1)'s EAGAIN consumed nothing");
    is_int(weir_readexactly(r, 8, &out), WEIR_EAGAIN, "readexactly(8) with 7 bytes: EAGAIN");
    is_int(weir_reader_buffered(r), 7, "readexactly's EAGAIN consumed nothing");
    is_int(weir_readuntil(r, "zz", 2, &out), WEIR_EAGAIN, "readuntil(missing): EAGAIN");
    is_int(weir_reader_buffered(r), 7, "readuntil's EAGAIN consumed nothing");
    is_int(weir_readuntil_any(r, two, 2, &out), WEIR_EAGAIN, "readuntil_any(missing): EAGAIN");
    is_int(weir_reader_buffered(r), 7, "readuntil_any's EAGAIN consumed nothing");

    is_int(weir_readline(r, &out), 0, "readline served from the buffer outside a task");
    is_bytes(out, "abc\n", "readline's line");
    is_int(weir_readline(r, &out), WEIR_EAGAIN, "readline of a partial line: EAGAIN");
    is_int(weir_reader_buffered(r), 3, "readline's EAGAIN kept the partial line");
    is_int(weir_read(r, 2, &out), 0, "read(2) served from the buffer");
    is_bytes(out, "de", "read(2)'s bytes");
    feed(r, "xyz!");
    is_int(weir_readuntil_any(r, two, 2, &out), 0, "readuntil_any served from the buffer");
    is_bytes(out, "fx", "readuntil_any stops at the first match");
    is_int(weir_readexactly(r, 3, &out), 0, "readexactly served from the buffer");
    is_bytes(out, "yz!", "readexactly's bytes");
    feed(r, "tail");
    weir_reader_feed_eof(r);
    is_int(weir_read(r, -1, &out), 0, "read(-1) after EOF works outside a task");
    is_bytes(out, "tail", "read(-1) returns everything");
    ok(weir_reader_at_eof(r), "at_eof after read(-1)");
    is_int(weir_read(r, 5, &out), 0, "read(5) at EOF: no wait");
    ok(out.data != NULL && out.len == 0, "read(5) at EOF: empty");
    weir_reader_free(r);
}

/* --- inside tasks: cancel, deadline, set_exception, concurrency ------------------------ */

static void test_cancel_waiting_read(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "abc");
    static const op_kind kinds[] = {OP_READUNTIL, OP_READEXACTLY, OP_READLINE};
    static const char *const names[] = {"readuntil", "readexactly", "readline"};
    for (int k = 0; k < 3; k++) {
        op o = {.r = r, .kind = kinds[k], .n = 10, .sep = "\n"};
        weir_task *t = spawn(loop, op_task, &o);
        weir_loop_run_ready(loop);
        ok(!o.done, "%s waits for more data", names[k]);
        weir_task_cancel(t);
        weir_loop_run_ready(loop);
        ok(o.done, "%s returns once its task is cancelled", names[k]);
        is_int(o.rc, WEIR_ECANCELED, "%s: WEIR_ECANCELED", names[k]);
        is_int(weir_reader_error(r)->code, WEIR_ECANCELED, "%s: recorded as the error", names[k]);
        is_int(weir_reader_buffered(r), 3, "%s: the buffered data stays", names[k]);
        finish(loop, t);
        op_clear(&o);
    }
    /* The reader is still usable: a new task can wait and read. */
    op o = {.r = r, .kind = OP_READLINE};
    weir_task *t = spawn(loop, op_task, &o);
    weir_loop_run_ready(loop);
    ok(!o.done, "a new task can wait on the reader after the cancellations");
    feed(r, "\nrest");
    weir_loop_run_ready(loop);
    ok(o.done && o.rc == 0, "it gets the line");
    is_str(o.got, o.got_len, "abc\n", "with the bytes buffered before the cancellations");
    is_int(weir_reader_buffered(r), 4, "the rest stays buffered");
    finish(loop, t);
    op_clear(&o);

    /* A task cancelled before its read waits fails at once, consuming nothing. */
    op early = {.r = r, .kind = OP_READEXACTLY, .n = 100};
    t = spawn(loop, op_task, &early);
    weir_task_cancel(t);
    weir_loop_run_ready(loop);
    ok(early.done && early.rc == WEIR_ECANCELED, "a read in a task cancelled before it starts");
    is_int(weir_reader_buffered(r), 4, "consumed nothing");
    finish(loop, t);
    op_clear(&early);
    weir_loop_free(loop);
    weir_reader_free(r);
}

static int feed_later(void *arg) {
    weir_reader *r = arg;
    weir_sleep(20 * WEIR_MS);
    feed(r, "!\n");
    return 0;
}

static void test_deadline_waiting_read(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "abc");
    is_int(weir_loop_run_until(loop, 5 * WEIR_MS), 0, "advance the clock to 5ms");

    op o = {.r = r, .kind = OP_READUNTIL, .sep = "\n", .deadline_in = 50 * WEIR_MS};
    weir_task *t = spawn(loop, op_task, &o);
    is_int(weir_loop_run(loop), 0, "the loop runs until the deadline fires");
    ok(o.done, "the waiting readuntil returned");
    is_int(o.rc, WEIR_ETIMEDOUT, "readuntil: WEIR_ETIMEDOUT");
    is_int(o.t_start, 5 * WEIR_MS, "it started at 5ms");
    is_int(o.t_end, 55 * WEIR_MS, "it returned at exactly its deadline (55ms)");
    is_int(weir_reader_error(r)->code, WEIR_ETIMEDOUT, "recorded as the error");
    is_int(weir_reader_buffered(r), 3, "the buffered data stays");
    finish(loop, t);
    op_clear(&o);

    /* Data before the deadline: no timeout, and the deadline's timer does not linger. */
    op o2 = {.r = r, .kind = OP_READUNTIL, .sep = "\n", .deadline_in = 50 * WEIR_MS};
    t = spawn(loop, op_task, &o2);
    weir_task *f = spawn(loop, feed_later, r);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(o2.rc, 0, "data arriving before the deadline completes the read");
    is_str(o2.got, o2.got_len, "abc!\n", "with the data kept from the timed-out read");
    is_int(o2.t_end - o2.t_start, 20 * WEIR_MS, "at the time of the feed");
    finish(loop, t);
    finish(loop, f);
    op_clear(&o2);

    /* A deadline already passed: reads served from the buffer still succeed, a read that
     * would wait fails at once. */
    feed(r, "xyz");
    op o3 = {.r = r, .kind = OP_READ, .n = 2, .deadline_in = -1};
    t = spawn(loop, op_task, &o3);
    weir_loop_run(loop);
    is_int(o3.rc, 0, "read served from the buffer after the deadline passed");
    is_str(o3.got, o3.got_len, "xy", "its bytes");
    finish(loop, t);
    op_clear(&o3);
    op o4 = {.r = r, .kind = OP_READEXACTLY, .n = 5, .deadline_in = -1};
    t = spawn(loop, op_task, &o4);
    weir_loop_run(loop);
    is_int(o4.rc, WEIR_ETIMEDOUT, "readexactly that must wait past its deadline: ETIMEDOUT");
    is_int(o4.t_end, o4.t_start, "at once");
    is_int(weir_reader_buffered(r), 1, "consuming nothing");
    finish(loop, t);
    op_clear(&o4);
    weir_loop_free(loop);
    weir_reader_free(r);
}

static void test_exception_wakes_waiter(void) {
    static const char msg[] = "bad\0thing\0";
    const size_t msg_len = sizeof msg - 1; /* 10, with two NULs */
    static const op_kind kinds[] = {OP_READ,     OP_READEXACTLY,   OP_READUNTIL,
                                    OP_READLINE, OP_READUNTIL_ANY, OP_READ};
    static const char *const names[] = {"read(1)",  "readexactly",   "readuntil",
                                        "readline", "readuntil_any", "read(-1)"};
    static const weir_bytes seps[3] = {WEIR_LIT("zz"), WEIR_LIT("q"), WEIR_LIT("\n")};
    for (int k = 0; k < 6; k++) {
        weir_loop *loop = new_loop();
        weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
        if (k != 0) feed(r, "abc"); /* read(1) only waits on an empty buffer */
        op o = {.r = r,
                .kind = kinds[k],
                .n = k == 5   ? -1
                     : k == 0 ? 1
                              : 10,
                .sep = "\n",
                .seps = seps,
                .nseps = 3};
        weir_task *t = spawn(loop, op_task, &o);
        weir_loop_run_ready(loop);
        ok(!o.done, "%s waits", names[k]);
        int code = WEIR_EUSER - 7 - k;
        is_int(weir_reader_set_exception(r, code, msg, msg_len), 0, "set_exception");
        weir_loop_run_ready(loop);
        ok(o.done, "%s woken by set_exception", names[k]);
        is_int(o.rc, code, "%s fails with the exception's code", names[k]);
        is_mem(o.msg, o.msg_len, msg, msg_len, "%s: its message, NULs and exact length", names[k]);
        /* read(-1) took "abc" before waiting: lost, as in asyncio. */
        is_int(weir_reader_buffered(r), k == 5 ? 0 : (k == 0 ? 0 : 3), "%s: the buffer is kept",
               names[k]);
        const weir_error *e = weir_reader_exception(r);
        ok(e && e->code == code && e->message_len == msg_len &&
               memcmp(e->message, msg, msg_len) == 0 && e->message[msg_len] == '\0',
           "%s: weir_reader_exception reports it, NUL-terminated", names[k]);
        weir_bytes out;
        is_int(weir_read(r, 0, &out), code, "%s: read(0) afterwards raises it too", names[k]);
        finish(loop, t);
        op_clear(&o);
        weir_loop_free(loop);
        weir_reader_free(r);
    }

    /* A core code works as an exception as well (the stream layer sets WEIR_ECONNRESET). */
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    op o = {.r = r, .kind = OP_READLINE};
    weir_task *t = spawn(loop, op_task, &o);
    weir_loop_run_ready(loop);
    weir_reader_set_exception(r, WEIR_ECONNRESET, "reset by peer", 13);
    weir_loop_run_ready(loop);
    is_int(o.rc, WEIR_ECONNRESET, "readline woken with WEIR_ECONNRESET");
    is_str(o.msg, o.msg_len, "reset by peer", "and its message");
    finish(loop, t);
    op_clear(&o);
    weir_loop_free(loop);
    weir_reader_free(r);
}

static void test_exception_replaced_before_waiter_runs(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "abc");
    op o = {.r = r, .kind = OP_READUNTIL, .sep = "\n"};
    weir_task *t = spawn(loop, op_task, &o);
    weir_loop_run_ready(loop);
    weir_reader_set_exception(r, WEIR_EUSER - 1, "first", 5);
    weir_reader_set_exception(r, WEIR_EUSER - 2, "second!", 7);
    weir_loop_run_ready(loop);
    ok(o.done, "the waiting read was woken");
    is_int(o.rc, WEIR_EUSER - 1, "it fails with the first exception (its waiter got that one)");
    is_str(o.msg, o.msg_len, "first", "and the first message");
    const weir_error *e = weir_reader_exception(r);
    ok(e && e->code == WEIR_EUSER - 2, "weir_reader_exception reports the second");
    ok(e && e->message_len == 7 && memcmp(e->message, "second!", 7) == 0,
       "with the second message");
    weir_bytes out;
    is_int(weir_read(r, 1, &out), WEIR_EUSER - 2, "the next read raises the second");
    is_str((const char *)err_msg(r).data, err_msg(r).len, "second!", "with its message");
    is_int(weir_reader_buffered(r), 3, "the buffer is kept throughout");
    finish(loop, t);
    op_clear(&o);

    /* Fed and set_exception in the same step: the woken read never sees the exception. */
    weir_reader *r2 = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r2, "abc");
    op o2 = {.r = r2, .kind = OP_READUNTIL, .sep = "\n"};
    t = spawn(loop, op_task, &o2);
    weir_loop_run_ready(loop);
    feed(r2, "\n");
    weir_reader_set_exception(r2, WEIR_EUSER, "late", 4);
    weir_loop_run_ready(loop);
    is_int(o2.rc, 0, "a read woken by a feed completes despite a later set_exception");
    is_str(o2.got, o2.got_len, "abc\n", "with the data");
    finish(loop, t);
    op_clear(&o2);

    /* read(-1) checks the exception before each block: woken by a feed, it takes that
     * block, then raises the exception set in the same step instead of waiting again, and
     * the block is lost (asyncio's read(limit) loop). */
    weir_reader *r3 = new_reader(WEIR_DEFAULT_LIMIT);
    op o3 = {.r = r3, .kind = OP_READ, .n = -1};
    t = spawn(loop, op_task, &o3);
    weir_loop_run_ready(loop);
    feed(r3, "abc");
    weir_reader_set_exception(r3, WEIR_EUSER - 4, "between blocks", 14);
    weir_loop_run_ready(loop);
    ok(o3.done, "read(-1) woken by a feed does not wait again");
    is_int(o3.rc, WEIR_EUSER - 4, "it raises the exception set in the same step");
    is_int(weir_reader_buffered(r3), 0, "the block it took is lost, as in asyncio");
    finish(loop, t);
    op_clear(&o3);
    weir_loop_free(loop);
    weir_reader_free(r);
    weir_reader_free(r2);
    weir_reader_free(r3);
}

static void test_second_waiting_read(void) {
    static const struct {
        op_kind kind;
        int64_t n;
        const char *func;
    } second[] = {
        {OP_READ, 1, "read"},
        {OP_READ, -1, "read"},
        {OP_READEXACTLY, 2, "readexactly"},
        {OP_READUNTIL, 0, "readuntil"},
        {OP_READLINE, 0, "readuntil"},
        {OP_READUNTIL_ANY, 0, "readuntil"},
    };
    static const weir_bytes seps[2] = {WEIR_LIT("#"), WEIR_LIT("##")};
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    op first = {.r = r, .kind = OP_READEXACTLY, .n = 5};
    weir_task *t1 = spawn(loop, op_task, &first);
    weir_loop_run_ready(loop);
    ok(!first.done, "the first read waits");
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
        op o = {
            .r = r, .kind = second[i].kind, .n = second[i].n, .sep = "#", .seps = seps, .nseps = 2};
        weir_task *t = spawn(loop, op_task, &o);
        weir_loop_run_ready(loop);
        ok(o.done, "second %s(%lld) does not wait", second[i].func, (long long)second[i].n);
        is_int(o.rc, WEIR_EBUSY, "it fails with WEIR_EBUSY");
        char want[160];
        snprintf(want, sizeof want,
                 "%s() called while another coroutine is already waiting for incoming data",
                 second[i].func);
        is_str(o.msg, o.msg_len, want, "with asyncio's RuntimeError message");
        finish(loop, t);
        op_clear(&o);
    }
    /* One served from the buffer succeeds while the first still waits. */
    feed(r, "abc");
    weir_loop_run_ready(loop);
    op served = {.r = r, .kind = OP_READ, .n = 1};
    weir_task *t = spawn(loop, op_task, &served);
    weir_loop_run_ready(loop);
    is_int(served.rc, 0, "a second read served from the buffer succeeds");
    is_str(served.got, served.got_len, "a", "with the first byte");
    finish(loop, t);
    op_clear(&served);
    ok(!first.done, "the first read still waits");
    feed(r, "defg");
    weir_loop_run_ready(loop);
    ok(first.done && first.rc == 0, "the first read completes");
    is_str(first.got, first.got_len, "bcdef", "with the five bytes left for it");
    finish(loop, t1);
    op_clear(&first);
    weir_loop_free(loop);
    weir_reader_free(r);
}

/* BUG: read(-1) gathers its blocks in one buffer per reader; a second read(-1) that fails
 * with EBUSY first empties it, so the first one loses what it had gathered. */
static void test_read_all_survives_refused_second(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(4); /* read(-1) takes limit-sized blocks */
    feed(r, "abcdefgh");
    op first = {.r = r, .kind = OP_READ, .n = -1};
    weir_task *t1 = spawn(loop, op_task, &first);
    weir_loop_run_ready(loop);
    ok(!first.done && weir_reader_buffered(r) == 0, "read(-1) took the buffer and waits");
    op second = {.r = r, .kind = OP_READ, .n = -1};
    weir_task *t2 = spawn(loop, op_task, &second);
    weir_loop_run_ready(loop);
    is_int(second.rc, WEIR_EBUSY, "a second read(-1) is refused with WEIR_EBUSY");
    feed(r, "ij");
    weir_reader_feed_eof(r);
    weir_loop_run_ready(loop);
    is_int(first.rc, 0, "the first read(-1) completes at EOF");
    is_str(first.got, first.got_len, "abcdefghij",
           "the first read(-1) returns everything, including the blocks taken before the "
           "refused read");
    finish(loop, t1);
    finish(loop, t2);
    op_clear(&first);
    op_clear(&second);
    weir_loop_free(loop);
    weir_reader_free(r);
}

/* BUG: the message of the exception a waiter was woken with is kept per reader, and the
 * next read to wait resets it; if that happens before the woken task runs, the task gets
 * weir_strerror()'s text instead of the exception's message. */
typedef struct raise_arg {
    weir_reader *r;
} raise_arg;

static int raise_first(void *arg) {
    raise_arg *a = arg;
    weir_reader_set_exception(a->r, WEIR_EUSER - 9, "the real message", 16);
    return 0;
}

static void test_woken_exception_message_kept(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    op c = {.r = r, .kind = OP_READUNTIL, .sep = "\n"};
    weir_task *tc = spawn(loop, op_task, &c);
    weir_loop_run_ready(loop); /* C waits on an empty buffer */
    op a = {.r = r, .kind = OP_READUNTIL, .sep = "\n"};
    raise_arg ra = {r};
    weir_task *ta = spawn(loop, op_task, &a);
    weir_task *tf = spawn(loop, raise_first, &ra);
    feed(r, "x"); /* wakes C; the queue is now A, F, C */
    /* A waits; F's set_exception wakes A; C runs before A and waits again (readuntil does
     * not look at the exception once past its first check, as in asyncio). */
    weir_loop_run_ready(loop);
    ok(a.done, "the read woken by set_exception returned");
    is_int(a.rc, WEIR_EUSER - 9, "with the exception's code");
    is_str(a.msg, a.msg_len, "the real message", "and the exception's message");
    weir_task_cancel(tc); /* as in asyncio, C's waiter was dropped: nothing will wake it */
    weir_loop_run_ready(loop);
    ok(c.done, "the other read ends on cancel");
    finish(loop, ta);
    finish(loop, tc);
    finish(loop, tf);
    op_clear(&a);
    op_clear(&c);
    weir_loop_free(loop);
    weir_reader_free(r);
}

/* --- error details ------------------------------------------------------------------- */

static void test_error_details(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    feed(r, "abc");
    weir_reader_feed_eof(r);
    is_int(weir_readexactly(r, 5, &out), WEIR_EINCOMPLETE, "readexactly(5) at EOF with 3");
    const weir_error *e = weir_reader_error(r);
    is_int(e->code, WEIR_EINCOMPLETE, "error code");
    is_str(e->message, e->message_len, "3 bytes read on a total of 5 expected bytes",
           "IncompleteReadError message");
    ok(e->message[e->message_len] == '\0', "message NUL-terminated");
    is_int(e->expected, 5, "expected = 5");
    is_bytes(e->partial, "abc", "partial");
    is_int(weir_reader_buffered(r), 0, "the buffer was cleared");
    weir_reader_free(r);

    r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "abc");
    weir_reader_feed_eof(r);
    is_int(weir_readuntil(r, "\n", 1, &out), WEIR_EINCOMPLETE, "readuntil at EOF");
    e = weir_reader_error(r);
    is_str(e->message, e->message_len, "3 bytes read on a total of undefined expected bytes",
           "readuntil's IncompleteReadError message");
    is_int(e->expected, -1, "readuntil: expected -1 (None)");
    is_bytes(e->partial, "abc", "readuntil: partial");
    is_int(weir_readuntil(r, "\n", 1, &out), WEIR_EINCOMPLETE, "again on the empty buffer");
    is_str(e->message, e->message_len, "0 bytes read on a total of undefined expected bytes",
           "0 bytes");
    is_int(weir_read(r, 1, &out), 0, "a successful read after it");
    is_int(e->code, 0, "weir_reader_error's code is 0 after a success");
    weir_reader_free(r);

    r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "abc");
    weir_reader_feed_eof(r);
    is_int(weir_readexactly(r, INT64_MAX, &out), WEIR_EINCOMPLETE, "readexactly(INT64_MAX)");
    e = weir_reader_error(r);
    is_str(e->message, e->message_len,
           "3 bytes read on a total of 9223372036854775807 expected bytes",
           "message with INT64_MAX");
    is_int(e->expected, INT64_MAX, "expected INT64_MAX");
    weir_reader_free(r);

    /* LimitOverrunError: not found. */
    r = new_reader(4);
    feed(r, "abcdefgh");
    is_int(weir_readuntil(r, "\n", 1, &out), WEIR_ELIMIT, "no separator past the limit");
    e = weir_reader_error(r);
    is_str(e->message, e->message_len, "Separator is not found, and chunk exceed the limit",
           "not-found message");
    is_int(e->consumed, 8, "consumed = buflen + 1 - seplen = 8");
    is_int(weir_reader_buffered(r), 8, "the buffer is unchanged");
    is_int(weir_readuntil(r, "xyz", 3, &out), WEIR_ELIMIT, "3-byte separator");
    is_int(e->consumed, 6, "consumed = 8 + 1 - 3 = 6");
    weir_bytes seps[2] = {WEIR_LIT("x"), WEIR_LIT("xyzw")};
    is_int(weir_readuntil_any(r, seps, 2, &out), WEIR_ELIMIT, "tuple: the longest counts");
    is_int(e->consumed, 5, "consumed = 8 + 1 - 4 = 5");
    weir_reader_free(r);

    /* Found, but past the limit; the limit is inclusive. */
    r = new_reader(4);
    feed(r, "abcd\nabcde\n");
    is_int(weir_readuntil(r, "\n", 1, &out), 0, "separator starting at index limit: accepted");
    is_bytes(out, "abcd\n", "its line");
    is_int(weir_readuntil(r, "\n", 1, &out), WEIR_ELIMIT, "separator at limit + 1: refused");
    e = weir_reader_error(r);
    is_str(e->message, e->message_len, "Separator is found, but chunk is longer than limit",
           "found message");
    is_int(e->consumed, 5, "consumed = match start");
    is_int(weir_reader_buffered(r), 6, "the buffer is unchanged");
    is_int(weir_readuntil(r, "e\n", 2, &out), 0, "a separator starting within the limit");
    is_bytes(out, "abcde\n", "matches");
    weir_reader_free(r);

    /* readline turns them into ETOOLONG with the same message, dropping the line. */
    r = new_reader(4);
    feed(r, "abcdef\nxy\n");
    is_int(weir_readline(r, &out), WEIR_ETOOLONG, "readline: found past the limit");
    e = weir_reader_error(r);
    is_int(e->code, WEIR_ETOOLONG, "error code ETOOLONG");
    is_str(e->message, e->message_len, "Separator is found, but chunk is longer than limit",
           "readline keeps the found message");
    ok(out.data != NULL && out.len == 0, "no line");
    is_int(weir_reader_buffered(r), 3, "dropped through its newline");
    is_int(weir_readline(r, &out), 0, "the next line");
    is_bytes(out, "xy\n", "is intact");
    feed(r, "abcdefgh");
    is_int(weir_readline(r, &out), WEIR_ETOOLONG, "readline: not found past the limit");
    is_str(e->message, e->message_len, "Separator is not found, and chunk exceed the limit",
           "readline keeps the not-found message");
    is_int(weir_reader_buffered(r), 0, "the whole buffer dropped");
    feed(r, "ij\n");
    is_int(weir_readline(r, &out), 0, "the rest of the long line");
    is_bytes(out, "ij\n", "comes back as a line of its own");
    weir_reader_free(r);
}

/* --- flow control -------------------------------------------------------------------- */

typedef struct fake_tr {
    weir_transport base;
    int pauses, resumes;
} fake_tr;

static void fake_pause(weir_transport *t) { ((fake_tr *)t)->pauses++; }
static void fake_resume(weir_transport *t) { ((fake_tr *)t)->resumes++; }

static const weir_transport_ops fake_ops = {
    .name = "fake", .pause_reading = fake_pause, .resume_reading = fake_resume};
static const weir_transport_ops no_pause_ops = {.name = "no-pause", .resume_reading = fake_resume};
static const weir_transport_ops no_resume_ops = {.name = "no-resume", .pause_reading = fake_pause};

static void test_flow_control(void) {
    weir_bytes out;
    fake_tr tr = {{&fake_ops, NULL}, 0, 0};
    weir_reader *r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "12345678");
    ok(tr.pauses == 0 && !weir_reader_paused(r), "8 bytes = 2 x limit: not paused");
    feed(r, "9");
    is_int(tr.pauses, 1, "9 bytes > 2 x limit: pause_reading once");
    ok(weir_reader_paused(r), "weir_reader_paused");
    feed(r, "abcde");
    is_int(tr.pauses, 1, "more data while paused: no second pause");
    is_int(weir_read(r, 5, &out), 0, "read(5)");
    ok(tr.resumes == 0 && weir_reader_paused(r), "9 left > limit: still paused");
    is_int(weir_readexactly(r, 4, &out), 0, "readexactly(4)");
    ok(tr.resumes == 0, "5 left > limit: still paused");
    is_int(weir_read(r, 1, &out), 0, "read(1)");
    is_int(tr.resumes, 1, "4 left = limit: resume_reading once");
    ok(!weir_reader_paused(r), "not paused");
    is_int(weir_read(r, 1, &out), 0, "read(1)");
    is_int(tr.resumes, 1, "not resumed twice");
    feed(r, "xxxxxx");
    is_int(tr.pauses, 2, "over 2 x limit again: paused again");
    is_int(weir_readuntil(r, "x", 1, &out), 0, "readuntil from the buffer");
    is_int(tr.resumes, 1, "5 left: still paused");
    is_int(weir_readuntil(r, "xxxx", 4, &out), 0, "readuntil");
    is_int(tr.resumes, 2, "a readuntil that brings it to the limit resumes");
    weir_reader_free(r);

    /* readline's fast path resumes too. */
    tr.pauses = tr.resumes = 0;
    r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "abcd\nefgh");
    is_int(tr.pauses, 1, "paused");
    is_int(weir_readline(r, &out), 0, "readline from the buffer");
    is_int(tr.resumes, 1, "4 left: resumed");
    weir_reader_free(r);

    /* readline's ValueError path resumes; Incomplete and LimitOverrun do not. */
    tr.pauses = tr.resumes = 0;
    r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "abcdefghij");
    is_int(weir_readuntil(r, "\n", 1, &out), WEIR_ELIMIT, "readuntil: LimitOverrun");
    ok(tr.resumes == 0 && weir_reader_paused(r), "LimitOverrunError does not resume");
    is_int(weir_readline(r, &out), WEIR_ETOOLONG, "readline: over the limit");
    ok(tr.resumes == 1 && !weir_reader_paused(r), "readline's ValueError path resumes");
    feed(r, "0123456789");
    weir_reader_feed_eof(r);
    is_int(tr.pauses, 2, "paused again");
    is_int(weir_readexactly(r, 20, &out), WEIR_EINCOMPLETE, "readexactly at EOF");
    ok(tr.resumes == 1 && weir_reader_paused(r),
       "IncompleteReadError does not resume (as in asyncio), though the buffer is empty");
    weir_reader_free(r);

    /* read(-1) at EOF resumes. */
    tr.pauses = tr.resumes = 0;
    r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "0123456789");
    weir_reader_feed_eof(r);
    is_int(weir_read(r, -1, &out), 0, "read(-1) at EOF");
    ok(tr.resumes == 1 && !weir_reader_paused(r), "read(-1) resumes");
    weir_reader_free(r);

    /* A read that must wait resumes first (asyncio issue #99: readexactly(n > limit)). */
    tr.pauses = tr.resumes = 0;
    weir_loop *loop = new_loop();
    r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "123456789");
    op o = {.r = r, .kind = OP_READEXACTLY, .n = 20};
    weir_task *t = spawn(loop, op_task, &o);
    weir_loop_run_ready(loop);
    ok(!o.done, "readexactly(20) waits");
    ok(tr.resumes == 1 && !weir_reader_paused(r), "and resumed the transport first");
    feed(r, "abcdefghijk");
    is_int(tr.pauses, 2, "the next feed pauses again");
    weir_loop_run_ready(loop);
    ok(o.done && o.rc == 0 && o.got_len == 20, "readexactly(20) completes");
    is_int(tr.resumes, 2, "and resumes: empty buffer");
    finish(loop, t);
    op_clear(&o);
    weir_loop_free(loop);
    weir_reader_free(r);

    /* A transport without pause_reading is dropped; later reads do not touch it. */
    fake_tr np = {{&no_pause_ops, NULL}, 0, 0};
    r = new_reader(4);
    weir_reader_set_transport(r, &np.base);
    feed(r, "0123456789");
    ok(!weir_reader_paused(r), "no pause_reading: not paused, no crash");
    feed(r, "0123456789");
    is_int(weir_read(r, 100, &out), 0, "read everything");
    is_int(np.resumes, 0, "the dropped transport is never resumed");
    weir_reader_free(r);

    /* A transport without resume_reading: no crash, the flag clears. */
    fake_tr nr = {{&no_resume_ops, NULL}, 0, 0};
    r = new_reader(4);
    weir_reader_set_transport(r, &nr.base);
    feed(r, "0123456789");
    is_int(nr.pauses, 1, "paused");
    is_int(weir_read(r, 100, &out), 0, "read everything");
    ok(!weir_reader_paused(r), "no resume_reading: unpaused anyway, no crash");
    weir_reader_free(r);

    /* Detaching. */
    tr.pauses = tr.resumes = 0;
    r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "0123456789");
    is_int(tr.pauses, 1, "paused");
    weir_reader_set_transport(r, NULL);
    ok(!weir_reader_paused(r), "set_transport(NULL) clears paused");
    feed(r, "0123456789");
    is_int(weir_read(r, 100, &out), 0, "read everything");
    ok(tr.pauses == 1 && tr.resumes == 0, "the detached transport is left alone");
    weir_reader_free(r);

    /* A large limit: 2 x limit must not overflow. */
    tr.pauses = tr.resumes = 0;
    r = new_reader(INT64_MAX);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "0123456789");
    ok(tr.pauses == 0 && !weir_reader_paused(r), "limit INT64_MAX: never paused");
    weir_reader_free(r);
}

/* A read outside a task that would wait on a paused transport resumes it before returning
 * WEIR_EAGAIN, as asyncio resumes before every wait (issue #99): otherwise a caller polling
 * outside tasks would wait for data a paused transport never delivers. */
static void test_eagain_resumes_paused_transport(void) {
    fake_tr tr = {{&fake_ops, NULL}, 0, 0};
    weir_reader *r = new_reader(4);
    weir_reader_set_transport(r, &tr.base);
    feed(r, "123456789");
    ok(weir_reader_paused(r), "paused above 2 x limit");
    weir_bytes out;
    is_int(weir_readexactly(r, 20, &out), WEIR_EAGAIN, "readexactly(20) outside a task: EAGAIN");
    is_int(weir_reader_buffered(r), 9, "consuming nothing");
    ok(tr.resumes == 1 && !weir_reader_paused(r),
       "a read that would wait outside a task resumes the paused transport");
    weir_reader_free(r);
}

/* --- big data ------------------------------------------------------------------------ */

#define BIG ((size_t)1 << 20)

typedef struct big {
    weir_reader *r;
    int rc;
    size_t len;
    bool same;
    int kind;
} big;

static int big_reader(void *arg) {
    big *b = arg;
    weir_bytes out = {NULL, 0};
    weir_bytes seps[2] = {WEIR_LIT("\r\n"), WEIR_LIT("\n")};
    b->rc = b->kind == 0   ? weir_readuntil(b->r, "\n", 1, &out)
            : b->kind == 1 ? weir_readuntil_any(b->r, seps, 2, &out)
                           : weir_readexactly(b->r, (int64_t)BIG + 1, &out);
    b->len = out.len;
    b->same = out.len == BIG + 1 && out.data[BIG] == '\n';
    for (size_t i = 0; b->same && i < BIG; i++)
        if (out.data[i] != (uint8_t)('a' + i % 26)) b->same = false;
    return 0;
}

static int big_feeder(void *arg) {
    big *b = arg;
    for (size_t i = 0; i < BIG; i++) {
        uint8_t c = (uint8_t)('a' + i % 26);
        weir_reader_feed(b->r, &c, 1);
        weir_yield(); /* let the reader wake on every byte */
    }
    weir_reader_feed(b->r, "\n", 1);
    return 0;
}

static void test_big_line_byte_by_byte(void) {
    static const char *const names[] = {"readuntil", "readuntil_any", "readexactly"};
    for (int kind = 0; kind < 3; kind++) {
        weir_loop *loop = new_loop();
        big b = {new_reader(2 * (int64_t)BIG), -1, 0, false, kind};
        weir_task *tr = spawn(loop, big_reader, &b);
        weir_task *tf = spawn(loop, big_feeder, &b);
        is_int(weir_loop_run(loop), 0, "%s: 1 MiB fed a byte at a time: the loop finishes",
               names[kind]);
        is_int(b.rc, 0, "%s: the waiting read completes", names[kind]);
        is_int(b.len, BIG + 1, "%s: with the whole line", names[kind]);
        ok(b.same, "%s: byte for byte", names[kind]);
        is_int(weir_reader_buffered(b.r), 0, "%s: nothing left over", names[kind]);
        finish(loop, tr);
        finish(loop, tf);
        weir_loop_free(loop);
        weir_reader_free(b.r);
    }
}

int main(void) {
    test_nothing_lost_in_tasks();
    test_nothing_lost_outside_tasks();
    test_next_line();
    test_eagain_outside_task();
    test_cancel_waiting_read();
    test_deadline_waiting_read();
    test_exception_wakes_waiter();
    test_exception_replaced_before_waiter_runs();
    test_second_waiting_read();
    test_read_all_survives_refused_second();
    test_woken_exception_message_kept();
    test_error_details();
    test_flow_control();
    test_eagain_resumes_paused_transport();
    test_big_line_byte_by_byte();
    return done_testing();
}
