/* fuzz/model.c - the reference model of asyncio.StreamReader (see model.h).
 *
 * Each function below is the CPython 3.13 code it is named after (asyncio/streams.py),
 * transcribed statement by statement. Where CPython writes `await self._wait_for_data(...)`
 * the model records the read as the waiter and returns; when the waiter is woken, the read
 * runs again from the top of its function with `h` saying how it was woken, and skips what
 * it had already done before the await (each function says which part that is).
 *
 * Nothing here is clever: the buffer is a bytearray shifted with memmove, find() is the
 * naive double loop, and running out of memory aborts (the fuzz inputs are small). */
#include "fuzz/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
    fprintf(stderr, "model: out of memory\n");
    abort();
}

static void model_bug(const char *what) {
    fprintf(stderr, "model: internal error: %s\n", what);
    abort();
}

/* ---- a bytearray ------------------------------------------------------------------- */

/* The bytes are p[off .. off + len): deleting from the front only moves `off` (a memmove per
 * read would make read(-1) with a small limit quadratic on big buffers). */
typedef struct bytearray {
    uint8_t *p;
    size_t off, len, cap;
} bytearray;

static uint8_t *ba_data(const bytearray *b) { return b->p ? b->p + b->off : NULL; }

static void ba_extend(bytearray *b, const uint8_t *d, size_t n) {
    if (n == 0) return;
    if (b->off > 0 && b->cap - b->off - b->len < n) { /* slide the bytes to the front */
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) oom();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->off + b->len, d, n);
    b->len += n;
}

/* del b[:n] */
static void ba_del_front(bytearray *b, size_t n) {
    if (n > b->len) model_bug("del past the end");
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
}

static uint8_t *copy_of(const uint8_t *d, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p) oom();
    if (n) memcpy(p, d, n);
    return p;
}

/* bytearray.find(sep, start): the first index >= start where sep occurs, or -1. */
static int64_t ba_find(const bytearray *b, const m_sep *sep, int64_t start) {
    const uint8_t *p = ba_data(b);
    for (int64_t i = start; i + (int64_t)sep->len <= (int64_t)b->len; i++)
        if (memcmp(p + i, sep->data, sep->len) == 0) return i;
    return -1;
}

/* ---- state ------------------------------------------------------------------------- */

typedef enum how {
    START,     /* the task starts the read */
    WOKEN,     /* `await self._waiter` returned (feed_data / feed_eof) */
    WOKEN_EXC, /* `await self._waiter` raised the exception given to set_exception */
    CANCELLED, /* `await self._waiter` raised CancelledError */
} how;

typedef struct mread {
    int id;
    m_read_args args;
    m_sep *seps; /* readuntil: sorted(separators, key=len); readline: [b"\n"] */
    size_t nseps;
    uint8_t *sepbytes;
    bytearray blocks; /* read(-1): the blocks read so far */
    int64_t offset;   /* readuntil: its `offset` local */
    unsigned epoch;   /* readuntil: model epoch when it started */
    m_outcome out;
} mread;

struct model {
    int64_t limit;
    bytearray buffer;
    bool eof;
    int exception; /* id, -1 = None */
    bool transport, can_pause, paused;
    unsigned pauses, resumes;
    int waiter;     /* the read awaiting self._waiter, -1 = None */
    unsigned epoch; /* bumped whenever bytes leave the buffer */
    mread **reads;
    size_t nreads, cap;
    m_totals tot;
};

model *model_new(int64_t limit, bool transport, bool can_pause) {
    if (limit <= 0) model_bug("limit <= 0");
    model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->limit = limit;
    m->exception = -1;
    m->transport = transport;
    m->can_pause = can_pause;
    m->waiter = -1;
    return m;
}

void model_free(model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nreads; i++) {
        mread *rd = m->reads[i];
        free(rd->seps);
        free(rd->sepbytes);
        free(rd->blocks.p);
        free(rd->out.data);
        free(rd);
    }
    free(m->reads);
    free(m->buffer.p);
    free(m);
}

/* ---- helpers shared by the reads ---------------------------------------------------- */

/* _maybe_resume_transport */
static void maybe_resume_transport(model *m) {
    if (m->paused && m->buffer.len <= (uint64_t)m->limit) {
        m->paused = false;
        m->resumes++;
    }
}

/* bytes(self._buffer[:n]); del self._buffer[:n] */
static uint8_t *take(model *m, size_t n) {
    uint8_t *d = copy_of(ba_data(&m->buffer), n);
    ba_del_front(&m->buffer, n);
    if (n) m->epoch++;
    return d;
}

