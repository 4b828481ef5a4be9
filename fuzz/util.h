/* fuzz/util.h - small helpers shared by the fuzz targets (header-only). */
#ifndef WEIR_FUZZ_UTIL_H
#define WEIR_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The fuzz input, consumed front to back. Reading past the end gives zeros. */
typedef struct fz_src {
    const uint8_t *p;
    size_t n;
} fz_src;

static inline bool fz_more(const fz_src *s) { return s->n > 0; }

static inline uint8_t fz_u8(fz_src *s) {
    if (s->n == 0) return 0;
    s->n--;
    return *s->p++;
}

/* Limits: mostly 1..16, sometimes 17..64, now and then larger or asyncio's default. */
static inline int64_t fz_limit(uint8_t b) {
    static const int64_t big[16] = {65,  66,   100,  127,  128,  129, 200, 255,
                                    256, 1000, 1024, 4096, 8192, 1,   2,   65536};
    if (b < 176) return 1 + b % 16;
    if (b < 240) return 17 + (b - 176) % 48;
    return big[b - 240];
}

/* Bytes in the scenario language's BYTES syntax (docs/scenarios.md), as pyref.py's
 * fmt_bytes writes them. */
static inline void fz_put_bytes(FILE *f, const uint8_t *p, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        switch (c) {
            case '\\':
                fputs("\\\\", f);
                break;
            case '"':
                fputs("\\\"", f);
                break;
            case '\n':
                fputs("\\n", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            case 0:
                fputs("\\0", f);
                break;
            default:
                if (c >= 0x20 && c <= 0x7e)
                    fputc(c, f);
                else
                    fprintf(f, "\\x%02x", c);
        }
    }
    fputc('"', f);
}

static inline void *fz_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    return p;
}

#endif
