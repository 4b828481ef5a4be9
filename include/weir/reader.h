/* weir/reader.h - asyncio's StreamReader, with CPython 3.13's exact semantics.
 *
 * A reader holds bytes fed by a transport (or by you, with weir_reader_feed) until a read
 * takes them. Reads that must wait for data block the running task; called outside a task
 * they return WEIR_EAGAIN instead (and consume nothing).
 *
 * Returned bytes are views (no copy). A view returned by a read, and the details in
 * weir_reader_error(), stay valid until the next read call on the same reader (read,
 * readline, readexactly, readuntil, next_line) or until the reader is freed; feeding more
 * data does not invalidate them. Use weir_bytes_dup() to keep a copy longer.
 *
 * Errors a read can return, with asyncio's names:
 *   WEIR_EINVAL       ValueError: bad argument (n < 0 for readexactly, empty separator...)
 *   WEIR_ETOOLONG     ValueError: readline's line is over the limit (the line is dropped)
 *   WEIR_EINCOMPLETE  IncompleteReadError: EOF first; error.partial, error.expected
 *   WEIR_ELIMIT       LimitOverrunError: error.consumed; the buffer is left unchanged
 *   WEIR_EBUSY        RuntimeError: another read is already waiting on this reader
 *   the code given to weir_reader_set_exception(), with its message
 *   WEIR_ECANCELED, WEIR_ETIMEDOUT (task cancelled / deadline passed while waiting: buffered
 *                     data stays buffered), WEIR_EAGAIN (would wait, outside a task),
 *                     WEIR_ENOMEM. */
#ifndef WEIR_READER_H
#define WEIR_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"
#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEIR_DEFAULT_LIMIT 65536

typedef struct weir_reader weir_reader;
struct weir_transport;

/* A reader whose buffer limit is `limit` bytes (WEIR_DEFAULT_LIMIT is asyncio's default).
 * limit <= 0: WEIR_EINVAL. Free with weir_reader_free(). */
int weir_reader_new(int64_t limit, weir_reader **out);
void weir_reader_free(weir_reader *r);

/* The transport to pause while more than 2 x limit bytes are buffered and to resume once a
 * read brings it to limit or below (or must wait). NULL detaches. The reader does not own it. */
void weir_reader_set_transport(weir_reader *r, struct weir_transport *t);

/* feed_data: append len bytes. Empty data is a no-op. After weir_reader_feed_eof():
 * WEIR_EEOF and nothing changes. WEIR_EINVAL for data == NULL with len > 0. */
int weir_reader_feed(weir_reader *r, const void *data, size_t len);
/* feed_eof: no more data will come. Repeating it is harmless. */
void weir_reader_feed_eof(weir_reader *r);
/* set_exception: every later read fails with `code` (negative; WEIR_EUSER and below are
 * free for applications) and this message (copied; may hold NUL bytes), before looking at
 * the buffer, which is kept. Replaces an earlier exception; wakes a waiting read with it.
 * WEIR_EINVAL for code >= 0 or msg == NULL with len > 0. */
int weir_reader_set_exception(weir_reader *r, int code, const void *msg, size_t msg_len);
/* The exception set, or NULL. Valid until the next set_exception or free. */
const weir_error *weir_reader_exception(const weir_reader *r);

/* at_eof(): EOF was fed and the buffer is empty. */
bool weir_reader_at_eof(const weir_reader *r);
size_t weir_reader_buffered(const weir_reader *r);
/* Whether the reader has paused its transport. */
bool weir_reader_paused(const weir_reader *r);
int64_t weir_reader_limit(const weir_reader *r);
/* Details of the last read call that failed (code 0 after a successful one). */
const weir_error *weir_reader_error(const weir_reader *r);

/* read(n): n > 0: up to n bytes, waiting only while the buffer is empty (an empty view at
 * EOF); n == 0: an empty view; n < 0: everything until EOF (in limit-sized steps, like
 * asyncio; if an error arrives part-way, the bytes taken so far are lost, as in asyncio). */
int weir_read(weir_reader *r, int64_t n, weir_bytes *out);
/* readline(): up to and including "\n"; the partial line at EOF (empty at a clean EOF). */
int weir_readline(weir_reader *r, weir_bytes *out);
/* readexactly(n): exactly n bytes, or WEIR_EINCOMPLETE with what there was (buffer cleared). */
int weir_readexactly(weir_reader *r, int64_t n, weir_bytes *out);
/* readuntil(sep): up to and including the separator. WEIR_EINCOMPLETE (expected -1) at EOF. */
int weir_readuntil(weir_reader *r, const void *sep, size_t sep_len, weir_bytes *out);
/* readuntil((sep, ...)): the match that ends first wins; on a tie the shorter separator.
 * nseps == 0 or an empty separator: WEIR_EINVAL. */
int weir_readuntil_any(weir_reader *r, const weir_bytes *seps, size_t nseps, weir_bytes *out);

/* Line iteration (async for line in reader): 1 and a line, 0 at the end (clean EOF), or a
 * negative error as readline gives it.
 *   while ((rc = weir_reader_next_line(r, &line)) > 0) { ... }  */
int weir_reader_next_line(weir_reader *r, weir_bytes *line);

#ifdef __cplusplus
}
#endif
#endif
