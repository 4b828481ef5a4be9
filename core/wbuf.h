/* core/wbuf.h - a transport's write queue with asyncio's flow control (FlowControlMixin).
 *
 * A transport keeps the bytes it accepted but could not hand on yet in a weir__wbuf. The
 * queue tells the transport's protocol to pause writing when its size goes above the high
 * watermark and to resume once it drops to the low watermark or below, the way asyncio's
 * _maybe_pause_protocol / _maybe_resume_protocol do:
 *
 *   - weir__wbuf_append() and weir__wbuf_set_limits() may call pause_writing;
 *   - weir__wbuf_consume() may call resume_writing;
 *   - weir__wbuf_clear() (a connection torn down) calls neither: connection_lost is what
 *     releases a paused writer then.
 *
 * The protocol is looked up through t->protocol at each call, so a transport may attach or
 * detach (NULL) its protocol at any time. The queue's state is updated before the protocol is
 * called, so a protocol may write again from resume_writing. */
#ifndef WEIR_CORE_WBUF_H
#define WEIR_CORE_WBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"
#include "weir/transport.h"

/* Bytes are kept in a list of chunks; small writes are packed into the tail chunk so that a
 * stream of tiny writes costs one allocation per WEIR__WBUF_CHUNK bytes, not one per write. */
#define WEIR__WBUF_CHUNK 16384

typedef struct weir__wchunk weir__wchunk;
struct weir__wchunk {
    weir__wchunk *next;
    size_t cap; /* bytes of data[] */
    size_t len; /* bytes of data[] in use */
    uint8_t data[];
};

typedef struct weir__wbuf {
    size_t size; /* bytes queued (first: what a transport checks on every write) */
    size_t high; /* watermarks */
    bool paused; /* pause_writing was called and resume_writing not yet */
    size_t low;
    weir__wchunk *head, *tail;
    size_t head_off;   /* bytes of head already consumed */
    weir_transport *t; /* whose protocol to tell */
} weir__wbuf;

/* An empty queue for transport t, with the default watermarks (64 KiB / 16 KiB). */
void weir__wbuf_init(weir__wbuf *b, weir_transport *t);
/* Release the queued bytes. The queue can be used again afterwards (it is empty). */
void weir__wbuf_free(weir__wbuf *b);

/* Copy len bytes to the end of the queue, then pause the protocol if the size is above high.
 * WEIR_ENOMEM (and nothing queued) or 0. */
int weir__wbuf_append(weir__wbuf *b, const void *data, size_t len);
/* The contiguous run of bytes at the front of the queue (empty when the queue is). The view
 * stays valid until the next append, consume, clear or free. */
static inline weir_bytes weir__wbuf_front(const weir__wbuf *b) {
    if (!b->head) return weir_bytes_of(NULL, 0);
    return weir_bytes_of(b->head->data + b->head_off, b->head->len - b->head_off);
}
/* Drop n bytes from the front (n <= size), then resume the protocol if it was paused and the
 * size is now at or below low. */
void weir__wbuf_consume(weir__wbuf *b, size_t n);
/* Drop everything without telling the protocol. */
void weir__wbuf_clear(weir__wbuf *b);

/* Inline: the simulator asks for the size several times per segment. */
static inline size_t weir__wbuf_size(const weir__wbuf *b) { return b->size; }
static inline bool weir__wbuf_paused(const weir__wbuf *b) { return b->paused; }
/* WEIR_EINVAL unless high >= low; then pause the protocol if the size is above the new high
 * (asyncio does not resume here: the next consume does). */
int weir__wbuf_set_limits(weir__wbuf *b, size_t high, size_t low);
void weir__wbuf_get_limits(const weir__wbuf *b, size_t *high, size_t *low);

#endif
