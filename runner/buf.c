/* runner/buf.c - growable strings and an arena for the scenario runner. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/scenario_internal.h"
#include "weir/error.h"

/* Make room for `extra` more bytes plus the NUL that keeps data printable. */
int weir__buf_reserve(weir__buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return WEIR_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) return WEIR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int weir__buf_append(weir__buf *b, const void *p, size_t n) {
    int rc = weir__buf_reserve(b, n);
    if (rc != 0) return rc;
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int weir__buf_putc(weir__buf *b, char c) { return weir__buf_append(b, &c, 1); }

int weir__buf_printf(weir__buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return WEIR_EINVAL;
    int rc = weir__buf_reserve(b, (size_t)n);
    if (rc != 0) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void weir__buf_reset(weir__buf *b) {
    b->len = 0;
    if (b->data != NULL) b->data[0] = '\0';
}

void weir__buf_free(weir__buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Blocks are chained newest first; small requests share a block, a large one gets its own
 * block so that no block wastes more than ARENA_BLOCK bytes. */
#define ARENA_BLOCK 65536

struct weir__arena_block {
    weir__arena_block *next;
    size_t used;
    size_t cap;
    max_align_t data[]; /* cap bytes */
};

void *weir__arena_alloc(weir__arena *a, size_t n) {
    if (n > SIZE_MAX - 7) return NULL;
    n = (n + 7) & ~(size_t)7;
    if (n == 0) n = 8;
    weir__arena_block *blk = a->head;
    if (blk == NULL || blk->cap - blk->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (cap > SIZE_MAX - sizeof *blk) return NULL;
        blk = malloc(sizeof *blk + cap);
        if (blk == NULL) return NULL;
        blk->used = 0;
        blk->cap = cap;
        /* A big block goes behind the current one, so the current one's free space stays
         * in use for the small requests that follow. */
        if (cap > ARENA_BLOCK && a->head != NULL) {
            blk->next = a->head->next;
            a->head->next = blk;
        } else {
            blk->next = a->head;
            a->head = blk;
        }
    }
    void *p = (char *)blk->data + blk->used;
    blk->used += n;
    return p;
}

void weir__arena_free(weir__arena *a) {
    weir__arena_block *blk = a->head;
    while (blk != NULL) {
        weir__arena_block *next = blk->next;
        free(blk);
        blk = next;
    }
    a->head = NULL;
}
