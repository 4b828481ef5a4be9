/* tests/unit/test_reader_views.c - the reader's memory contract: a view returned by a read,
 * and the details in weir_reader_error(), stay valid (same bytes, same address) until the
 * next read call, however much is fed meanwhile; weir_bytes_dup() copies outlive the reader.
 * Run under ASan, a view left pointing at a freed or moved block is a heap-use-after-free;
 * without it, the byte comparisons below still catch a block that was written over. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"
#include "tap.h"

#define MIB ((size_t)1 << 20)

static void bail(const char *what) {
    printf("Bail out! %s\n", what);
    exit(1);
}

static weir_reader *new_reader(int64_t limit) {
    weir_reader *r = NULL;
    if (weir_reader_new(limit, &r) != 0 || !r) bail("weir_reader_new failed");
    return r;
}

static void feed(weir_reader *r, const char *s) {
    if (weir_reader_feed(r, s, strlen(s)) != 0) bail("feed failed");
}

/* Feed `total` bytes of filler in `chunk`-sized pieces, so the buffer grows (and moves)
 * many times. The filler's bytes differ from everything the tests read before it. */
static void feed_filler(weir_reader *r, size_t total, size_t chunk) {
    uint8_t *block = malloc(chunk);
    if (!block) bail("out of memory");
    for (size_t i = 0; i < chunk; i++) block[i] = (uint8_t)('A' + i % 7);
    for (size_t done = 0; done < total; done += chunk)
        if (weir_reader_feed(r, block, total - done < chunk ? total - done : chunk) != 0)
            bail("feed failed");
    free(block);
}

/* A view and a private copy of what it held when it was returned. */
typedef struct kept {
    weir_bytes view;
    uint8_t *copy;
} kept;

static kept keep(weir_bytes v) {
    kept k = {v, malloc(v.len ? v.len : 1)};
    if (!k.copy) bail("out of memory");
    if (v.len) memcpy(k.copy, v.data, v.len);
    return k;
}

static bool intact(kept k) {
    return k.view.len == 0 || memcmp(k.view.data, k.copy, k.view.len) == 0;
}

/* --- views outlive feeds ------------------------------------------------------------- */

typedef int (*read_fn)(weir_reader *r, weir_bytes *out);

static int do_read(weir_reader *r, weir_bytes *out) { return weir_read(r, 6, out); }
static int do_readexactly(weir_reader *r, weir_bytes *out) { return weir_readexactly(r, 6, out); }
static int do_readuntil(weir_reader *r, weir_bytes *out) { return weir_readuntil(r, "\n", 1, out); }
static int do_readuntil2(weir_reader *r, weir_bytes *out) {
    return weir_readuntil(r, "o\n", 2, out);
}
static int do_readline(weir_reader *r, weir_bytes *out) { return weir_readline(r, out); }
static int do_next_line(weir_reader *r, weir_bytes *out) {
    return weir_reader_next_line(r, out) == 1 ? 0 : -1;
}
static int do_readuntil_any(weir_reader *r, weir_bytes *out) {
    weir_bytes seps[3] = {WEIR_LIT("zz"), WEIR_LIT("\n"), WEIR_LIT("lo\n")};
    return weir_readuntil_any(r, seps, 3, out);
}

static const struct {
    const char *name;
    read_fn fn;
} readers[] = {
    {"read(6)", do_read},
    {"readexactly(6)", do_readexactly},
    {"readuntil(\"\\n\")", do_readuntil},
    {"readuntil(\"o\\n\")", do_readuntil2},
    {"readline", do_readline},
    {"next_line", do_next_line},
    {"readuntil_any", do_readuntil_any},
};
#define NREADERS (sizeof readers / sizeof readers[0])

