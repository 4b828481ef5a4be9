/* core/reader.c - asyncio's StreamReader (CPython 3.13), line for line in behaviour.
 *
 * The buffer is one contiguous block with a consumed head: [base+start, base+end) is what
 * is buffered. Reads hand out views into the block, so a block that a live view points into
 * is never written over: when a feed needs room while a view is "pinned", the data moves to
 * a new block and the old one is retired until the next read call. Bytes a read consumed
 * stay in memory until then, which is what makes the views safe without copying.
 *
 * The comments name the CPython behaviour each branch mirrors; docs/api.md has the contract
 * and shared/reference/asyncio-streams.md the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* A buffer that held more than this and is now empty is released, so one huge message does
 * not pin its memory for the life of the connection. */
#define SHRINK_ABOVE ((size_t)1 << 20)

static const uint8_t empty_bytes[1];
#define EMPTY_VIEW (weir_bytes_of(empty_bytes, 0))

struct weir_reader {
    uint8_t *base; /* the block: [start, end) is buffered */
    size_t cap, start, end;
    bool pinned;       /* a view handed out since the last read call began points into base */
    uint8_t **retired; /* blocks replaced while pinned, freed when the next read call begins */
    size_t nretired, cap_retired;

    uint8_t *acc; /* read(-1)'s result when it had to be assembled */

    int64_t limit;
    bool eof;
    bool paused; /* we paused the transport */
    weir_transport *transport;
    struct read_wait *waiter; /* the read that waits for data, if any */

    bool has_exc; /* set_exception() */
    weir_error exc;
    char *exc_msg;

    weir_error err; /* details of the last failed read */
    char *err_msg;
    size_t err_cap;
};

/* --- construction ------------------------------------------------------------------ */

int weir_reader_new(int64_t limit, weir_reader **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    if (limit <= 0) return WEIR_EINVAL; /* asyncio: ValueError('Limit cannot be <= 0') */
    weir_reader *r = calloc(1, sizeof *r);
    if (!r) return WEIR_ENOMEM;
    r->limit = limit;
    r->err.expected = -1;
    *out = r;
    return WEIR_OK;
}

void weir_reader_free(weir_reader *r) {
    if (!r) return;
    free(r->base);
    for (size_t i = 0; i < r->nretired; i++) free(r->retired[i]);
    free(r->retired);
    free(r->acc);
    free(r->exc_msg);
    free(r->err_msg);
    free(r);
}

void weir_reader_set_transport(weir_reader *r, weir_transport *t) {
    if (!r) return;
    r->transport = t;
    r->paused = false;
}

/* --- the buffer -------------------------------------------------------------------- */

static inline size_t buf_len(const weir_reader *r) { return r->end - r->start; }
static inline const uint8_t *buf_data(const weir_reader *r) {
    return r->base ? r->base + r->start : empty_bytes;
}

/* Take n bytes from the front; the view stays valid until the next read call. */
static weir_bytes buf_take(weir_reader *r, size_t n) {
    if (n == 0) return EMPTY_VIEW;
    weir_bytes v = weir_bytes_of(buf_data(r), n);
    r->start += n;
    r->pinned = true;
    return v;
}

/* Append len bytes, amortised O(len): compact only when that frees at least half the
 * block, otherwise double it. */
