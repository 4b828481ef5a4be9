/* fuzz/reader_ops.c - libFuzzer target: weir_reader against the reference model.
 *
 * The input is decoded into a reader limit, a transport (a probe that records pause/resume,
 * none, or one without pause_reading), one to four separators and a sequence of operations:
 * feeds, feed_eof, set_exception, cancel, and reads (read n with n < 0, 0, > 0; readline;
 * readexactly n; readuntil with one separator or a tuple, including () and b"").
 * Every operation is one scenario step: it is applied to the real reader (a read runs in a
 * new task on a virtual loop), then the loop runs until nothing is runnable, exactly as
 * runner/run.c does. The same step is applied to fuzz/model.c. After each step everything
 * observable is compared: which reads have finished and with what (bytes, exception type,
 * message, partial, expected, consumed, the buffer length right after), the buffer length,
 * at_eof, the exception, the paused flag (reader, transport and model), the number of
 * pause/resume calls. Then invariants that do not depend on the model are checked on the
 * real results (README.md lists them). The input always ends with eof + read(-1), so the
 * bytes left in the buffer are compared too.
 *
 * On a mismatch the target prints what differs and the whole run as a scenario file
 * (docs/scenarios.md) annotated with the model's results, then aborts. With
 * WEIR_FUZZ_TRACE=1 in the environment it prints that scenario for every input, so a
 * corpus file can be checked against CPython:
 *     WEIR_FUZZ_TRACE=1 build/fuzz/reader_ops FILE > x.scn
 *     ~/.pyenv/versions/3.13.0/bin/python3 tests/conformance/pyref.py x.scn   # the model
 *     build/weir run x.scn                                                     # weir
 *
 * Input layout (see decode()):
 *   byte 0     limit (fz_limit)
 *   byte 1     bits 0-1 transport (0,1 probe; 2 none; 3 probe without pause_reading),
 *              bit 2 small alphabet (every data and separator byte becomes one of
 *              "ab\r\n"), bits 3-4 number of separators - 1
 *   per sep    a length byte (& 7: 0 = empty, 7 = 1) and that many bytes
 *   then ops   an opcode byte (% 16) and its arguments, until the input ends */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/model.h"
#include "fuzz/util.h"
#include "weir/weir.h"

#define MAX_OPS 240
#define MAX_SEPS 4
#define MAX_SEPLEN 6

typedef enum op_kind { OP_FEED, OP_EOF, OP_FAIL, OP_CANCEL, OP_READ } op_kind;

typedef struct op {
    op_kind kind;
    uint8_t *data; /* feed: malloc'd */
    size_t len;
    int exc; /* fail: the exception's id */
    m_read_args args;
    bool tuple;     /* readuntil: the tuple form (weir_readuntil_any) */
    bool next_line; /* readline: through weir_reader_next_line (async for) */
    m_sep seps[MAX_SEPS];
    weir_bytes wseps[MAX_SEPS];
    int read; /* read: its number */
    /* filled in by the step, for the repro: */
    int feed_rc;   /* the model's feed result */
    int completed; /* a read started earlier that finished in this step, or -1 */
    size_t buffered;
    bool paused;
} op;

/* A read started by a step and what the real reader gave it. */
typedef struct rec {
    struct harness *H;
    const op *op;
    weir_task *task; /* valid while !done (detached) */
    bool done, checked;
    int rc;
    uint8_t *data; /* result or partial (copy) */
    size_t len;
    int64_t expected, consumed;
    char *msg;
    size_t msg_len;
    size_t buffered_after;
    int err_code; /* weir_reader_error()->code right after the call */
} rec;

/* The probe transport: records what the reader asks of it. */
typedef struct probe {
    weir_transport base;
    struct harness *H;
    bool paused;
    unsigned pauses, resumes;
} probe;

typedef struct harness {
    int64_t limit;
    int tmode; /* 0 probe, 1 none, 2 probe without pause_reading */
    bool alpha;
    size_t nseps;
    uint8_t sepbuf[MAX_SEPS][MAX_SEPLEN];
    m_sep seps[MAX_SEPS];

    op ops[MAX_OPS + 2];
    size_t nops;
    size_t cur; /* the step being run */

    weir_loop *loop;
    weir_reader *r;
    probe pr;
    model *m;
    rec recs[MAX_OPS + 2];
    size_t nrecs;
    uint64_t fed, taken; /* what the real reader accepted and handed out */
    size_t step_buf;     /* buffered after the step's operation, before the loop ran */
} harness;

static bool trace_on;

/* ---- reporting ----------------------------------------------------------------------- */

static const char *exc_message(int id, char *buf, size_t *len) {
    /* "E<id>" followed by a NUL and "!", so that a message holding NUL bytes is tested. */
    int n = snprintf(buf, 24, "E%d", id);
    buf[n] = '\0';
    buf[n + 1] = '!';
    *len = (size_t)n + 2;
    return buf;
}