static void test_view_survives_feeds(void) {
    for (size_t i = 0; i < NREADERS; i++) {
        /* Three buffer states to take the view from: fresh, a block already used and
         * drained, and a block compacted many times by earlier feeds and reads. */
        for (int state = 0; state < 3; state++) {
            weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
            weir_bytes out = {NULL, 0};
            if (state == 1) {
                feed_filler(r, 300, 300);
                weir_read(r, 300, &out);
            }
            if (state == 2) {
                for (int k = 0; k < 50; k++) {
                    feed_filler(r, 97, 97);
                    weir_read(r, 90, &out);
                }
                weir_read(r, 1000, &out);
            }
            feed(r, "hello\nworld\n");
            int rc = readers[i].fn(r, &out);
            ok(rc == 0 && out.len == 6 && memcmp(out.data, "hello\n", 6) == 0,
               "%s (state %d) returns \"hello\\n\"", readers[i].name, state);
            kept k = keep(out);
            const uint8_t *where = out.data;
            feed(r, "!");                  /* fits in place */
            feed_filler(r, 4 * MIB, 4096); /* grows the block many times */
            feed_filler(r, 3 * MIB, 3 * MIB);
            ok(intact(k) && out.data == where,
               "%s (state %d): the view holds the same bytes after 7 MiB of feeds", readers[i].name,
               state);
            is_int(weir_reader_buffered(r), 6 + 1 + 7 * MIB, "nothing else was consumed");
            /* The next read call may end the view; its own result must be right. */
            rc = weir_read(r, 6, &out);
            ok(rc == 0 && out.len == 6 && memcmp(out.data, "world\n", 6) == 0,
               "%s (state %d): the next read continues where it left off", readers[i].name, state);
            free(k.copy);
            weir_reader_free(r);
        }
    }
}

/* A view covering most of a block, then feeds small enough that compacting the block would
 * make room for them: the view's bytes must not be the ones moved over. */
static void test_view_vs_compaction(void) {
    static const size_t sizes[] = {100, 128, 200, 250, 255, 500, 1000, 4000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
        weir_bytes out;
        uint8_t *data = malloc(sizes[i] + 1);
        if (!data) bail("out of memory");
        for (size_t j = 0; j <= sizes[i]; j++) data[j] = (uint8_t)('a' + j % 26);
        weir_reader_feed(r, data, sizes[i] + 1);
        weir_read(r, (int64_t)sizes[i], &out);
        kept k = keep(out);
        bool fine = out.len == sizes[i];
        for (size_t n = 1; n <= 300 && fine; n++) {
            weir_reader_feed(r, data, n % 40 + 1);
            fine = intact(k);
        }
        ok(fine, "a %zu-byte view survives 300 small feeds", sizes[i]);
        free(k.copy);
        free(data);
        weir_reader_free(r);
    }
}

/* Random feeds and reads; after every feed the latest view is checked. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *g) {
    uint64_t z = (g->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t below(rng *g, size_t n) { return (size_t)(rnd(g) % n); }

static void test_random_views(void) {
    uint8_t *junk = malloc(70000);
    if (!junk) bail("out of memory");
    for (uint64_t seed = 1; seed <= 40; seed++) {
        rng g = {seed};
        for (size_t i = 0; i < 70000; i++) junk[i] = (uint8_t)rnd(&g);
        weir_reader *r = new_reader((int64_t)below(&g, 5000) + 1);
        kept k = {{NULL, 0}, NULL};
        bool fine = true;
        size_t checks = 0;
        for (int step = 0; step < 400 && fine; step++) {
            size_t pick = below(&g, 10);
            if (pick < 6) {
                size_t n = below(&g, 4) == 0 ? below(&g, 70000) : below(&g, 300);
                weir_reader_feed(r, junk + below(&g, 70000 - n + 1), n);
                fine = intact(k);
                checks++;
                continue;
            }
            weir_bytes out = {NULL, 0};
            int rc = pick < 8   ? weir_read(r, (int64_t)below(&g, 3000) + 1, &out)
                     : pick < 9 ? weir_readexactly(r, (int64_t)below(&g, 3000), &out)
                                : weir_readuntil(r, junk + below(&g, 1000), below(&g, 2) + 1, &out);
            free(k.copy);
            k = keep(rc == 0 ? out : weir_bytes_of(NULL, 0));
        }
        ok(fine, "seed %llu: every view survived the feeds after it (%zu checks)",
           (unsigned long long)seed, checks);
        free(k.copy);
        weir_reader_free(r);
    }
    free(junk);
}

/* Views returned by the fast path (a one-byte separator already buffered), by read(-1) at
 * EOF, and a view fed back into the reader it came from. */