static int buf_append(weir_reader *r, const uint8_t *data, size_t len) {
    size_t live = buf_len(r);
    bool aliased = r->base && data >= r->base && data < r->base + r->cap;
    if (!r->pinned && !aliased) {
        if (live == 0) r->start = r->end = 0;
        if (r->cap - r->end < len && r->start > 0 && live + len <= r->cap / 2) {
            memmove(r->base, r->base + r->start, live);
            r->start = 0;
            r->end = live;
        }
    }
    if (r->cap - r->end >= len && !aliased) {
        memcpy(r->base + r->end, data, len);
        r->end += len;
        return WEIR_OK;
    }
    if (len > SIZE_MAX / 2 - live) return WEIR_ENOMEM;
    /* Several blocks can be retired before a read call frees them: a read that began before
     * an earlier retirement may complete (pinning the new block) without beginning a call. */
    if (r->pinned && r->nretired == r->cap_retired) {
        size_t n = r->cap_retired ? r->cap_retired * 2 : 4;
        uint8_t **p = realloc(r->retired, n * sizeof *p);
        if (!p) return WEIR_ENOMEM;
        r->retired = p;
        r->cap_retired = n;
    }
    size_t cap = r->cap ? r->cap : 256;
    while (cap < live + len) cap *= 2;
    uint8_t *block = malloc(cap);
    if (!block) return WEIR_ENOMEM;
    if (live) memcpy(block, buf_data(r), live);
    memcpy(block + live, data, len);
    /* The old block may still be read through a view (pinned) or be the source of `data`
     * (aliased). A pinned block is retired; otherwise it can go now. */
    if (r->pinned) {
        r->retired[r->nretired++] = r->base;
        r->pinned = false;
    } else {
        free(r->base);
    }
    r->base = block;
    r->cap = cap;
    r->start = 0;
    r->end = live + len;
    return WEIR_OK;
}

/* Start of every read call: earlier views die here. */
static inline void begin_call(weir_reader *r) {
    r->pinned = false;
    while (r->nretired) free(r->retired[--r->nretired]);
    if (r->end == r->start && r->cap > SHRINK_ABOVE) {
        free(r->base);
        r->base = NULL;
        r->cap = r->start = r->end = 0;
    }
    r->err.code = WEIR_OK;
}

/* --- errors ------------------------------------------------------------------------ */

/* Keep a copy of a message in r->err (messages may hold NUL bytes). */
static int set_err_msg(weir_reader *r, const char *msg, size_t len) {
    if (len + 1 > r->err_cap) {
        char *p = realloc(r->err_msg, len + 1);
        if (!p) {
            r->err.message = "out of memory";
            r->err.message_len = strlen(r->err.message);
            return WEIR_ENOMEM;
        }
        r->err_msg = p;
        r->err_cap = len + 1;
    }
    if (len) memcpy(r->err_msg, msg, len);
    r->err_msg[len] = '\0';
    r->err.message = r->err_msg;
    r->err.message_len = len;
    return WEIR_OK;
}

static int fail(weir_reader *r, int code, const char *msg) {
    r->err.code = code;
    r->err.message = msg;
    r->err.message_len = strlen(msg);
    r->err.partial = EMPTY_VIEW;
    r->err.expected = -1;
    r->err.consumed = 0;
    return code;
}

/* The exception set with set_exception(), raised by a read. */
static int raise_exc(weir_reader *r, int code, const char *msg, size_t len) {
    fail(r, code, "");
    set_err_msg(r, msg, len);
    return code;
}

static int raise_set_exception(weir_reader *r) {
    return raise_exc(r, r->exc.code, r->exc_msg ? r->exc_msg : "", r->exc.message_len);
}

static int fail_limit(weir_reader *r, const char *msg, int64_t consumed) {
    fail(r, WEIR_ELIMIT, msg);
    r->err.consumed = consumed;
    return WEIR_ELIMIT;
}

/* IncompleteReadError(bytes(buffer), expected); the buffer is cleared (the bytes live on
 * in err.partial until the next read call). */
static int fail_incomplete(weir_reader *r, int64_t expected) {
    weir_bytes partial = buf_take(r, buf_len(r));
    fail(r, WEIR_EINCOMPLETE, "");
    r->err.partial = partial;
    r->err.expected = expected;
    char text[96];
    int n = expected < 0
                ? snprintf(text, sizeof text,
                           "%zu bytes read on a total of undefined expected bytes", partial.len)
                : snprintf(text, sizeof text, "%zu bytes read on a total of %lld expected bytes",
                           partial.len, (long long)expected);
    set_err_msg(r, text, (size_t)n);
    return WEIR_EINCOMPLETE;
}

/* --- flow control and waiting ------------------------------------------------------ */

