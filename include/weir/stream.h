/* weir/stream.h - asyncio's StreamWriter, and a connection as a reader/writer pair.
 *
 * A connection is a transport with a reader and a writer on top. The writer owns the
 * connection: weir_writer_free() releases the writer, its reader and its transport. */
#ifndef WEIR_STREAM_H
#define WEIR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"
#include "weir/loop.h"
#include "weir/reader.h"
#include "weir/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_writer weir_writer;

/* Default write-buffer watermarks (asyncio's): pause above high, resume at or below low. */
#define WEIR_DEFAULT_HIGH_WATER 65536
#define WEIR_DEFAULT_LOW_WATER 16384

/* Put a reader (with this limit) and a writer on a transport. The pair takes ownership of
 * the transport. WEIR_EINVAL (limit <= 0, NULL), WEIR_ENOMEM or 0. */
int weir_stream_open(weir_loop *loop, weir_transport *t, int64_t limit, weir_reader **r,
                     weir_writer **w);

/* write / writelines: queue bytes; never blocks. WEIR_ECLOSED after write_eof or close,
 * WEIR_ECONNLOST after the connection is gone. */
int weir_write(weir_writer *w, const void *data, size_t len);
int weir_writelines(weir_writer *w, const weir_bytes *bufs, size_t n);
/* drain: returns at once unless writing is paused (buffer above the high watermark); then
 * waits until it is at or below the low watermark. Fails first with the reader's exception,
 * and with WEIR_ECONNLOST once the connection is gone. Several tasks may drain at once. */
int weir_drain(weir_writer *w);
/* write_eof: close the write side after the buffer is flushed. WEIR_ENOTSUP if the transport
 * cannot (see weir_can_write_eof). */
int weir_write_eof(weir_writer *w);
bool weir_can_write_eof(weir_writer *w);
/* close: flush and close; is_closing() is true at once. */
void weir_writer_close(weir_writer *w);
bool weir_writer_is_closing(weir_writer *w);
/* wait_closed: block until the connection is gone: 0, or the error it was lost with. */
int weir_wait_closed(weir_writer *w);
/* get_extra_info(name). WEIR_ENOENT for names the transport does not know. */
int weir_get_extra_info(weir_writer *w, const char *name, weir_extra *out);
/* set_write_buffer_limits(high, low): pass -1 for either to derive it as asyncio does
 * (low = high / 4; high = 4 * low; both -1: the defaults). WEIR_EINVAL unless
 * high >= low >= 0. */
int weir_writer_set_limits(weir_writer *w, int64_t high, int64_t low);
void weir_writer_get_limits(weir_writer *w, size_t *high, size_t *low);
size_t weir_writer_buffer_size(weir_writer *w);

weir_reader *weir_writer_reader(weir_writer *w);
weir_transport *weir_writer_transport(weir_writer *w);

/* Release the writer, its reader and its transport (aborting the connection if it is still
 * open). Call it from outside the loop or from a task; any view from the reader dies. */
void weir_writer_free(weir_writer *w);

/* An in-memory connection: two ends joined by a pipe in each direction. Bytes written at
 * one end reach the other end's reader on a later tick; at most `capacity` bytes per
 * direction are in flight (like kernel socket buffers), so a reader that stops reading
 * (pauses) makes the writer's buffer grow and drain block. Deterministic. */
typedef struct weir_pair_opts {
    size_t capacity; /* bytes in flight per direction; 0 = 65536 */
    int64_t limit;   /* both readers' limit; 0 = WEIR_DEFAULT_LIMIT */
} weir_pair_opts;

int weir_stream_pair(weir_loop *loop, const weir_pair_opts *opts, weir_reader *r[2],
                     weir_writer *w[2]);

#ifdef __cplusplus
}
#endif
#endif
