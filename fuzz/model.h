/* fuzz/model.h - a plain, slow reference model of CPython 3.13's asyncio.StreamReader.
 *
 * The fuzz target reader_ops drives the real weir_reader and this model with the same
 * operations and compares every observable result. The model is written for obviousness,
 * not speed: a bytearray that is searched naively and shifted with memmove, and each read
 * written as the CPython coroutine it mirrors (shared/reference/asyncio-streams.md), with
 * the `await self._waiter` points turned into explicit resume points.
 *
 * One model call is one scenario step: the operation, then "the loop runs until no task is
 * runnable". Within a step at most one read task runs (a feed, EOF, set_exception or cancel
 * wakes at most the one waiting read; a new read is its own task), so a woken read simply
 * continues inside the call that woke it, after the waking call has finished its own work
 * (feed_data wakes the waiter before its pause check, and the task runs after it). */
#ifndef WEIR_FUZZ_MODEL_H
#define WEIR_FUZZ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum m_read_kind {
    M_READ,        /* read(n) */
    M_READLINE,    /* readline() */
    M_READEXACTLY, /* readexactly(n) */
    M_READUNTIL,   /* readuntil(sep) or readuntil((sep, ...)) */
} m_read_kind;

typedef struct m_sep {
    const uint8_t *data;
    size_t len;
} m_sep;

typedef struct m_read_args {
    m_read_kind kind;
    int64_t n;         /* read, readexactly */
    const m_sep *seps; /* readuntil: the separators in the order given (copied) */
    size_t nseps;      /* 0 only in the tuple form: readuntil(()) */
} m_read_args;

typedef enum m_kind {
    M_PENDING,       /* still waiting for data */
    M_BYTES,         /* returned bytes */
    M_INCOMPLETE,    /* IncompleteReadError(partial, expected) */
    M_LIMIT,         /* LimitOverrunError(msg, consumed) */
    M_VALUE_ERROR,   /* ValueError from an argument check */
    M_LINE_TOO_LONG, /* readline's ValueError (a LimitOverrunError it turned into one) */
    M_RUNTIME_ERROR, /* RuntimeError: another read is already waiting */
    M_EXC,           /* the exception given to set_exception */
    M_CANCELLED,     /* the waiting task was cancelled */
} m_kind;

typedef struct m_outcome {
    m_kind kind;
    uint8_t *data; /* M_BYTES: the result; M_INCOMPLETE: partial (malloc'd, may be NULL) */
    size_t len;
    int64_t num;   /* M_INCOMPLETE: expected (-1 = None); M_LIMIT: consumed; M_EXC: its id */
    char msg[128]; /* asyncio's message (errors other than M_EXC / M_CANCELLED) */
    size_t buffered_after; /* len(self._buffer) right after the read finished */
    bool stale;            /* readuntil/readline: another read consumed from the buffer while this
                              one waited, so its search offset no longer lines up with the buffer */
} m_outcome;

/* Byte accounting. Every byte fed is, at any time, in exactly one of: the buffer, a result
 * or partial handed to a caller (taken), dropped by readline's over-long-line path
 * (discarded), consumed by a read(-1) that then raised (lost), or held in the blocks of a
 * read(-1) that is still waiting (held):  fed == buffered + taken + discarded + lost + held. */
typedef struct m_totals {
    uint64_t fed, taken, discarded, lost, held;
} m_totals;

typedef struct model model;

/* transport: a transport is attached; can_pause: it implements pause_reading (otherwise the
 * reader drops it the first time it would pause it, as asyncio does on NotImplementedError).
 * NULL when out of memory. limit must be > 0. */
model *model_new(int64_t limit, bool transport, bool can_pause);
void model_free(model *m);

/* feed_data: 0, or -1 for AssertionError (fed after EOF; nothing changes). */
int model_feed(model *m, const uint8_t *data, size_t len);
void model_feed_eof(model *m);
/* set_exception(exception number `id`). */
void model_set_exception(model *m, int id);
/* Cancel the task of the waiting read, if there is one. */
void model_cancel(model *m);
/* Start a read in a new task; returns its number (0, 1, 2... in start order), -1 when out
 * of memory. */
int model_start_read(model *m, const m_read_args *args);

const m_outcome *model_outcome(const model *m, int id);
size_t model_nreads(const model *m);
int model_waiting(const model *m); /* the read waiting for data, or -1 */

size_t model_buffered(const model *m);
const uint8_t *model_buffer(const model *m);
bool model_at_eof(const model *m);
bool model_eof(const model *m);
bool model_paused(const model *m);
int model_exception(const model *m); /* the exception's id, or -1 for None */
unsigned model_pauses(const model *m);
unsigned model_resumes(const model *m);
bool model_has_transport(const model *m);
m_totals model_totals(const model *m);

#endif