static void resume(weir_reader *r) {
    r->paused = false;
    if (r->transport && r->transport->ops->resume_reading)
        r->transport->ops->resume_reading(r->transport);
}

/* _maybe_resume_transport */
static inline void maybe_resume(weir_reader *r) {
    if (r->paused && buf_len(r) <= (uint64_t)r->limit) resume(r);
}

/* A read waiting for data. The exception it is woken with is copied here, because the
 * reader's own may be replaced before the woken task runs (asyncio resolves the waiter
 * future with the exception object of that moment). */
typedef struct read_wait {
    weir__waiter w;
    int exc_code; /* 0, or the exception it was woken with */
    char *exc_msg;
    size_t exc_len;
} read_wait;

/* _wakeup_waiter, and set_exception's hand-off of the exception to the waiter. */
static void wakeup_waiter(weir_reader *r, int code) {
    read_wait *rw = r->waiter;
    if (!rw) return;
    r->waiter = NULL;
    if (!rw->w.task) return; /* cancelled or timed out already: nobody to tell */
    if (code) {
        rw->exc_code = code;
        rw->exc_msg = malloc(r->exc.message_len + 1);
        if (rw->exc_msg) { /* out of memory: raised with an empty message */
            memcpy(rw->exc_msg, r->exc_msg, r->exc.message_len + 1);
            rw->exc_len = r->exc.message_len;
        }
    }
    weir__wake(&rw->w, code);
}

/* _wait_for_data: one read may wait at a time; a paused transport is resumed first, since
 * waiting while paused would wait forever. Outside a task the read cannot wait: it returns
 * WEIR_EAGAIN, after the same resume, so a caller that polls gets the data it waits for. */
static int wait_for_data(weir_reader *r, const char *func) {
    if (r->waiter) {
        fail(r, WEIR_EBUSY, "");
        char text[128];
        int n = snprintf(text, sizeof text,
                         "%s() called while another coroutine is already waiting for "
                         "incoming data",
                         func);
        set_err_msg(r, text, (size_t)n);
        return WEIR_EBUSY;
    }
    if (r->paused) resume(r);
    if (!weir_task_current()) return fail(r, WEIR_EAGAIN, "would block outside a task");
    read_wait rw = {.w = {.what = func}};
    r->waiter = &rw;
    int rc = weir__wait(&rw.w);
    r->waiter = NULL;
    /* Another read may have failed while this one waited (WEIR_EBUSY): its details are not
     * ours. This read goes on, and only its own failure sets them again. */
    r->err.code = WEIR_OK;
    if (rc != WEIR_OK && rc == rw.exc_code) /* woken by set_exception, not cancel/deadline */
        raise_exc(r, rc, rw.exc_msg ? rw.exc_msg : "", rw.exc_len);
    else if (rc != WEIR_OK)
        fail(r, rc, weir_strerror(rc));
    if (rw.exc_msg) free(rw.exc_msg);
    return rc;
}

/* --- feeding ----------------------------------------------------------------------- */

int weir_reader_feed(weir_reader *r, const void *data, size_t len) {
    if (!r || (!data && len)) return WEIR_EINVAL;
    if (r->eof) return WEIR_EEOF; /* asyncio: AssertionError('feed_data after feed_eof') */
    if (len == 0) return WEIR_OK;
    int rc = buf_append(r, data, len);
    if (rc) return rc;
    wakeup_waiter(r, WEIR_OK);
    if (r->transport && !r->paused && buf_len(r) > 2 * (uint64_t)r->limit) {
        if (!r->transport->ops->pause_reading) {
            r->transport = NULL; /* asyncio drops a transport that cannot pause */
        } else {
            r->transport->ops->pause_reading(r->transport);
            r->paused = true;
        }
    }
    return WEIR_OK;
}

void weir_reader_feed_eof(weir_reader *r) {
    if (!r) return;
    r->eof = true;
    wakeup_waiter(r, WEIR_OK);
}