static void put_outcome(FILE *f, const m_outcome *o) {
    switch (o->kind) {
        case M_PENDING:
            fputs("pending", f);
            break;
        case M_BYTES:
            fz_put_bytes(f, o->data, o->len);
            break;
        case M_INCOMPLETE:
            fputs("IncompleteReadError partial=", f);
            fz_put_bytes(f, o->data, o->len);
            if (o->num < 0)
                fputs(" expected=none", f);
            else
                fprintf(f, " expected=%lld", (long long)o->num);
            break;
        case M_LIMIT:
            fprintf(f, "LimitOverrunError consumed=%lld", (long long)o->num);
            break;
        case M_VALUE_ERROR:
        case M_LINE_TOO_LONG:
            fputs("ValueError", f);
            break;
        case M_RUNTIME_ERROR:
            fputs("RuntimeError", f);
            break;
        case M_EXC: {
            char buf[24];
            size_t len;
            exc_message((int)o->num, buf, &len);
            fputs("error ", f);
            fz_put_bytes(f, (const uint8_t *)buf, len);
            break;
        }
        case M_CANCELLED:
            fputs("(cancelled: not expressible)", f);
            break;
    }
}

static const char *kind_name(m_kind k) {
    static const char *names[] = {"pending",           "bytes",         "IncompleteReadError",
                                  "LimitOverrunError", "ValueError",    "ValueError (readline)",
                                  "RuntimeError",      "set exception", "cancelled"};
    return names[k];
}

static void put_detail(FILE *f, const m_outcome *o) {
    fprintf(f, "%s ", kind_name(o->kind));
    put_outcome(f, o);
    if (o->kind != M_PENDING)
        fprintf(f, "  [buffered after: %zu; message: \"%s\"]", o->buffered_after, o->msg);
}

static void put_read(FILE *f, const op *o) {
    switch (o->args.kind) {
        case M_READ:
            fprintf(f, "read %lld", (long long)o->args.n);
            break;
        case M_READLINE:
            fputs("readline", f);
            break;
        case M_READEXACTLY:
            fprintf(f, "readexactly %lld", (long long)o->args.n);
            break;
        case M_READUNTIL:
            fputs("readuntil", f);
            if (o->args.nseps == 0) fputs(" ()", f);
            for (size_t i = 0; i < o->args.nseps; i++) {
                fputc(' ', f);
                fz_put_bytes(f, o->seps[i].data, o->seps[i].len);
            }
            break;
    }
}

/* The run up to step `upto` as a scenario with the model's results. */
static void put_scenario(FILE *f, const harness *H, size_t upto, const char *why) {
    fprintf(f, "scenario fuzz_reader_ops\n");
    if (H->tmode == 1) fprintf(f, "# (fuzzed without a transport: no paused lines)\n");
    if (H->tmode == 2)
        fprintf(f, "# (fuzzed with a transport lacking pause_reading: no paused lines)\n");
    fprintf(f, "reader limit=%lld\n", (long long)H->limit);
    int pending = -1;
    for (size_t k = 0; k <= upto && k < H->nops; k++) {
        const op *o = &H->ops[k];
        switch (o->kind) {
            case OP_FEED:
                fputs("feed ", f);
                fz_put_bytes(f, o->data, o->len);
                if (o->feed_rc) fputs(" => AssertionError", f);
                fputc('\n', f);
                break;
            case OP_EOF:
                fputs("eof\n", f);
                break;
            case OP_FAIL: {
                char buf[24];
                size_t len;
                exc_message(o->exc, buf, &len);
                fputs("fail ", f);
                fz_put_bytes(f, (const uint8_t *)buf, len);
                fputc('\n', f);
                break;
            }
            case OP_CANCEL:
                fputs(
                    "# cancel the waiting read's task (not expressible; it gets CancelledError)\n",
                    f);
                break;
            case OP_READ: {
                const m_outcome *mo = model_outcome(H->m, o->read);
                put_read(f, o);
                fputs(" => ", f);
                /* What the read had produced by the end of its own step. */
                if (o->completed == o->read) {
                    put_outcome(f, mo);
                } else {
                    fputs("pending", f);
                    pending = o->read;
                }
                if (o->tuple && o->args.nseps == 1) fputs("  # fuzzed as a 1-tuple", f);
                if (o->next_line) fputs("  # fuzzed as next_line", f);
                fputc('\n', f);
                break;
            }
        }
        if (o->completed >= 0 && o->completed != (o->kind == OP_READ ? o->read : -1)) {
            const m_outcome *mo = model_outcome(H->m, o->completed);
            if (mo->kind == M_CANCELLED) {
                fputs("# (the waiting read was cancelled)\n", f);
            } else {
                if (o->completed != pending) fputs("# (not the last pending read:)\n", f);
                fputs("await => ", f);
                put_outcome(f, mo);
                fputc('\n', f);
            }
        }
        fprintf(f, "buffered => %zu\n", o->buffered);
        if (H->tmode == 0) fprintf(f, "paused => %s\n", o->paused ? "true" : "false");
        if (k == upto && why) {
            fputs("# ^^^ weir differs from the model here: ", f);
            for (const char *c = why; *c; c++) fputs(*c == '\n' ? "\n#" : (char[2]){*c, 0}, f);
            fputc('\n', f);
        }
    }
}