static void test_view_special_cases(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    feed(r, "a\nb\n");
    weir_readline(r, &out);
    kept k1 = keep(out);
    feed_filler(r, 2 * MIB, 65536);
    ok(intact(k1), "a readline view from the buffered fast path survives 2 MiB of feeds");
    free(k1.copy);
    weir_reader_free(r);

    /* Feed the reader its own view, again and again: the source is inside the block that
     * is about to grow. */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "0123456789abcdef");
    weir_read(r, 16, &out);
    kept k2 = keep(out);
    for (int i = 0; i < 20; i++)
        is_int(weir_reader_feed(r, out.data, out.len), 0, "feed the reader its own view (%d)", i);
    ok(intact(k2), "the view survives being fed back 20 times");
    bool all = true;
    for (int i = 0; i < 20; i++) {
        weir_bytes piece;
        if (weir_readexactly(r, 16, &piece) != 0 || piece.len != 16 ||
            memcmp(piece.data, "0123456789abcdef", 16) != 0)
            all = false;
    }
    ok(all, "each copy fed back reads back intact");
    free(k2.copy);
    /* A feed whose source is the still-buffered part of the block. */
    feed(r, "XYZW");
    weir_read(r, 2, &out); /* "XY"; "ZW" stays buffered right after it */
    const uint8_t *zw = out.data + 2;
    is_int(weir_reader_feed(r, zw, 2), 0, "feed from the buffered bytes themselves");
    is_int(weir_read(r, 10, &out), 0, "read");
    is_bytes(out, "ZWZW", "the aliased feed copied the right bytes");
    weir_reader_free(r);

    /* read(-1) at EOF hands out the buffer itself; set_exception and a refused feed do not
     * disturb it. */
    r = new_reader(4);
    feed(r, "0123456789");
    weir_reader_feed_eof(r);
    weir_read(r, -1, &out);
    kept k3 = keep(out);
    is_int(weir_reader_feed(r, "zz", 2), WEIR_EEOF, "feed after EOF refused");
    weir_reader_set_exception(r, WEIR_EUSER, "x", 1);
    ok(out.len == 10 && intact(k3), "read(-1)'s view survives");
    free(k3.copy);
    weir_reader_free(r);
}

/* A view returned to a task that waited, then megabytes fed by another task while the
 * first one still holds the view. */
typedef struct holder {
    weir_reader *r;
    int rc;
    bool intact_after, same_address;
    weir_bytes got;
} holder;

static int hold_view(void *arg) {
    holder *h = arg;
    weir_bytes out;
    h->rc = weir_readuntil(h->r, "\r\n", 2, &out);
    kept k = keep(out);
    const uint8_t *where = out.data;
    weir_sleep(10 * WEIR_MS); /* the feeder runs now */
    h->intact_after = intact(k) && out.data == where;
    h->got = out;
    free(k.copy);
    return 0;
}

static int feed_lots(void *arg) {
    weir_reader *r = arg;
    feed(r, "line one\r\nmore");
    weir_yield();
    for (int i = 0; i < 64; i++) {
        feed_filler(r, 64 * 1024, 8192);
        weir_yield();
    }
    return 0;
}

static void test_view_in_task(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_virtual(&loop) != 0) bail("loop");
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    holder h = {r, -1, false, false, {NULL, 0}};
    weir_task *t1, *t2;
    weir_spawn(loop, hold_view, &h, NULL, &t1);
    weir_spawn(loop, feed_lots, r, NULL, &t2);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(h.rc, 0, "the task's readuntil completed after waiting");
    ok(h.intact_after, "its view survives 4 MiB fed by another task while it sleeps");
    is_bytes(h.got, "line one\r\n", "and holds the line");
    weir_join(t1, NULL);
    weir_join(t2, NULL);
    weir_loop_free(loop);
    weir_reader_free(r);
}

