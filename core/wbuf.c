/* core/wbuf.c - the write queue: a list of chunks and two watermarks. */
#include "core/wbuf.h"

#include <stdlib.h>
#include <string.h>

#include "weir/error.h"
#include "weir/stream.h"

void weir__wbuf_init(weir__wbuf *b, weir_transport *t) {
    memset(b, 0, sizeof *b);
    b->high = WEIR_DEFAULT_HIGH_WATER;
    b->low = WEIR_DEFAULT_LOW_WATER;
    b->t = t;
}

void weir__wbuf_clear(weir__wbuf *b) {
    weir__wchunk *c = b->head;
    while (c) {
        weir__wchunk *next = c->next;
        free(c);
        c = next;
    }
    b->head = b->tail = NULL;
    b->head_off = 0;
    b->size = 0;
}

void weir__wbuf_free(weir__wbuf *b) { weir__wbuf_clear(b); }

static weir_protocol *protocol_of(const weir__wbuf *b) {
    if (!b->t || !b->t->protocol || !b->t->protocol->ops) return NULL;
    return b->t->protocol;
}

static void maybe_pause(weir__wbuf *b) {
    if (b->size <= b->high || b->paused) return;
    b->paused = true;
    weir_protocol *p = protocol_of(b);
    if (p && p->ops->pause_writing) p->ops->pause_writing(p);
}

static void maybe_resume(weir__wbuf *b) {
    if (!b->paused || b->size > b->low) return;
    b->paused = false;
    weir_protocol *p = protocol_of(b);
    if (p && p->ops->resume_writing) p->ops->resume_writing(p);
}

int weir__wbuf_append(weir__wbuf *b, const void *data, size_t len) {
    if (len == 0) return WEIR_OK;
    const uint8_t *src = data;
    weir__wchunk *tail = b->tail;
    size_t room = tail ? tail->cap - tail->len : 0;
    size_t first = room < len ? room : len;
    weir__wchunk *fresh = NULL;
    if (first < len) {
        /* Allocate before copying anything, so a failure leaves the queue unchanged. */
        size_t rest = len - first;
        size_t cap = rest > WEIR__WBUF_CHUNK ? rest : WEIR__WBUF_CHUNK;
        if (cap > SIZE_MAX - sizeof *fresh) return WEIR_ENOMEM;
        fresh = malloc(sizeof *fresh + cap);
        if (!fresh) return WEIR_ENOMEM;
        fresh->next = NULL;
        fresh->cap = cap;
        fresh->len = rest;
        memcpy(fresh->data, src + first, rest);
    }
    if (first) {
        memcpy(tail->data + tail->len, src, first);
        tail->len += first;
    }
    if (fresh) {
        if (tail)
            tail->next = fresh;
        else
            b->head = fresh;
        b->tail = fresh;
    }
    b->size += len;
    maybe_pause(b);
    return WEIR_OK;
}

void weir__wbuf_consume(weir__wbuf *b, size_t n) {
    if (n > b->size) n = b->size;
    b->size -= n;
    while (n > 0) {
        weir__wchunk *c = b->head;
        size_t avail = c->len - b->head_off;
        if (n < avail) {
            b->head_off += n;
            break;
        }
        n -= avail;
        b->head_off = 0;
        if (c == b->tail && c->cap == WEIR__WBUF_CHUNK) {
            /* Keep an ordinary-sized last chunk, so that a writer whose queue keeps emptying
             * does not pay a malloc/free per write. */
            c->len = 0;
            break;
        }
        b->head = c->next;
        if (!b->head) b->tail = NULL;
        free(c);
    }
    maybe_resume(b);
}

int weir__wbuf_set_limits(weir__wbuf *b, size_t high, size_t low) {
    if (high < low) return WEIR_EINVAL;
    b->high = high;
    b->low = low;
    maybe_pause(b);
    return WEIR_OK;
}

void weir__wbuf_get_limits(const weir__wbuf *b, size_t *high, size_t *low) {
    if (high) *high = b->high;
    if (low) *low = b->low;
}