static void mismatch(harness *H, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "\n==== reader_ops: weir and the model disagree at step %zu: %s\n", H->cur + 1,
            why);
    fprintf(stderr, "==== the run as a scenario (results are the model's):\n");
    /* Make the step's annotations reflect the model (done by the caller before checks). */
    put_scenario(stderr, H, H->cur, why);
    fprintf(stderr, "==== end\n");
    abort();
}

#define CHECK(H, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) mismatch((H), __VA_ARGS__);                                                   \
    } while (0)

/* ---- the probe transport --------------------------------------------------------------- */

static void probe_pause(weir_transport *t) {
    probe *p = (probe *)t;
    harness *H = p->H;
    CHECK(H, !p->paused, "pause_reading() called on a transport that is already paused");
    CHECK(H, weir_reader_buffered(H->r) > 2 * (uint64_t)H->limit,
          "pause_reading() with %zu bytes buffered, not more than 2 x limit = %lld",
          weir_reader_buffered(H->r), (long long)(2 * H->limit));
    p->paused = true;
    p->pauses++;
}

static void probe_resume(weir_transport *t) {
    probe *p = (probe *)t;
    CHECK(p->H, p->paused, "resume_reading() called on a transport that is not paused");
    p->paused = false;
    p->resumes++;
}

static int probe_write(weir_transport *t, const void *d, size_t n) {
    (void)t, (void)d, (void)n;
    return WEIR_ENOTSUP;
}
static int probe_write_eof(weir_transport *t) {
    (void)t;
    return WEIR_ENOTSUP;
}
static bool probe_false(weir_transport *t) {
    (void)t;
    return false;
}
static void probe_nop(weir_transport *t) { (void)t; }
static size_t probe_size(weir_transport *t) {
    (void)t;
    return 0;
}
static int probe_set_limits(weir_transport *t, size_t h, size_t l) {
    (void)t, (void)h, (void)l;
    return WEIR_ENOTSUP;
}
static void probe_get_limits(weir_transport *t, size_t *h, size_t *l) {
    (void)t;
    *h = *l = 0;
}
static int probe_extra(weir_transport *t, const char *name, weir_extra *out) {
    (void)t, (void)name, (void)out;
    return WEIR_ENOENT;
}

static const weir_transport_ops probe_ops = {
    .name = "fuzz-probe",
    .write = probe_write,
    .write_eof = probe_write_eof,
    .can_write_eof = probe_false,
    .close = probe_nop,
    .abort = probe_nop,
    .is_closing = probe_false,
    .pause_reading = probe_pause,
    .resume_reading = probe_resume,
    .write_buffer_size = probe_size,
    .set_write_buffer_limits = probe_set_limits,
    .get_write_buffer_limits = probe_get_limits,
    .get_extra_info = probe_extra,
};

/* A transport that cannot pause (asyncio: pause_reading raises NotImplementedError). */
static const weir_transport_ops nopause_ops = {
    .name = "fuzz-probe-nopause",
    .write = probe_write,
    .write_eof = probe_write_eof,
    .can_write_eof = probe_false,
    .close = probe_nop,
    .abort = probe_nop,
    .is_closing = probe_false,
    .pause_reading = NULL,
    .resume_reading = probe_resume,
    .write_buffer_size = probe_size,
    .set_write_buffer_limits = probe_set_limits,
    .get_write_buffer_limits = probe_get_limits,
    .get_extra_info = probe_extra,
};

/* ---- the read task --------------------------------------------------------------------- */

