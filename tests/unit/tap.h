/* tests/unit/tap.h - a tiny TAP producer for the C unit tests.
 *
 *   ok(cond, "name %d", x);      one test point
 *   is_int(got, want, "name");   with a diagnostic showing both values on failure
 *   return done_testing();       prints the plan, exits 1 if anything failed */
#ifndef WEIR_TESTS_TAP_H
#define WEIR_TESTS_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline int tap_vok(int cond, const char *file, int line, const char *fmt, va_list ap) {
    tap_count++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(cond, file, line, fmt, ap);
    va_end(ap);
    return r;
}

static inline int tap_is_int(long long got, long long want, const char *file, int line,
                             const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(got == want, file, line, fmt, ap);
    va_end(ap);
    if (!r) printf("#          got: %lld\n#     expected: %lld\n", got, want);
    return r;
}

static inline int tap_is_mem(const void *got, size_t got_len, const void *want, size_t want_len,
                             const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int same = got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0);
    int r = tap_vok(same, file, line, fmt, ap);
    va_end(ap);
    if (!r)
        printf("#          got: %zu bytes \"%.*s\"\n#     expected: %zu bytes \"%.*s\"\n", got_len,
               (int)got_len, (const char *)got, want_len, (int)want_len, (const char *)want);
    return r;
}

static int done_testing(void) {
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
/* Compare a weir_bytes view with a string literal. */
#define is_bytes(view, lit, ...)                                                                   \
    tap_is_mem((view).data, (view).len, (lit), sizeof(lit) - 1, __FILE__, __LINE__, __VA_ARGS__)
#define is_mem(p, n, q, m, ...) tap_is_mem((p), (n), (q), (m), __FILE__, __LINE__, __VA_ARGS__)

#endif
