/* core/rng.h - the two small generators weir uses, inline.
 *
 * splitmix64 seeds (and is the loop's fallback generator, core/loop.c); xoshiro256**
 * (Blackman and Vigna) is the simulator's decision stream (sim/decide.c, and inline through
 * weir__sim_range_lit for the draws made for every segment) and the seeded source of
 * OpenSSL's randomness on a simulated loop (net/tls_rand.c). Neither is cryptographic. */
#ifndef WEIR_CORE_RNG_H
#define WEIR_CORE_RNG_H

#include <stdint.h>

/* The next output of splitmix64 with state *x. */
static inline uint64_t weir__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

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