int weir_reader_set_exception(weir_reader *r, int code, const void *msg, size_t msg_len) {
    if (!r || code >= 0 || (!msg && msg_len)) return WEIR_EINVAL;
    char *copy = malloc(msg_len + 1);
    if (!copy) return WEIR_ENOMEM;
    if (msg_len) memcpy(copy, msg, msg_len);
    copy[msg_len] = '\0';
    free(r->exc_msg);
    r->exc_msg = copy;
    r->has_exc = true;
    r->exc.code = code;
    r->exc.message = copy;
    r->exc.message_len = msg_len;
    r->exc.partial = EMPTY_VIEW;
    r->exc.expected = -1;
    r->exc.consumed = 0;
    wakeup_waiter(r, code);
    return WEIR_OK;
}

const weir_error *weir_reader_exception(const weir_reader *r) {
    return r && r->has_exc ? &r->exc : NULL;
}

bool weir_reader_at_eof(const weir_reader *r) { return r && r->eof && buf_len(r) == 0; }
size_t weir_reader_buffered(const weir_reader *r) { return r ? buf_len(r) : 0; }
bool weir_reader_paused(const weir_reader *r) { return r && r->paused; }
int64_t weir_reader_limit(const weir_reader *r) { return r ? r->limit : 0; }
const weir_error *weir_reader_error(const weir_reader *r) { return r ? &r->err : NULL; }

/* --- read(n) ----------------------------------------------------------------------- */

/* A growable byte array: read(-1)'s joined blocks. */
typedef struct acc {
    uint8_t *data;
    size_t len, cap;
} acc;

static int acc_append(acc *a, const uint8_t *data, size_t len) {
    if (a->cap - a->len < len) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap - a->len < len) {
            if (cap > SIZE_MAX / 2) return WEIR_ENOMEM;
            cap *= 2;
        }
        uint8_t *p = realloc(a->data, cap);
        if (!p) return WEIR_ENOMEM;
        a->data = p;
        a->cap = cap;
    }
    memcpy(a->data + a->len, data, len);
    a->len += len;
    return WEIR_OK;
}

/* read(-1): asyncio loops read(limit) until it returns b'' and joins the blocks. The same
 * loop here, so exceptions, waits and resume checks land at the same points. The blocks
 * belong to this call (another read(-1) may run while this one waits, and fail with
 * WEIR_EBUSY after taking blocks of its own); the reader keeps them only once returned. */
static int read_all(weir_reader *r, weir_bytes *out) {
    /* Outside a task, succeed only if it can finish without waiting, consuming nothing
     * otherwise: blocks taken before a wait would be lost. */
    if (!r->eof && !weir_task_current()) {
        if (r->paused) resume(r); /* as for any read that must wait */
        return fail(r, WEIR_EAGAIN, "would block outside a task");
    }
    if (r->eof) {
        /* Everything is here: the joined blocks are the buffer itself. */
        *out = buf_take(r, buf_len(r));
        maybe_resume(r);
        return WEIR_OK;
    }
    acc blocks = {0};
    int rc = WEIR_OK;
    for (;;) {
        if (r->has_exc) {
            rc = raise_set_exception(r); /* the blocks so far are lost, as in asyncio */
            break;
        }
        if (buf_len(r) == 0 && !r->eof && (rc = wait_for_data(r, "read")) != WEIR_OK) break;
        size_t n = buf_len(r) < (uint64_t)r->limit ? buf_len(r) : (size_t)r->limit;
        if (n == 0) break;
        if ((rc = acc_append(&blocks, buf_data(r), n)) != WEIR_OK) {
            fail(r, rc, weir_strerror(rc));
            break;
        }
        r->start += n;
        maybe_resume(r);
    }
    if (rc != WEIR_OK) {
        free(blocks.data);
        return rc;
    }
    free(r->acc);
    r->acc = blocks.data;
    *out = blocks.len ? weir_bytes_of(blocks.data, blocks.len) : EMPTY_VIEW;
    return WEIR_OK;
}