static uint8_t *dup_bytes(const void *p, size_t n) {
    uint8_t *d = fz_xmalloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

static int read_task(void *arg) {
    rec *rr = arg;
    harness *H = rr->H;
    const op *o = rr->op;
    weir_reader *r = H->r;
    weir_bytes v = {NULL, 0};
    int rc = 0;
    switch (o->args.kind) {
        case M_READ:
            rc = weir_read(r, o->args.n, &v);
            break;
        case M_READLINE:
            if (!o->next_line) {
                rc = weir_readline(r, &v);
                break;
            }
            /* 1 and a line, 0 and an empty view at the end, or readline's error. */
            rc = weir_reader_next_line(r, &v);
            if (rc > 0) {
                CHECK(H, rc == 1 && v.len > 0, "next_line returned %d with %zu bytes", rc, v.len);
                rc = 0;
            } else if (rc == 0) {
                CHECK(H, v.len == 0, "next_line returned 0 with %zu bytes", v.len);
            }
            break;
        case M_READEXACTLY:
            rc = weir_readexactly(r, o->args.n, &v);
            break;
        case M_READUNTIL:
            if (o->tuple)
                rc = weir_readuntil_any(r, o->wseps, o->args.nseps, &v);
            else
                rc = weir_readuntil(r, o->wseps[0].data, o->wseps[0].len, &v);
            break;
    }
    /* Copy everything now: views and error details die at the next read call. */
    const weir_error *e = weir_reader_error(r);
    rr->rc = rc;
    rr->err_code = e->code;
    rr->expected = e->expected;
    rr->consumed = e->consumed;
    if (rc == 0) {
        rr->data = dup_bytes(v.data, v.len);
        rr->len = v.len;
    } else {
        if (rc == WEIR_EINCOMPLETE) {
            rr->data = dup_bytes(e->partial.data, e->partial.len);
            rr->len = e->partial.len;
        }
        rr->msg = (char *)dup_bytes(e->message, e->message_len);
        rr->msg_len = e->message_len;
    }
    rr->buffered_after = weir_reader_buffered(r);
    rr->done = true;
    return 0;
}

/* ---- comparing -------------------------------------------------------------------------- */

static bool ends_with(const uint8_t *p, size_t n, const m_sep *s) {
    return s->len <= n && memcmp(p + n - s->len, s->data, s->len) == 0;
}

/* Some separator occurs entirely within p[0..end). */
static bool occurs_within(const uint8_t *p, size_t end, const m_sep *seps, size_t nseps) {
    for (size_t k = 0; k < nseps; k++) {
        const m_sep *s = &seps[k];
        if (s->len == 0) continue;
        for (size_t i = 0; i + s->len <= end; i++)
            if (memcmp(p + i, s->data, s->len) == 0) return true;
    }
    return false;
}

/* The separators a read used (readline: "\n"). */
static size_t read_seps(const op *o, const m_sep **seps) {
    static const uint8_t nl = '\n';
    static const m_sep nlsep = {&nl, 1};
    if (o->args.kind == M_READLINE) {
        *seps = &nlsep;
        return 1;
    }
    *seps = o->seps;
    return o->args.nseps;
}

/* The real result of read `rr` as an m_outcome-like description, for messages. */
static void describe_real(const rec *rr, char *buf, size_t size) {
    int n = snprintf(buf, size, "rc=%d (%s) len=%zu", rr->rc, weir_errname(rr->rc), rr->len);
    if (n < 0 || (size_t)n >= size) return;
    if (rr->len) {
        n += snprintf(buf + n, size - (size_t)n, " data=\"");
        for (size_t i = 0; i < rr->len && i < 48 && (size_t)n + 8 < size; i++) {
            uint8_t c = rr->data[i];
            n += snprintf(buf + n, size - (size_t)n,
                          c >= 0x20 && c < 0x7f && c != '"' ? "%c" : "\\x%02x", c);
        }
        if ((size_t)n + 8 < size)
            n += snprintf(buf + n, size - (size_t)n, "%s\"", rr->len > 48 ? "..." : "");
    }
    if ((size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " expected=%lld consumed=%lld buffered_after=%zu",
                      (long long)rr->expected, (long long)rr->consumed, rr->buffered_after);
    if (rr->msg && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " message=\"%.*s\"", (int)rr->msg_len, rr->msg);
}

static const char *read_name(const op *o) {
    switch (o->args.kind) {
        case M_READ:
            return "read";
        case M_READLINE:
            return "readline";
        case M_READEXACTLY:
            return "readexactly";
        default:
            return "readuntil";
    }
}

/* A check on read `id` failed: describe both sides and abort. */
static void read_mismatch(harness *H, const rec *rr, int id, const char *what) {
    const m_outcome *mo = model_outcome(H->m, id);
    char real[400], exp[400];
    describe_real(rr, real, sizeof real);
    FILE *f = fmemopen(exp, sizeof exp, "w");
    if (f) {
        put_detail(f, mo);
        fclose(f);
    } else {
        snprintf(exp, sizeof exp, "%s", kind_name(mo->kind));
    }
    mismatch(H, "read #%d (%s): %s\n  model: %s\n  weir:  %s", id, read_name(rr->op), what, exp,
             real);
}

static void compare_read(harness *H, rec *rr, int id) {
    const m_outcome *mo = model_outcome(H->m, id);
    const op *o = rr->op;
#define RCHECK(cond, what)                                                                         \
    do {                                                                                           \
        if (!(cond)) read_mismatch(H, rr, id, what);                                               \
    } while (0)

    /* The error details must describe the call's own failure. After a success the code
     * should be 0 (reader.h), but a read that waited and then succeeded still shows the
     * code of a read that failed meanwhile (reported to the lead): checked only with
     * -DFUZZ_STRICT_ERROR_CODE. */
#ifdef FUZZ_STRICT_ERROR_CODE
    RCHECK(rr->err_code == rr->rc, "weir_reader_error()->code differs from the return code");
#else
    if (rr->rc != 0)
        RCHECK(rr->err_code == rr->rc, "weir_reader_error()->code differs from the return code");
#endif

    int want_rc = 0;
    switch (mo->kind) {
        case M_PENDING:
            break;
        case M_BYTES:
            want_rc = 0;
            break;
        case M_INCOMPLETE:
            want_rc = WEIR_EINCOMPLETE;
            break;
        case M_LIMIT:
            want_rc = WEIR_ELIMIT;
            break;
        case M_VALUE_ERROR:
            want_rc = WEIR_EINVAL;
            break;
        case M_LINE_TOO_LONG:
            want_rc = WEIR_ETOOLONG;
            break;
        case M_RUNTIME_ERROR:
            want_rc = WEIR_EBUSY;
            break;
        case M_EXC:
            want_rc = WEIR_EUSER - (int)mo->num;
            break;
        case M_CANCELLED:
            want_rc = WEIR_ECANCELED;
            break;
    }
    RCHECK(rr->rc == want_rc, "different result");
    if (mo->kind == M_BYTES || mo->kind == M_INCOMPLETE)
        RCHECK(rr->len == mo->len && (rr->len == 0 || memcmp(rr->data, mo->data, rr->len) == 0),
               "different bytes");
    if (mo->kind == M_INCOMPLETE) RCHECK(rr->expected == mo->num, "different expected");
    if (mo->kind == M_LIMIT) RCHECK(rr->consumed == mo->num, "different consumed");
    if (mo->kind == M_EXC) {
        char buf[24];
        size_t len;
        exc_message((int)mo->num, buf, &len);
        RCHECK(rr->msg_len == len && memcmp(rr->msg, buf, len) == 0,
               "the set exception's message differs");
    } else if (mo->kind != M_BYTES && mo->kind != M_CANCELLED) {
        RCHECK(rr->msg_len == strlen(mo->msg) && memcmp(rr->msg, mo->msg, rr->msg_len) == 0,
               "different message");
    }
    RCHECK(rr->buffered_after == mo->buffered_after,
           "different buffer length right after the read finished");

    /* Invariants on the real result alone (given the model's word on staleness). */
    int64_t lim = H->limit;
    const m_sep *seps;
    size_t nseps = read_seps(o, &seps);
    size_t maxlen = 0;
    for (size_t i = 0; i < nseps; i++)
        if (seps[i].len > maxlen) maxlen = seps[i].len;
    bool until = o->args.kind == M_READUNTIL || o->args.kind == M_READLINE;
    if (rr->rc == 0) {
        if (o->args.kind == M_READ && o->args.n >= 0)
            RCHECK(rr->len <= (uint64_t)o->args.n, "read(n) returned more than n bytes");
        if (o->args.kind == M_READEXACTLY)
            RCHECK(rr->len == (uint64_t)o->args.n, "readexactly(n) did not return n bytes");
        if (until) {
            /* The shortest separator that ends the result is the one that matched. */
            size_t win = SIZE_MAX;
            for (size_t i = 0; i < nseps; i++)
                if (seps[i].len && ends_with(rr->data, rr->len, &seps[i]) && seps[i].len < win)
                    win = seps[i].len;
            if (win == SIZE_MAX) {
                /* Only readline's partial line at EOF ends without a separator. */
                RCHECK(o->args.kind == M_READLINE && rr->buffered_after == 0,
                       "readuntil result does not end with a separator");
                RCHECK(rr->len <= (uint64_t)lim, "readline's last line is over the limit");
                if (!mo->stale)
                    RCHECK(!occurs_within(rr->data, rr->len, seps, nseps),
                           "readline's last line holds a newline");
            } else {
                RCHECK(rr->len - win <= (uint64_t)lim,
                       "the separator starts past the limit but the read succeeded");
                if (!mo->stale)
                    RCHECK(!occurs_within(rr->data, rr->len - 1, seps, nseps),
                           "the result holds a separator match ending before its end");
            }
        }
    } else if (rr->rc == WEIR_EINCOMPLETE) {
        RCHECK(rr->buffered_after == 0, "IncompleteReadError left bytes in the buffer");
        if (o->args.kind == M_READEXACTLY)
            RCHECK(rr->len < (uint64_t)o->args.n && rr->expected == o->args.n,
                   "readexactly's IncompleteReadError has a bad partial/expected");
        if (until) {
            RCHECK(rr->expected == -1, "readuntil's IncompleteReadError expected is not None");
            RCHECK(rr->len + 1 <= (uint64_t)lim + maxlen,
                   "readuntil's partial is longer than limit + longest separator - 1");
            if (!mo->stale)
                RCHECK(!occurs_within(rr->data, rr->len, seps, nseps),
                       "readuntil's partial holds a separator");
        }
    } else if (rr->rc == WEIR_ELIMIT) {
        RCHECK(rr->consumed > lim, "LimitOverrunError with consumed <= limit");
        RCHECK(rr->buffered_after == H->step_buf, "LimitOverrunError changed the buffer");
        RCHECK((uint64_t)rr->consumed <= rr->buffered_after,
               "LimitOverrunError consumed is past the end of the buffer");
    } else if (rr->rc == WEIR_ETOOLONG) {
        RCHECK(H->step_buf >= rr->buffered_after + (uint64_t)lim + 1,
               "readline's ValueError dropped fewer than limit + 1 bytes");
    } else if (rr->rc == WEIR_EBUSY || rr->rc <= WEIR_EUSER || rr->rc == WEIR_ECANCELED) {
        if (!(o->args.kind == M_READ && o->args.n < 0))
            RCHECK(rr->buffered_after == H->step_buf, "a read that raised consumed bytes");
    }
#undef RCHECK
}

/* Everything observable after a step. */
static void compare_state(harness *H) {
    weir_reader *r = H->r;
    model *m = H->m;
    size_t nreads = model_nreads(m);
    CHECK(H, nreads == H->nrecs, "harness: %zu model reads, %zu real", nreads, H->nrecs);
    for (size_t i = 0; i < H->nrecs; i++) {
        rec *rr = &H->recs[i];
        const m_outcome *mo = model_outcome(m, (int)i);
        bool mdone = mo->kind != M_PENDING;
        if (rr->done != mdone) {
            char buf[400];
            FILE *f = fmemopen(buf, sizeof buf, "w");
            if (f) {
                put_detail(f, mo);
                fclose(f);
            } else {
                buf[0] = 0;
            }
            char real[400] = "still waiting";
            if (rr->done) describe_real(rr, real, sizeof real);
            mismatch(H, "read #%zu: %s in weir, %s in the model\n  model: %s\n  weir:  %s", i,
                     rr->done ? "finished" : "still waiting", mdone ? "finished" : "waiting", buf,
                     real);
        }
        if (rr->done && !rr->checked) {
            rr->checked = true;
            compare_read(H, rr, (int)i);
            if (rr->rc == 0 || rr->rc == WEIR_EINCOMPLETE) H->taken += rr->len;
        }
    }
    CHECK(H, weir_reader_buffered(r) == model_buffered(m), "buffered: weir %zu, model %zu",
          weir_reader_buffered(r), model_buffered(m));
    CHECK(H, weir_reader_at_eof(r) == model_at_eof(m), "at_eof: weir %d, model %d",
          weir_reader_at_eof(r), model_at_eof(m));
    CHECK(H, weir_reader_limit(r) == H->limit, "limit changed");
    CHECK(H, weir_reader_paused(r) == model_paused(m), "paused: weir %d, model %d",
          weir_reader_paused(r), model_paused(m));
    if (H->tmode != 1) {
        CHECK(H, H->pr.paused == model_paused(m), "transport paused: %d, model %d", H->pr.paused,
              model_paused(m));
        CHECK(H, H->pr.pauses == model_pauses(m) && H->pr.resumes == model_resumes(m),
              "pause_reading/resume_reading calls: weir %u/%u, model %u/%u", H->pr.pauses,
              H->pr.resumes, model_pauses(m), model_resumes(m));
    }
    const weir_error *e = weir_reader_exception(r);
    int exc = model_exception(m);
    CHECK(H, (e == NULL) == (exc < 0), "exception(): weir %s, model %s", e ? "set" : "None",
          exc >= 0 ? "set" : "None");
    if (e) {
        char buf[24];
        size_t len;
        exc_message(exc, buf, &len);
        CHECK(H,
              e->code == WEIR_EUSER - exc && e->message_len == len &&
                  memcmp(e->message, buf, len) == 0,
              "exception(): not the last exception set");
    }
    /* Nothing fed is lost: fed == buffered + taken + discarded + lost + held, with the real
     * reader's fed, buffered and taken and the model's account of what asyncio drops. */
    m_totals t = model_totals(m);
    CHECK(H, t.fed == t.taken + t.discarded + t.lost + t.held + model_buffered(m),
          "model: byte accounting is off");
    CHECK(H, H->fed == t.fed, "accepted feeds: weir %llu bytes, model %llu",
          (unsigned long long)H->fed, (unsigned long long)t.fed);
    CHECK(H, H->fed == H->taken + t.discarded + t.lost + t.held + weir_reader_buffered(r),
          "bytes went missing: fed %llu, handed out %llu, buffered %zu, dropped as asyncio "
          "does %llu",
          (unsigned long long)H->fed, (unsigned long long)H->taken, weir_reader_buffered(r),
          (unsigned long long)(t.discarded + t.lost + t.held));
}

/* ---- running a step --------------------------------------------------------------------- */

static void run_loop(harness *H) {
    for (int i = 0; weir_loop_run_ready(H->loop) > 0; i++)
        CHECK(H, i < 1000, "the loop never stopped having runnable tasks");
}

static void step(harness *H, op *o) {
    weir_reader *r = H->r;
    int before_waiting = model_waiting(H->m);
    switch (o->kind) {
        case OP_FEED: {
            int rc = weir_reader_feed(r, o->data, o->len);
            o->feed_rc = model_feed(H->m, o->data, o->len);
            CHECK(H, (rc == 0 && o->feed_rc == 0) || (rc == WEIR_EEOF && o->feed_rc == -1),
                  "feed: weir %d (%s), model %s", rc, weir_errname(rc),
                  o->feed_rc ? "AssertionError" : "ok");
            if (rc == 0) H->fed += o->len;
            H->step_buf = weir_reader_buffered(r);
            run_loop(H);
            break;
        }
        case OP_EOF:
            weir_reader_feed_eof(r);
            model_feed_eof(H->m);
            H->step_buf = weir_reader_buffered(r);
            run_loop(H);
            break;
        case OP_FAIL: {
            char buf[24];
            size_t len;
            exc_message(o->exc, buf, &len);
            int rc = weir_reader_set_exception(r, WEIR_EUSER - o->exc, buf, len);
            CHECK(H, rc == 0, "set_exception failed: %d", rc);
            model_set_exception(H->m, o->exc);
            H->step_buf = weir_reader_buffered(r);
            run_loop(H);
            break;
        }
        case OP_CANCEL:
            for (size_t i = 0; i < H->nrecs; i++)
                if (!H->recs[i].done) weir_task_cancel(H->recs[i].task);
            model_cancel(H->m);
            H->step_buf = weir_reader_buffered(r);
            run_loop(H);
            break;
        case OP_READ: {
            rec *rr = &H->recs[H->nrecs++];
            rr->H = H;
            rr->op = o;
            weir_task_opts topts = {64 * 1024, "fuzz-read"};
            int rc = weir_spawn(H->loop, read_task, rr, &topts, &rr->task);
            CHECK(H, rc == 0, "weir_spawn: %d", rc);
            weir_task_detach(rr->task);
            o->read = model_start_read(H->m, &o->args);
            CHECK(H, o->read == (int)(H->nrecs - 1), "harness: read numbering");
            H->step_buf = weir_reader_buffered(r);
            run_loop(H);
            break;
        }
    }
    /* For the repro: which earlier read finished in this step, and the state after it. */
    o->completed = -1;
    if (before_waiting >= 0 && model_outcome(H->m, before_waiting)->kind != M_PENDING)
        o->completed = before_waiting;
    if (o->kind == OP_READ && model_outcome(H->m, o->read)->kind != M_PENDING && o->completed < 0)
        o->completed = o->read;
    o->buffered = model_buffered(H->m);
    o->paused = model_paused(H->m);
    compare_state(H);
}

/* ---- decoding --------------------------------------------------------------------------- */

static uint8_t sym(const harness *H, uint8_t b) {
    static const uint8_t alphabet[4] = {'a', 'b', '\r', '\n'};
    return H->alpha ? alphabet[b & 3] : b;
}

static void set_read(harness *H, op *o, m_read_kind kind, int64_t n) {
    (void)H;
    o->kind = OP_READ;
    o->args.kind = kind;
    o->args.n = n;
    o->args.seps = o->seps;
    o->args.nseps = 0;
}

static void add_sep(harness *H, op *o, size_t i) {
    size_t k = o->args.nseps++;
    o->seps[k] = H->seps[i];
    /* weir_bytes: a non-NULL pointer even for the empty separator. */
    o->wseps[k] = weir_bytes_of(H->seps[i].len ? H->seps[i].data : H->sepbuf[i], H->seps[i].len);
    o->seps[k].data = o->wseps[k].data;
}

static void decode(harness *H, fz_src *s) {
    H->limit = fz_limit(fz_u8(s));
    uint8_t flags = fz_u8(s);
    static const int tmodes[4] = {0, 0, 1, 2};
    H->tmode = tmodes[flags & 3];
    H->alpha = (flags >> 2) & 1;
    H->nseps = 1 + ((flags >> 3) & 3);
    for (size_t i = 0; i < H->nseps; i++) {
        size_t len = fz_u8(s) & 7;
        if (len == 7) len = 1;
        for (size_t k = 0; k < len; k++) H->sepbuf[i][k] = sym(H, fz_u8(s));
        H->seps[i].data = H->sepbuf[i];
        H->seps[i].len = len;
    }
    int nexc = 0, nbig = 0;
    while (fz_more(s) && H->nops < MAX_OPS) {
        op *o = &H->ops[H->nops];
        memset(o, 0, sizeof *o);
        o->completed = -1;
        uint8_t c = fz_u8(s) % 16;
        switch (c) {
            case 0:
            case 1:
            case 2:
            case 3: { /* feed a few bytes */
                size_t len = fz_u8(s) % 17;
                if (len > s->n) len = s->n;
                o->kind = OP_FEED;
                o->data = fz_xmalloc(len);
                for (size_t k = 0; k < len; k++) o->data[k] = sym(H, fz_u8(s));
                o->len = len;
                break;
            }
            case 4: { /* feed a long run of a two-byte pattern: 1 + 4 * count bytes, or, with
                       * the magic count 255 and pattern "SK" (at most twice per input: they are
                       * slow), 600 KiB, so that two of them take the reader's block over 1 MiB,
                       * where it releases the block once emptied (a repro's feed line stays
                       * under the scenario parser's 1 MiB line limit) */
                uint8_t count = fz_u8(s), ra = fz_u8(s), rb = fz_u8(s);
                uint8_t a = sym(H, ra), b = sym(H, rb);
                size_t len = 1 + 4 * (size_t)count;
                if (count == 255 && ra == 'S' && rb == 'K' && nbig < 2) {
                    nbig++;
                    len = (size_t)600 << 10;
                }
                o->kind = OP_FEED;
                o->data = fz_xmalloc(len);
                for (size_t k = 0; k < len; k++) o->data[k] = k % 2 ? b : a;
                o->len = len;
                break;
            }
            case 5:
                o->kind = OP_EOF;
                break;
            case 6:
                o->kind = OP_FAIL;
                o->exc = nexc++;
                break;
            case 7:
                set_read(H, o, M_READ, (int8_t)fz_u8(s));
                break;
            case 8:
                set_read(H, o, M_READLINE, 0);
                break;
            case 13:
                set_read(H, o, M_READLINE, 0);
                o->next_line = true;
                break;
            case 9:
                set_read(H, o, M_READEXACTLY, (int8_t)fz_u8(s));
                break;
            case 10:
                set_read(H, o, M_READUNTIL, 0);
                add_sep(H, o, fz_u8(s) % H->nseps);
                break;
            case 11: { /* a tuple: the separators picked by a mask, maybe in reverse order */
                uint8_t mask = fz_u8(s);
                set_read(H, o, M_READUNTIL, 0);
                o->tuple = true;
                for (size_t k = 0; k < H->nseps; k++) {
                    size_t i = mask & 0x80 ? H->nseps - 1 - k : k;
                    if (mask & (1u << i)) add_sep(H, o, i);
                }
                break;
            }
            case 12:
                o->kind = OP_CANCEL;
                break;
            case 14:
                set_read(H, o, M_READ, -1);
                break;
            case 15:
                set_read(H, o, M_READ, 16 * (int64_t)fz_u8(s));
                break;
        }
        H->nops++;
    }
    /* The end: EOF, then read(-1) returns whatever is left. */
    memset(&H->ops[H->nops], 0, sizeof H->ops[H->nops]);
    H->ops[H->nops].completed = -1;
    H->ops[H->nops++].kind = OP_EOF;
    memset(&H->ops[H->nops], 0, sizeof H->ops[H->nops]);
    H->ops[H->nops].completed = -1;
    set_read(H, &H->ops[H->nops++], M_READ, -1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *t = getenv("WEIR_FUZZ_TRACE");
    trace_on = t && *t && *t != '0';
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    harness *H = calloc(1, sizeof *H);
    if (!H) return 0;
    fz_src s = {data, size};
    decode(H, &s);

    if (weir_loop_new_virtual(&H->loop) != 0) abort();
    if (weir_reader_new(H->limit, &H->r) != 0) abort();
    H->m = model_new(H->limit, H->tmode != 1, H->tmode != 2);
    if (!H->m) abort();
    H->pr.base.ops = H->tmode == 2 ? &nopause_ops : &probe_ops;
    H->pr.H = H;
    if (H->tmode != 1) weir_reader_set_transport(H->r, &H->pr.base);

    for (H->cur = 0; H->cur < H->nops; H->cur++) step(H, &H->ops[H->cur]);
    if (trace_on) {
        put_scenario(stdout, H, H->nops - 1, NULL);
        fprintf(stdout, "at_eof => %s\n", model_at_eof(H->m) ? "true" : "false");
        int exc = model_exception(H->m);
        if (exc < 0) {
            fputs("exception => none\n", stdout);
        } else {
            char buf[24];
            size_t len;
            exc_message(exc, buf, &len);
            fputs("exception => error ", stdout);
            fz_put_bytes(stdout, (const uint8_t *)buf, len);
            fputc('\n', stdout);
        }
        fflush(stdout);
    }

    /* The loop first: it cancels reads still waiting, which write into their records. */
    weir_loop_free(H->loop);
    weir_reader_free(H->r);
    model_free(H->m);
    for (size_t i = 0; i < H->nrecs; i++) {
        free(H->recs[i].data);
        free(H->recs[i].msg);
    }
    for (size_t i = 0; i < H->nops; i++) free(H->ops[i].data);
    free(H);
    return 0;
}
