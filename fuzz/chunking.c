/* fuzz/chunking.c - libFuzzer target: a line parser built on readuntil must not care how
 * its input was chunked, as long as no line is over the limit.
 *
 * One byte stream is fed to a reader under two chunkings derived from the input (and in
 * batches of several feeds per loop step), and three parsers read it in a task:
 *   readline    `while (line = await r.readline())`, going on after a ValueError;
 *   tuple       `while True: await r.readuntil((b"\r\n", b"\n"))`, ending at the
 *               IncompleteReadError at EOF or at the first LimitOverrunError;
 *   crlf        the same with readuntil(b"\r\n").
 * Each run must equal, and so the two chunkings must equal each other, up to and including
 * the first limit error, the result computed straight from the stream:
 *
 * THE CONDITION. Cut the stream into items: each item ends with the parser's first
 * separator match (the match that ends first; on a tie the shorter separator, so for
 * ("\r\n", "\n") the item ends at the first "\n"); let L be the number of bytes of the item
 * before that match (its start). The tail is the R bytes after the last match, with EOF.
 *   - An item with L <= limit is returned whole, whatever the chunking.
 *   - An item with L > limit raises (readuntil: LimitOverrunError; readline: ValueError),
 *     whatever the chunking, but which check fires depends on what had arrived when the read
 *     last ran: "Separator is found" (consumed = L) if the separator arrived in the same
 *     step as the byte that crossed the limit, "Separator is not found" (consumed = B + 1 -
 *     max_seplen, B = bytes buffered then) otherwise. So `consumed`, the message and what
 *     readline drops (through the "\n", or only what was buffered) depend on the chunking,
 *     and so does everything after the first such item: nothing after it is compared.
 *   - The tail: readline returns it when 0 < R <= limit (and b"" ends the loop when R = 0);
 *     readuntil raises IncompleteReadError(tail) when R <= limit + max_seplen - 1. A longer
 *     tail raises as an over-limit item does, whatever the chunking.
 * (Proof sketch: while an item is incomplete every byte in the buffer belongs to it, at most
 * L + max_seplen - 1 of them hold no match, so the "not found" offset B + 1 - max_seplen is
 * at most L; and a match found in a prefix of the stream is the match in the whole stream.
 * With one reader nothing else drains the buffer, so the search offset is never stale.)
 *
 * Input layout: byte 0 limit (fz_limit); byte 1 and byte 2 the two chunkings (chunks());
 * byte 3 bits 0-1 and 2-3 the largest batch (1..4 feeds per step) for each, bit 4 the small
 * alphabet (every stream byte becomes one of "ab\r\n"), bit 5: the parser starts only after
 * the first step instead of before it; the rest is the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "weir/weir.h"

typedef enum parser { P_READLINE, P_TUPLE, P_CRLF, NPARSERS } parser;
static const char *const parser_name[] = {"readline", "readuntil((\"\\r\\n\", \"\\n\"))",
                                          "readuntil(\"\\r\\n\")"};

typedef enum item_kind { IT_LINE, IT_PARTIAL, IT_ERROR } item_kind;

typedef struct item {
    item_kind kind;
    const uint8_t *data; /* IT_LINE/IT_PARTIAL: a copy (run) or a pointer into the stream */
    size_t len;
    int64_t consumed; /* IT_ERROR of readuntil */
    bool found;       /* IT_ERROR: the "Separator is found" message */
} item;

typedef struct result {
    item *items;
    size_t n, cap;
    bool ended; /* readline gave b"" / readuntil ended the loop */
} result;

static void push(result *r, item it) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->items = realloc(r->items, r->cap * sizeof *r->items);
        if (!r->items) abort();
    }
    r->items[r->n++] = it;
}