/* The read has finished (returned or raised): record the buffer length. A read(-1) that
 * raised loses the blocks it had read. */
static void finished(model *m, mread *rd, m_kind kind) {
    rd->out.kind = kind;
    if (kind != M_BYTES) {
        m->tot.lost += rd->blocks.len;
        rd->blocks.len = 0;
    }
    rd->out.buffered_after = m->buffer.len;
}

static void return_bytes(model *m, mread *rd, uint8_t *data, size_t len) {
    rd->out.data = data;
    rd->out.len = len;
    m->tot.taken += len;
    finished(m, rd, M_BYTES);
}

static void raise_msg(model *m, mread *rd, m_kind kind, const char *msg) {
    snprintf(rd->out.msg, sizeof rd->out.msg, "%s", msg);
    finished(m, rd, kind);
}

/* raise self._exception */
static void raise_exception(model *m, mread *rd) {
    rd->out.num = m->exception;
    finished(m, rd, M_EXC);
}

/* IncompleteReadError(bytes(self._buffer), expected) after self._buffer.clear(); readline
 * catches it and returns e.partial. */
static void raise_incomplete(model *m, mread *rd, int64_t expected) {
    size_t n = m->buffer.len;
    uint8_t *partial = take(m, n);
    if (rd->args.kind == M_READLINE) {
        return_bytes(m, rd, partial, n);
        return;
    }
    rd->out.data = partial;
    rd->out.len = n;
    rd->out.num = expected;
    m->tot.taken += n;
    char exp[32];
    if (expected < 0)
        snprintf(exp, sizeof exp, "undefined");
    else
        snprintf(exp, sizeof exp, "%lld", (long long)expected);
    snprintf(rd->out.msg, sizeof rd->out.msg, "%zu bytes read on a total of %s expected bytes", n,
             exp);
    finished(m, rd, M_INCOMPLETE);
}

/* LimitOverrunError(msg, consumed); readline catches it:
 *     if self._buffer.startswith(sep, e.consumed): del self._buffer[:e.consumed + seplen]
 *     else: self._buffer.clear()
 *     self._maybe_resume_transport()
 *     raise ValueError(e.args[0]) */
static void raise_limit(model *m, mread *rd, const char *msg, int64_t consumed) {
    if (rd->args.kind == M_READLINE) {
        size_t drop;
        if (consumed < (int64_t)m->buffer.len && ba_data(&m->buffer)[consumed] == '\n')
            drop = (size_t)consumed + 1;
        else
            drop = m->buffer.len;
        free(take(m, drop));
        m->tot.discarded += drop;
        maybe_resume_transport(m);
        raise_msg(m, rd, M_LINE_TOO_LONG, msg);
        return;
    }
    rd->out.num = consumed;
    raise_msg(m, rd, M_LIMIT, msg);
}

/* _wait_for_data(func_name), up to its `await`. true: the read now waits; false: it raised
 * RuntimeError (and is finished). */
static bool wait_for_data(model *m, mread *rd, const char *func_name) {
    if (m->waiter >= 0) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "%s() called while another coroutine is already waiting for incoming data",
                 func_name);
        raise_msg(m, rd, M_RUNTIME_ERROR, msg);
        return false;
    }
    if (m->eof) model_bug("_wait_for_data after EOF");
    if (m->paused) {
        m->paused = false;
        m->resumes++;
    }
    m->waiter = rd->id;
    rd->out.kind = M_PENDING;
    return true;
}

/* ---- the reads ---------------------------------------------------------------------- */

/* read(-1), from the top of its `while True` loop:
 *     block = await self.read(self._limit)
 *     if not block: break
 *     blocks.append(block)
 * `resumed`: the inner read(limit) had waited and now continues after its await. */
static void read_all(model *m, mread *rd, bool resumed) {
    for (;;) {
        if (!resumed) {
            /* The inner read(self._limit), up to its await. */
            if (m->exception >= 0) {
                raise_exception(m, rd);
                return;
            }
            if (m->buffer.len == 0 && !m->eof) {
                if (wait_for_data(m, rd, "read")) return;
                return; /* RuntimeError */
            }
        }
        resumed = false;
        size_t n = m->buffer.len < (uint64_t)m->limit ? m->buffer.len : (size_t)m->limit;
        uint8_t *block = take(m, n);
        maybe_resume_transport(m);
        if (n == 0) {
            free(block);
            break;
        }
        ba_extend(&rd->blocks, block, n);
        free(block);
    }
    /* return b''.join(blocks) */
    size_t n = rd->blocks.len;
    uint8_t *all = copy_of(ba_data(&rd->blocks), n);
    rd->blocks.len = 0;
    rd->blocks.off = 0;
    return_bytes(m, rd, all, n);
}

