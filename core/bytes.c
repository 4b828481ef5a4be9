/* core/bytes.c - helpers for borrowed byte views. */
#include "weir/bytes.h"

#include <stdlib.h>
#include <string.h>

char *weir_bytes_dup(weir_bytes b) {
    char *p = malloc(b.len + 1);
    if (!p) return NULL;
    if (b.len) memcpy(p, b.data, b.len);
    p[b.len] = '\0';
    return p;
}

int weir_bytes_eq(weir_bytes a, weir_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}
