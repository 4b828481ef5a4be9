/* weir/bytes.h - a view of bytes owned by someone else. */
#ifndef WEIR_BYTES_H
#define WEIR_BYTES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed, read-only run of bytes. Who owns the memory and how long it stays valid is
 * said by the call that returned it. */
typedef struct weir_bytes {
    const uint8_t *data;
    size_t len;
} weir_bytes;

/* A view of a string literal, without its terminating NUL: WEIR_LIT("\r\n"). */
#define WEIR_LIT(s) ((weir_bytes){(const uint8_t *)("" s), sizeof(s) - 1})

/* A view of len bytes at p. */
static inline weir_bytes weir_bytes_of(const void *p, size_t len) {
    weir_bytes b;
    b.data = (const uint8_t *)p;
    b.len = len;
    return b;
}

/* An owned copy: malloc'd, len + 1 bytes with a NUL after the data (so text can be used as a
 * C string). The caller frees it with free(). NULL when out of memory. */
char *weir_bytes_dup(weir_bytes b);

/* 1 if the two views hold the same bytes. */
int weir_bytes_eq(weir_bytes a, weir_bytes b);

#ifdef __cplusplus
}
#endif
#endif