/* read(n). Before the await: the exception check, n == 0, n < 0, the wait. */
static void read_n(model *m, mread *rd, how h) {
    int64_t n = rd->args.n;
    if (h == START) {
        if (m->exception >= 0) {
            raise_exception(m, rd);
            return;
        }
        if (n == 0) {
            return_bytes(m, rd, copy_of(NULL, 0), 0);
            return;
        }
        if (n < 0) {
            read_all(m, rd, false);
            return;
        }
        if (m->buffer.len == 0 && !m->eof) {
            wait_for_data(m, rd, "read");
            return;
        }
    } else if (n < 0) {
        read_all(m, rd, true);
        return;
    }
    /* data = bytes(memoryview(self._buffer)[:n]); del self._buffer[:n] */
    size_t k = m->buffer.len < (uint64_t)n ? m->buffer.len : (size_t)n;
    uint8_t *data = take(m, k);
    maybe_resume_transport(m);
    return_bytes(m, rd, data, k);
}

/* readexactly(n). Before the loop: the argument and exception checks, n == 0. */
static void readexactly(model *m, mread *rd, how h) {
    int64_t n = rd->args.n;
    if (h == START) {
        if (n < 0) {
            raise_msg(m, rd, M_VALUE_ERROR, "readexactly size can not be less than zero");
            return;
        }
        if (m->exception >= 0) {
            raise_exception(m, rd);
            return;
        }
        if (n == 0) {
            return_bytes(m, rd, copy_of(NULL, 0), 0);
            return;
        }
    }
    while (m->buffer.len < (uint64_t)n) {
        if (m->eof) {
            raise_incomplete(m, rd, n);
            return;
        }
        wait_for_data(m, rd, "readexactly");
        return;
    }
    uint8_t *data = take(m, (size_t)n);
    maybe_resume_transport(m);
    return_bytes(m, rd, data, (size_t)n);
}

/* readuntil(separator) (and readline, which is readuntil(b"\n") plus its except clauses).
 * Before the loop: the separator checks, the exception check, offset = 0. */
static void readuntil(model *m, mread *rd, how h) {
    if (h == START) {
        if (rd->nseps == 0) {
            raise_msg(m, rd, M_VALUE_ERROR, "Separator should contain at least one element");
            return;
        }
        if (rd->seps[0].len == 0) {
            raise_msg(m, rd, M_VALUE_ERROR, "Separator should be at least one-byte string");
            return;
        }
        if (m->exception >= 0) {
            raise_exception(m, rd);
            return;
        }
        rd->offset = 0;
        rd->epoch = m->epoch;
    }
    size_t min_seplen = rd->seps[0].len, max_seplen = rd->seps[rd->nseps - 1].len;
    int64_t match_start = -1, match_end = -1;
    for (;;) {
        rd->out.stale = rd->epoch != m->epoch;
        int64_t buflen = (int64_t)m->buffer.len;
        if (buflen - rd->offset >= (int64_t)min_seplen) {
            for (size_t i = 0; i < rd->nseps; i++) {
                int64_t isep = ba_find(&m->buffer, &rd->seps[i], rd->offset);
                if (isep != -1) {
                    int64_t end = isep + (int64_t)rd->seps[i].len;
                    if (match_end < 0 || end < match_end) {
                        match_end = end;
                        match_start = isep;
                    }
                }
            }
            if (match_end >= 0) break;
            rd->offset = buflen + 1 - (int64_t)max_seplen;
            if (rd->offset < 0) rd->offset = 0;
            if (rd->offset > m->limit) {
                raise_limit(m, rd, "Separator is not found, and chunk exceed the limit",
                            rd->offset);
                return;
            }
        }
        if (m->eof) {
            raise_incomplete(m, rd, -1);
            return;
        }
        wait_for_data(m, rd, "readuntil");
        return;
    }
    if (match_start > m->limit) {
        raise_limit(m, rd, "Separator is found, but chunk is longer than limit", match_start);
        return;
    }
    uint8_t *chunk = take(m, (size_t)match_end);
    maybe_resume_transport(m);
    return_bytes(m, rd, chunk, (size_t)match_end);
}

static void run(model *m, mread *rd, how h) {
    if (h == WOKEN_EXC) { /* the waiter future was given the exception */
        raise_exception(m, rd);
        return;
    }
    if (h == CANCELLED) {
        finished(m, rd, M_CANCELLED);
        return;
    }
    switch (rd->args.kind) {
        case M_READ:
            read_n(m, rd, h);
            break;
        case M_READEXACTLY:
            readexactly(m, rd, h);
            break;
        case M_READLINE:
        case M_READUNTIL:
            readuntil(m, rd, h);
            break;
    }
}