int weir_read(weir_reader *r, int64_t n, weir_bytes *out) {
    if (!r || !out) return WEIR_EINVAL;
    *out = EMPTY_VIEW;
    begin_call(r);
    if (r->has_exc) return raise_set_exception(r);
    if (n == 0) return WEIR_OK;
    if (n < 0) return read_all(r, out);
    if (buf_len(r) == 0 && !r->eof) {
        int rc = wait_for_data(r, "read");
        if (rc) return rc;
    }
    size_t len = buf_len(r) < (uint64_t)n ? buf_len(r) : (size_t)n;
    *out = buf_take(r, len);
    maybe_resume(r);
    return WEIR_OK;
}

/* --- readexactly ------------------------------------------------------------------- */

int weir_readexactly(weir_reader *r, int64_t n, weir_bytes *out) {
    if (!r || !out) return WEIR_EINVAL;
    *out = EMPTY_VIEW;
    begin_call(r);
    if (n < 0) return fail(r, WEIR_EINVAL, "readexactly size can not be less than zero");
    if (r->has_exc) return raise_set_exception(r);
    if (n == 0) return WEIR_OK;
    while (buf_len(r) < (uint64_t)n) {
        if (r->eof) return fail_incomplete(r, n);
        int rc = wait_for_data(r, "readexactly");
        if (rc) return rc;
    }
    *out = buf_take(r, (size_t)n);
    maybe_resume(r);
    return WEIR_OK;
}

/* --- readuntil --------------------------------------------------------------------- */

/* First index i in [from, until) where sep starts in hay, or -1. Candidates come from
 * memchr on the separator's first byte. */
static int64_t find(const uint8_t *hay, size_t hay_len, const uint8_t *sep, size_t sep_len,
                    size_t from, size_t until) {
    if (sep_len > hay_len) return -1;
    size_t last = hay_len - sep_len; /* the last start that fits */
    if (until > last + 1) until = last + 1;
    size_t i = from;
    while (i < until) {
        const uint8_t *p = memchr(hay + i, sep[0], until - i);
        if (!p) return -1;
        i = (size_t)(p - hay);
        if (sep_len == 1 || memcmp(p + 1, sep + 1, sep_len - 1) == 0) return (int64_t)i;
        i++;
    }
    return -1;
}

/* The loop of StreamReader.readuntil over separators sorted by length (shortest first). */
static int readuntil_sorted(weir_reader *r, const weir_bytes *seps, size_t nseps, weir_bytes *out) {
    size_t min_len = seps[0].len, max_len = seps[nseps - 1].len;
    int64_t offset = 0;
    int64_t match_start = -1, match_end = -1;
    for (;;) {
        int64_t buflen = (int64_t)buf_len(r);
        /* A read may have emptied the buffer while we waited, leaving offset past its end
         * (asyncio keeps the stale offset): then nothing is searched or checked. */
        if (buflen - offset >= (int64_t)min_len) {
            const uint8_t *hay = buf_data(r);
            for (size_t i = 0; i < nseps; i++) {
                /* Only a match ending before the best so far can win (ties go to the
                 * shorter separator, which came first), so bound the search there. */
                size_t until = (size_t)buflen;
                if (match_end >= 0) {
                    if (match_end - (int64_t)seps[i].len <= offset) continue;
                    until = (size_t)(match_end - (int64_t)seps[i].len);
                }
                int64_t at =
                    find(hay, (size_t)buflen, seps[i].data, seps[i].len, (size_t)offset, until);
                if (at >= 0) {
                    match_start = at;
                    match_end = at + (int64_t)seps[i].len;
                }
            }
            if (match_end >= 0) break;
            offset = buflen + 1 - (int64_t)max_len;
            if (offset < 0) offset = 0;
            if (offset > r->limit)
                return fail_limit(r, "Separator is not found, and chunk exceed the limit", offset);
        }
        if (r->eof) return fail_incomplete(r, -1);
        int rc = wait_for_data(r, "readuntil");
        if (rc) return rc;
    }
    if (match_start > r->limit)
        return fail_limit(r, "Separator is found, but chunk is longer than limit", match_start);
    *out = buf_take(r, (size_t)match_end);
    maybe_resume(r);
    return WEIR_OK;
}

