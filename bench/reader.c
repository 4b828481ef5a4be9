/* bench/reader.c - how fast readuntil("\n") goes, beside a plain memchr loop.
 *
 * 1. Buffered data: lines of 16, 64, 1024 and 65536 bytes fed in 64 KiB chunks; each chunk
 *    is read with readuntil until it would wait (called outside a task, so "would wait" is
 *    WEIR_EAGAIN). The baseline is a memchr loop over the same bytes, timed in the same run.
 * 2. One-byte feeds: a 256 KiB and a 1 MiB line fed one byte at a time to a readuntil that
 *    waits in a task. Search is linear if the 1 MiB line costs about 4x the 256 KiB one.
 *
 * Each figure is the best of several repetitions (the machines are noisy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir/weir.h"

#define CHUNK 65536
#define REPS 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *make_lines(size_t line_len, size_t total, size_t *lines) {
    unsigned char *data = malloc(total);
    if (!data) abort();
    size_t n = total / line_len;
    for (size_t i = 0; i < n; i++) {
        memset(data + i * line_len, 'a' + (int)(i % 26), line_len - 1);
        data[i * line_len + line_len - 1] = '\n';
    }
    *lines = n;
    return data;
}

/* Lines found by a memchr loop over the same 64 KiB chunks (a line may span chunks). */
static size_t memchr_lines(const unsigned char *data, size_t total) {
    size_t count = 0;
    for (size_t off = 0; off < total; off += CHUNK) {
        size_t len = total - off < CHUNK ? total - off : CHUNK;
        const unsigned char *p = data + off, *end = p + len;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            count++;
            p++;
        }
    }
    return count;
}

static size_t weir_lines(const unsigned char *data, size_t total, size_t *bytes) {
    weir_reader *r;
    if (weir_reader_new(WEIR_DEFAULT_LIMIT, &r)) abort();
    size_t count = 0, got = 0;
    weir_bytes line;
    for (size_t off = 0; off < total; off += CHUNK) {
        size_t len = total - off < CHUNK ? total - off : CHUNK;
        if (weir_reader_feed(r, data + off, len)) abort();
        int rc;
        while ((rc = weir_readuntil(r, "\n", 1, &line)) == WEIR_OK) {
            count++;
            got += line.len;
        }
        if (rc != WEIR_EAGAIN) abort();
    }
    weir_reader_free(r);
    *bytes = got;
    return count;
}

static void bench_buffered(size_t line_len) {
    size_t total = (size_t)64 << 20, lines, bytes = 0;
    unsigned char *data = make_lines(line_len, total, &lines);
    total = lines * line_len;
    double best_memchr = 1e9, best_weir = 1e9;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now_s();
        size_t a = memchr_lines(data, total);
        double t1 = now_s();
        size_t b = weir_lines(data, total, &bytes);
        double t2 = now_s();
        if (a != lines || b != lines || bytes != total) {
            fprintf(stderr, "line count mismatch: %zu %zu %zu\n", a, b, lines);
            exit(1);
        }
        if (t1 - t0 < best_memchr) best_memchr = t1 - t0;
        if (t2 - t1 < best_weir) best_weir = t2 - t1;
    }
    double weir_lps = (double)lines / best_weir, memchr_lps = (double)lines / best_memchr;
    printf("| %6zu | %14.0f | %9.1f | %14.0f | %9.1f | %5.0f%% |\n", line_len, weir_lps,
           (double)total / best_weir / 1e6, memchr_lps, (double)total / best_memchr / 1e6,
           100.0 * weir_lps / memchr_lps);
    free(data);
}

/* --- one-byte feeds ---------------------------------------------------------------- */

typedef struct {
    weir_reader *r;
    size_t got;
    int rc;
} waiter_ctx;

static int wait_line(void *arg) {
    waiter_ctx *c = arg;
    weir_bytes line;
    c->rc = weir_readuntil(c->r, "\n", 1, &line);
    c->got = line.len;
    return 0;
}

static double one_byte_feeds(size_t line_len) {
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        weir_loop *loop;
        waiter_ctx c = {0};
        weir_task *t;
        if (weir_loop_new_virtual(&loop) || weir_reader_new((int64_t)line_len * 2, &c.r)) abort();
        weir_spawn(loop, wait_line, &c, NULL, &t);
        weir_loop_run_ready(loop);
        double t0 = now_s();
        for (size_t i = 0; i + 1 < line_len; i++) {
            weir_reader_feed(c.r, "x", 1);
            weir_loop_run_ready(loop);
        }
        weir_reader_feed(c.r, "\n", 1);
        weir_loop_run_ready(loop);
        double el = now_s() - t0;
        if (!weir_task_done(t) || c.rc || c.got != line_len) {
            fprintf(stderr, "one-byte feed failed: rc=%d got=%zu\n", c.rc, c.got);
            exit(1);
        }
        weir_join(t, NULL);
        weir_loop_free(loop);
        weir_reader_free(c.r);
        if (el < best) best = el;
    }
    return best;
}

int main(void) {
    printf("readuntil(\"\\n\") on buffered data, 64 MiB in 64 KiB chunks (best of %d)\n\n", REPS);
    printf("| line B | weir lines/s   | weir MB/s | memchr lines/s | memchr MB/s | ratio |\n");
    printf("|-------:|---------------:|----------:|---------------:|------------:|------:|\n");
    size_t lens[] = {16, 64, 1024, 65536};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) bench_buffered(lens[i]);

    printf("\none-byte feeds to a waiting readuntil (each feed wakes the task; best of 3)\n\n");
    double small = one_byte_feeds((size_t)256 << 10);
    double big = one_byte_feeds((size_t)1 << 20);
    printf("| line      | seconds | ns/byte |\n|-----------|--------:|--------:|\n");
    printf("| 256 KiB   | %7.3f | %7.1f |\n", small, small * 1e9 / (256.0 * 1024));
    printf("| 1 MiB     | %7.3f | %7.1f |\n", big, big * 1e9 / (1024.0 * 1024));
    printf("\n1 MiB / 256 KiB cost: %.2fx (linear = 4x, quadratic = 16x)\n", big / small);
    return 0;
}