/* --- blocks kept alive for views are freed ------------------------------------------- */

/* Heap in use, to see a leak without ASan; under ASan, LeakSanitizer answers instead. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

static int wait_line(void *arg) {
    weir_bytes line;
    return weir_readuntil(arg, "\n", 1, &line);
}

/* A read call that began (and waited) before a block was retired pins the new block when it
 * completes; the next growth must not forget the block retired first. Returns whether the
 * views involved stayed intact. */
__attribute__((noinline)) static bool retire_twice(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_virtual(&loop) != 0) bail("loop");
    weir_reader *r = new_reader(MIB);
    feed(r, "abc");
    weir_task *t;
    weir_spawn(loop, wait_line, r, NULL, &t);
    weir_loop_run_ready(loop); /* the task's readuntil waits */
    weir_bytes v;
    weir_read(r, 1, &v); /* served from the buffer: v pins block 1 */
    kept k = keep(v);
    feed_filler(r, 999, 999);  /* block 1 is retired for v */
    feed(r, "\n");             /* wakes the task */
    weir_loop_run_ready(loop); /* its line pins block 2 */
    int rc = -1;
    weir_join(t, &rc);
    bool fine = rc == 0 && intact(k);
    feed_filler(r, 5000, 5000); /* block 2 is retired: block 1 must not be lost */
    fine = fine && intact(k);   /* nor freed: v is still valid, no read call since */
    free(k.copy);
    weir_loop_free(loop);
    weir_reader_free(r);
    return fine;
}

static void test_retired_blocks_freed(void) {
    /* Run it often enough that a leak of one small block per run stands out from the
     * allocator's own caching (mallinfo counts cached chunks as in use). */
    const int runs = 200;
    bool fine = true;
#ifdef HAVE_MALLINFO2
    size_t before = mallinfo2().uordblks;
#endif
    for (int i = 0; i < runs; i++) fine = retire_twice() && fine;
    ok(fine, "the waiting read completed each time; the earlier view survived both "
             "growths");
#if defined(HAVE_LSAN)
    /* Called here, after retire_twice returned, so its dead frames are not scanned. */
    ok(__lsan_do_recoverable_leak_check() == 0,
       "no block leaked when a second block is retired before the next read call");
#elif defined(HAVE_MALLINFO2)
    size_t after = mallinfo2().uordblks;
    ok(after<before + (size_t)runs * 64,
             "no block leaked when a second block is retired before the next read call "
             "(%zu bytes more in use after %d runs)",
             after>
               before
           ? after - before
           : 0,
       runs);
#else
    ok(1, "# SKIP no leak detector on this platform");
#endif
}

/* --- error details outlive feeds and other calls ---------------------------------------- */

static void test_partial_survives(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    feed_filler(r, 100000, 1000);
    feed(r, "tail");
    weir_reader_feed_eof(r);
    is_int(weir_readexactly(r, 200000, &out), WEIR_EINCOMPLETE, "readexactly past EOF");
    const weir_error *e = weir_reader_error(r);
    kept p = keep(e->partial);
    kept m = keep(weir_bytes_of(e->message, e->message_len));
    is_int(e->partial.len, 100004, "partial holds all 100004 bytes");
    is_int(weir_reader_feed(r, "x", 1), WEIR_EEOF, "feed after EOF refused");
    weir_reader_feed_eof(r);
    weir_reader_set_exception(r, WEIR_EUSER - 1, "later", 5);
    (void)weir_reader_at_eof(r);
    (void)weir_reader_buffered(r);
    ok(intact(p) && weir_reader_error(r)->partial.data == p.view.data,
       "err.partial survives feed, feed_eof and set_exception");
    ok(intact(m) && weir_reader_error(r)->message == (const char *)m.view.data, "err.message too");
    char *dup = weir_bytes_dup(e->partial);
    free(p.copy);
    free(m.copy);
    weir_reader_free(r);
    ok(dup && memcmp(dup + 100000, "tail", 5) == 0, "a dup of the partial outlives the reader");
    free(dup);

    /* A partial line from readline at EOF is err.partial under another name. */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "no newline");
    weir_reader_feed_eof(r);
    is_int(weir_readline(r, &out), 0, "readline at EOF");
    kept q = keep(out);
    weir_reader_set_exception(r, WEIR_EUSER, "x", 1);
    ok(intact(q) && out.len == 10, "readline's partial line survives set_exception");
    free(q.copy);
    weir_reader_free(r);

    /* weir_reader_exception's message: valid until the next set_exception. */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_reader_set_exception(r, WEIR_EUSER, "first\0one", 9);
    const weir_error *x = weir_reader_exception(r);
    kept xm = keep(weir_bytes_of(x->message, x->message_len));
    feed_filler(r, MIB, 4096);
    weir_read(r, 10, &out);
    weir_readline(r, &out);
    ok(intact(xm) && x->message_len == 9, "the exception's message survives feeds and reads");
    free(xm.copy);
    weir_reader_free(r);
}