int weir_readuntil_any(weir_reader *r, const weir_bytes *seps, size_t nseps, weir_bytes *out) {
    if (!r || !out || (!seps && nseps)) return WEIR_EINVAL;
    *out = EMPTY_VIEW;
    begin_call(r);
    if (nseps == 0) return fail(r, WEIR_EINVAL, "Separator should contain at least one element");
    for (size_t i = 0; i < nseps; i++)
        if (!seps[i].data && seps[i].len) return fail(r, WEIR_EINVAL, "separator is NULL");

    /* A stable sort by length (insertion sort: tuples are short). */
    weir_bytes small[8];
    weir_bytes *sorted = nseps <= 8 ? small : malloc(nseps * sizeof *sorted);
    if (!sorted) return fail(r, WEIR_ENOMEM, weir_strerror(WEIR_ENOMEM));
    for (size_t i = 0; i < nseps; i++) {
        size_t j = i;
        while (j > 0 && sorted[j - 1].len > seps[i].len) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = seps[i];
    }
    int rc;
    if (sorted[0].len == 0)
        rc = fail(r, WEIR_EINVAL, "Separator should be at least one-byte string");
    else if (r->has_exc)
        rc = raise_set_exception(r);
    else
        rc = readuntil_sorted(r, sorted, nseps, out);
    if (sorted != small) free(sorted);
    return rc;
}

int weir_readuntil(weir_reader *r, const void *sep, size_t sep_len, weir_bytes *out) {
    /* The common case, a one-byte separator already buffered within the limit, is the same
     * first search readuntil_sorted would make, without its bookkeeping. */
    if (r && out && sep && sep_len == 1 && !r->has_exc && !r->nretired && r->end > r->start) {
        const uint8_t *p = r->base + r->start;
        const uint8_t *q = memchr(p, *(const uint8_t *)sep, r->end - r->start);
        if (q && q - p <= r->limit) {
            size_t n = (size_t)(q - p) + 1;
            *out = weir_bytes_of(p, n);
            r->start += n;
            r->pinned = true;
            r->err.code = WEIR_OK;
            maybe_resume(r);
            return WEIR_OK;
        }
    }
    if (!r || !out) return WEIR_EINVAL;
    *out = EMPTY_VIEW;
    begin_call(r);
    if (!sep && sep_len) return fail(r, WEIR_EINVAL, "separator is NULL");
    if (sep_len == 0) return fail(r, WEIR_EINVAL, "Separator should be at least one-byte string");
    if (r->has_exc) return raise_set_exception(r);
    weir_bytes one = weir_bytes_of(sep, sep_len);
    return readuntil_sorted(r, &one, 1, out);
}

/* --- readline ---------------------------------------------------------------------- */

int weir_readline(weir_reader *r, weir_bytes *out) {
    int rc = weir_readuntil(r, "\n", 1, out);
    if (rc == WEIR_EINCOMPLETE) {
        *out = r->err.partial; /* the partial line; empty at a clean EOF */
        r->err.code = WEIR_OK;
        return WEIR_OK;
    }
    if (rc == WEIR_ELIMIT) {
        /* Drop the over-long line: through its "\n" if that is where the limit hit,
         * otherwise everything buffered (the rest of the line comes later as a line). */
        size_t consumed = (size_t)r->err.consumed;
        if (consumed < buf_len(r) && buf_data(r)[consumed] == '\n')
            r->start += consumed + 1;
        else
            r->start = r->end;
        maybe_resume(r);
        r->err.code = WEIR_ETOOLONG;
        return WEIR_ETOOLONG;
    }
    return rc;
}

int weir_reader_next_line(weir_reader *r, weir_bytes *line) {
    int rc = weir_readline(r, line);
    if (rc) return rc;
    return line->len ? 1 : 0;
}