static void result_free(result *r, bool owned) {
    if (owned)
        for (size_t i = 0; i < r->n; i++) free((void *)r->items[i].data);
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* ---- the expected result, straight from the stream ------------------------------------ */

static void oracle(parser p, const uint8_t *s, size_t n, int64_t limit, result *out) {
    size_t maxlen = p == P_READLINE ? 1 : 2;
    size_t pos = 0;
    for (;;) {
        /* The first match: "\n" (readline, tuple: "\r\n" ends at the same "\n" and the tie
         * goes to "\n") or "\r\n" (crlf). */
        size_t j = pos, seplen = p == P_CRLF ? 2 : 1;
        bool found = false;
        for (; j + seplen <= n; j++)
            if (p == P_CRLF ? (s[j] == '\r' && s[j + 1] == '\n') : s[j] == '\n') {
                found = true;
                break;
            }
        if (found) {
            if ((int64_t)(j - pos) > limit) {
                /* consumed: L if the "found" check fires, less otherwise */
                push(out, (item){IT_ERROR, NULL, 0, (int64_t)(j - pos), true});
                return;
            }
            push(out, (item){IT_LINE, s + pos, j + seplen - pos, 0, false});
            pos = j + seplen;
            continue;
        }
        size_t tail = n - pos;
        if (p == P_READLINE) {
            if ((int64_t)tail > limit) {
                push(out, (item){IT_ERROR, NULL, 0, 0, false});
                return;
            }
            if (tail) push(out, (item){IT_LINE, s + pos, tail, 0, false});
        } else {
            if ((int64_t)tail > limit + (int64_t)maxlen - 1) {
                /* only "not found", consumed = B + 1 - max_seplen with B <= tail */
                push(out, (item){IT_ERROR, NULL, 0, (int64_t)(tail + 1 - maxlen), false});
                return;
            }
            push(out, (item){IT_PARTIAL, s + pos, tail, 0, false});
        }
        out->ended = true;
        return;
    }
}

/* ---- a run on the real reader ----------------------------------------------------------- */

typedef struct run_ctx {
    weir_reader *r;
    parser p;
    result res;
    size_t max_items;
    bool done;
    int bad_rc; /* an unexpected return code, 0 if none */
} run_ctx;

static uint8_t *dup_view(weir_bytes v) {
    uint8_t *d = malloc(v.len ? v.len : 1);
    if (!d) abort();
    if (v.len) memcpy(d, v.data, v.len);
    return d;
}

static int parser_task(void *arg) {
    run_ctx *c = arg;
    static const weir_bytes tuple[2] = {{(const uint8_t *)"\r\n", 2}, {(const uint8_t *)"\n", 1}};
    while (c->res.n < c->max_items) {
        weir_bytes v;
        int rc;
        if (c->p == P_READLINE) {
            rc = weir_readline(c->r, &v);
            if (rc == 0 && v.len == 0) {
                c->res.ended = true;
                break;
            }
            if (rc == 0) {
                push(&c->res, (item){IT_LINE, dup_view(v), v.len, 0, false});
            } else if (rc == WEIR_ETOOLONG) {
                const weir_error *e = weir_reader_error(c->r);
                bool found =
                    e->message_len >= 18 && memcmp(e->message, "Separator is found", 18) == 0;
                push(&c->res, (item){IT_ERROR, NULL, 0, 0, found});
            } else {
                c->bad_rc = rc;
                break;
            }
            continue;
        }
        if (c->p == P_TUPLE)
            rc = weir_readuntil_any(c->r, tuple, 2, &v);
        else
            rc = weir_readuntil(c->r, "\r\n", 2, &v);
        if (rc == 0) {
            push(&c->res, (item){IT_LINE, dup_view(v), v.len, 0, false});
        } else if (rc == WEIR_EINCOMPLETE) {
            const weir_error *e = weir_reader_error(c->r);
            push(&c->res, (item){IT_PARTIAL, dup_view(e->partial), e->partial.len, 0, false});
            c->res.ended = true;
            break;
        } else if (rc == WEIR_ELIMIT) {
            const weir_error *e = weir_reader_error(c->r);
            bool found = e->message_len >= 18 && memcmp(e->message, "Separator is found", 18) == 0;
            push(&c->res, (item){IT_ERROR, NULL, 0, e->consumed, found});
            break;
        } else {
            c->bad_rc = rc;
            break;
        }
    }
    c->done = true;
    return 0;
}

/* A transport that accepts pause/resume, so the reader's flow control runs too. */
static void t_nop(weir_transport *t) { (void)t; }
static const weir_transport_ops quiet_ops = {
    .name = "fuzz-quiet", .pause_reading = t_nop, .resume_reading = t_nop};

/* A chunking: sizes[] (0 allowed: an empty feed), and how many chunks each step feeds. */
typedef struct plan {
    size_t *sizes;
    size_t nchunks;
    unsigned batch_max; /* 1..4 feeds per step */
    uint32_t seed;
} plan;

static uint32_t xorshift(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* b < 128: fixed chunks of 1 + b % 32 bytes; 128..159: the whole stream at once;
 * otherwise pseudo-random sizes 0..(b % 16 + 1) from a seed made of b and the length. */
static void chunks(plan *pl, uint8_t b, unsigned batch_max, size_t n) {
    pl->sizes = fz_xmalloc((n + 1) * 2 * sizeof *pl->sizes);
    pl->nchunks = 0;
    pl->batch_max = batch_max;
    pl->seed = 0x9e3779b9u ^ (uint32_t)b * 2654435761u ^ (uint32_t)n;
    if (pl->seed == 0) pl->seed = 1;
    size_t left = n;
    uint32_t rnd = pl->seed;
    while (left > 0) {
        size_t k;
        if (b < 128)
            k = 1 + b % 32;
        else if (b < 160)
            k = left;
        else
            k = xorshift(&rnd) % (b % 16 + 2);
        if (k > left) k = left;
        pl->sizes[pl->nchunks++] = k;
        left -= k;
        if (pl->nchunks >= 2 * n + 1) { /* too many empty chunks: finish in one */
            pl->sizes[pl->nchunks - 1] += left;
            left = 0;
        }
    }
}

static void run(parser p, const uint8_t *s, size_t n, int64_t limit, const plan *pl,
                bool start_late, result *out) {
    weir_loop *loop;
    weir_reader *r;
    if (weir_loop_new_virtual(&loop) || weir_reader_new(limit, &r)) abort();
    weir_transport tr = {&quiet_ops, NULL};
    weir_reader_set_transport(r, &tr);
    run_ctx c = {r, p, {0}, 4 * n + 8, false, 0};
    weir_task *t;
    weir_task_opts opts = {64 * 1024, "fuzz-parser"};

    if (!start_late) {
        if (weir_spawn(loop, parser_task, &c, &opts, &t)) abort();
        weir_task_detach(t);
        weir_loop_run_ready(loop);
    }
    uint32_t rnd = pl->seed;
    size_t i = 0, off = 0;
    bool spawned = !start_late;
    while (i < pl->nchunks) {
        unsigned k = 1 + xorshift(&rnd) % pl->batch_max;
        for (; k > 0 && i < pl->nchunks; k--, i++) {
            if (weir_reader_feed(r, s + off, pl->sizes[i]) != 0) abort();
            off += pl->sizes[i];
        }
        if (!spawned) {
            if (weir_spawn(loop, parser_task, &c, &opts, &t)) abort();
            weir_task_detach(t);
            spawned = true;
        }
        for (int guard = 0; weir_loop_run_ready(loop) > 0; guard++)
            if (guard > 1000) abort();
    }
    if (!spawned) {
        if (weir_spawn(loop, parser_task, &c, &opts, &t)) abort();
        weir_task_detach(t);
    }
    weir_reader_feed_eof(r);
    for (int guard = 0; weir_loop_run_ready(loop) > 0; guard++)
        if (guard > 1000) abort();
    if (off != n) abort();
    if (!c.done || c.bad_rc) {
        fprintf(stderr, "chunking: %s: the parser %s (rc %d %s) after EOF\n", parser_name[p],
                c.done ? "failed" : "is still waiting", c.bad_rc, weir_errname(c.bad_rc));
        abort();
    }
    weir_loop_free(loop);
    weir_reader_free(r);
    *out = c.res;
}

/* ---- comparing ------------------------------------------------------------------------ */

static void put_item(FILE *f, const item *it) {
    switch (it->kind) {
        case IT_LINE:
            fz_put_bytes(f, it->data, it->len);
            break;
        case IT_PARTIAL:
            fputs("IncompleteReadError partial=", f);
            fz_put_bytes(f, it->data, it->len);
            break;
        case IT_ERROR:
            fputs("limit error", f);
            break;
    }
}

static void put_plan(FILE *f, const plan *pl) {
    fputs("chunks:", f);
    for (size_t i = 0; i < pl->nchunks; i++) fprintf(f, " %zu", pl->sizes[i]);
    fprintf(f, " (up to %u feeds per step)\n", pl->batch_max);
}

static void report(const char *what, parser p, const uint8_t *s, size_t n, int64_t limit,
                   const plan *pl, const result *got, const result *want, size_t at) {
    fprintf(stderr, "\n==== chunking: %s: %s\n", parser_name[p], what);
    fprintf(stderr, "limit=%lld stream=", (long long)limit);
    fz_put_bytes(stderr, s, n);
    fputc('\n', stderr);
    put_plan(stderr, pl);
    fprintf(stderr, "item %zu\n  expected: ", at);
    if (at < want->n)
        put_item(stderr, &want->items[at]);
    else
        fputs(want->ended ? "(the end)" : "(nothing)", stderr);
    fprintf(stderr, "\n  got:      ");
    if (at < got->n)
        put_item(stderr, &got->items[at]);
    else
        fputs(got->ended ? "(the end)" : "(nothing)", stderr);
    fputc('\n', stderr);
    abort();
}

static bool same_item(const item *a, const item *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == IT_ERROR) return true; /* consumed/message depend on the chunking */
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* got must equal want up to and including want's first error (want is the oracle or another
 * run: in both, everything after the first error is ignored). */
static void compare(parser p, const uint8_t *s, size_t n, int64_t limit, const plan *pl,
                    const result *got, const result *want) {
    for (size_t i = 0;; i++) {
        if (i == want->n) {
            if (got->n != want->n || got->ended != want->ended)
                report("more or fewer items than expected", p, s, n, limit, pl, got, want, i);
            return;
        }
        if (i == got->n || !same_item(&got->items[i], &want->items[i]))
            report("a different item", p, s, n, limit, pl, got, want, i);
        if (want->items[i].kind == IT_ERROR) return;
    }
}

/* The first limit error of a run against the oracle's: readuntil's consumed is over the
 * limit and at most the item's L, and exactly L when the "found" check fired (which needs
 * a separator in the item). Called after compare(), so the error is at the same index. */
static void check_error(parser p, const uint8_t *s, size_t n, int64_t limit, const plan *pl,
                        const result *got, const result *want) {
    if (want->n == 0 || want->items[want->n - 1].kind != IT_ERROR) return;
    size_t i = want->n - 1;
    const item *g = &got->items[i], *w = &want->items[i];
    if (g->found && !w->found)
        report("\"Separator is found\" for an item without a separator", p, s, n, limit, pl, got,
               want, i);
    if (p == P_READLINE) return; /* readline's ValueError carries no consumed */
    if (g->consumed <= limit || g->consumed > w->consumed ||
        (g->found && g->consumed != w->consumed))
        report("LimitOverrunError.consumed out of range", p, s, n, limit, pl, got, want, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_src src = {data, size};
    int64_t limit = fz_limit(fz_u8(&src));
    uint8_t ca = fz_u8(&src), cb = fz_u8(&src), flags = fz_u8(&src);
    size_t n = src.n;
    uint8_t *s = fz_xmalloc(n);
    static const uint8_t alphabet[4] = {'a', 'b', '\r', '\n'};
    for (size_t i = 0; i < n; i++) s[i] = flags & 0x10 ? alphabet[src.p[i] & 3] : src.p[i];
    bool late = flags & 0x20;

    plan pa, pb;
    chunks(&pa, ca, 1 + (flags & 3), n);
    chunks(&pb, cb, 1 + ((flags >> 2) & 3), n);

    for (parser p = 0; p < NPARSERS; p++) {
        result want = {0}, a, b;
        oracle(p, s, n, limit, &want);
        run(p, s, n, limit, &pa, late, &a);
        run(p, s, n, limit, &pb, !late, &b);
        compare(p, s, n, limit, &pb, &b, &a); /* the property itself: B agrees with A */
        compare(p, s, n, limit, &pa, &a, &want);
        compare(p, s, n, limit, &pb, &b, &want);
        check_error(p, s, n, limit, &pa, &a, &want);
        check_error(p, s, n, limit, &pb, &b, &want);
        result_free(&a, true);
        result_free(&b, true);
        result_free(&want, false);
    }
    free(pa.sizes);
    free(pb.sizes);
    free(s);
    return 0;
}