/* --- weir_bytes_dup -------------------------------------------------------------------- */

static void test_bytes_dup(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    static const char data[] = "bin\0ary\n";
    weir_reader_feed(r, data, sizeof data - 1);
    weir_readline(r, &out);
    char *copy = weir_bytes_dup(out);
    ok(copy != NULL && (const uint8_t *)copy != out.data, "dup: a new allocation");
    feed_filler(r, 2 * MIB, 65536);
    weir_read(r, -1, &out); /* ends the view */
    weir_readline(r, &out); /* and again */
    weir_reader_free(r);    /* and frees the buffer */
    ok(copy && memcmp(copy, data, sizeof data - 1) == 0,
       "dup: the bytes, NULs included, survive the reader");
    ok(copy && copy[sizeof data - 1] == '\0', "dup: NUL-terminated");
    free(copy);

    char *empty = weir_bytes_dup(weir_bytes_of(NULL, 0));
    ok(empty && empty[0] == '\0', "dup of an empty view: \"\"");
    free(empty);
    ok(weir_bytes_eq(WEIR_LIT("ab"), weir_bytes_of("ab", 2)), "bytes_eq: equal");
    ok(!weir_bytes_eq(WEIR_LIT("ab"), WEIR_LIT("ac")), "bytes_eq: different bytes");
    ok(!weir_bytes_eq(WEIR_LIT("ab"), WEIR_LIT("abc")), "bytes_eq: different lengths");
    ok(weir_bytes_eq(weir_bytes_of(NULL, 0), WEIR_LIT("")), "bytes_eq: empty views");
}

/* Views returned by weir never have data == NULL, even empty ones and on errors. */
static void test_views_never_null(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out = {NULL, 5};
    weir_read(r, 0, &out);
    ok(out.data != NULL && out.len == 0, "read(0): empty, non-NULL");
    out = (weir_bytes){NULL, 5};
    weir_readline(r, &out);
    ok(out.data != NULL && out.len == 0, "readline EAGAIN: empty, non-NULL");
    weir_reader_feed_eof(r);
    out = (weir_bytes){NULL, 5};
    weir_read(r, -1, &out);
    ok(out.data != NULL && out.len == 0, "read(-1) at an empty EOF: empty, non-NULL");
    out = (weir_bytes){NULL, 5};
    weir_readexactly(r, 3, &out);
    ok(out.data != NULL && out.len == 0, "readexactly Incomplete: empty, non-NULL");
    ok(weir_reader_error(r)->partial.data != NULL, "an empty partial: non-NULL");
    out = (weir_bytes){NULL, 5};
    is_int(weir_reader_next_line(r, &out), 0, "next_line at the end");
    ok(out.data != NULL && out.len == 0, "next_line at the end: empty, non-NULL");
    weir_reader_free(r);
}

int main(void) {
    test_view_survives_feeds();
    test_view_vs_compaction();
    test_random_views();
    test_view_special_cases();
    test_view_in_task();
    test_retired_blocks_freed();
    test_partial_survives();
    test_bytes_dup();
    test_views_never_null();
    return done_testing();
}