/* _wakeup_waiter / set_exception's hand-off: clear self._waiter; the read runs later. */
static int take_waiter(model *m) {
    int w = m->waiter;
    m->waiter = -1;
    return w;
}

/* ---- the operations ------------------------------------------------------------------ */

int model_feed(model *m, const uint8_t *data, size_t len) {
    if (m->eof) return -1; /* assert not self._eof, 'feed_data after feed_eof' */
    if (len == 0) return 0;
    ba_extend(&m->buffer, data, len);
    m->tot.fed += len;
    int w = take_waiter(m);
    if (m->transport && !m->paused && m->buffer.len > 2 * (uint64_t)m->limit) {
        if (!m->can_pause) {
            m->transport = false; /* NotImplementedError: self._transport = None */
        } else {
            m->paused = true;
            m->pauses++;
        }
    }
    if (w >= 0) run(m, m->reads[w], WOKEN);
    return 0;
}

void model_feed_eof(model *m) {
    m->eof = true;
    int w = take_waiter(m);
    if (w >= 0) run(m, m->reads[w], WOKEN);
}

void model_set_exception(model *m, int id) {
    m->exception = id;
    int w = take_waiter(m);
    if (w >= 0) run(m, m->reads[w], WOKEN_EXC);
}

void model_cancel(model *m) {
    int w = take_waiter(m);
    if (w >= 0) run(m, m->reads[w], CANCELLED);
}

int model_start_read(model *m, const m_read_args *args) {
    if (m->nreads == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        mread **p = realloc(m->reads, cap * sizeof *p);
        if (!p) return -1;
        m->reads = p;
        m->cap = cap;
    }
    mread *rd = calloc(1, sizeof *rd);
    if (!rd) return -1;
    rd->id = (int)m->nreads;
    rd->args = *args;
    rd->args.seps = NULL;
    m->reads[m->nreads++] = rd;

    if (args->kind == M_READLINE) {
        static const uint8_t nl = '\n';
        rd->seps = malloc(sizeof *rd->seps);
        if (!rd->seps) oom();
        rd->seps[0].data = &nl;
        rd->seps[0].len = 1;
        rd->nseps = 1;
    } else if (args->kind == M_READUNTIL) {
        /* separator = sorted(separator, key=len): a stable insertion sort of copies */
        size_t total = 0;
        for (size_t i = 0; i < args->nseps; i++) total += args->seps[i].len;
        rd->sepbytes = malloc(total ? total : 1);
        rd->seps = malloc((args->nseps ? args->nseps : 1) * sizeof *rd->seps);
        if (!rd->sepbytes || !rd->seps) oom();
        size_t at = 0;
        for (size_t i = 0; i < args->nseps; i++) {
            m_sep s = {rd->sepbytes + at, args->seps[i].len};
            if (s.len) memcpy(rd->sepbytes + at, args->seps[i].data, s.len);
            at += s.len;
            size_t j = i;
            while (j > 0 && rd->seps[j - 1].len > s.len) {
                rd->seps[j] = rd->seps[j - 1];
                j--;
            }
            rd->seps[j] = s;
        }
        rd->nseps = args->nseps;
    }
    run(m, rd, START);
    return rd->id;
}

/* ---- observers ------------------------------------------------------------------------ */

const m_outcome *model_outcome(const model *m, int id) {
    return id >= 0 && (size_t)id < m->nreads ? &m->reads[id]->out : NULL;
}
size_t model_nreads(const model *m) { return m->nreads; }
int model_waiting(const model *m) { return m->waiter; }
size_t model_buffered(const model *m) { return m->buffer.len; }
const uint8_t *model_buffer(const model *m) { return ba_data(&m->buffer); }
bool model_at_eof(const model *m) { return m->eof && m->buffer.len == 0; }
bool model_eof(const model *m) { return m->eof; }
bool model_paused(const model *m) { return m->paused; }
int model_exception(const model *m) { return m->exception; }
unsigned model_pauses(const model *m) { return m->pauses; }
unsigned model_resumes(const model *m) { return m->resumes; }
bool model_has_transport(const model *m) { return m->transport; }

m_totals model_totals(const model *m) {
    m_totals t = m->tot;
    t.held = 0;
    if (m->waiter >= 0) t.held = m->reads[m->waiter]->blocks.len;
    return t;
}
