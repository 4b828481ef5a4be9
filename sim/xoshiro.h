/* sim/xoshiro.h - the seeded generator's step and its uniform draw, inline.
 *
 * xoshiro256** (Blackman and Vigna). sim/decide.c owns the decision stream; the draws made
 * for every segment (jitter, segment sizes) take this step inline through
 * weir__sim_range_lit (sim_internal.h), so the header holds exactly the code both use. */
#ifndef WEIR_SIM_XOSHIRO_H
#define WEIR_SIM_XOSHIRO_H

#include <stdint.h>

static inline uint64_t weir__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t weir__xoshiro_next(uint64_t st[4]) {
    uint64_t result = weir__rotl64(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = weir__rotl64(st[3], 45);
    return result;
}

/* Uniform in [0, n), n >= 2: reject the top (2^64 mod n) outputs and take the remainder of
 * what is left, which has no bias. The rejected top is shorter than n, so any output up to
 * 2^64 - n is accepted without paying for the division that computes it. */
static inline uint64_t weir__xoshiro_uniform(uint64_t st[4], uint64_t n) {
    for (;;) {
        uint64_t x = weir__xoshiro_next(st);
        if (x <= UINT64_MAX - (n - 1) || x <= UINT64_MAX - (0 - n) % n) return x % n;
    }
}

#endif
