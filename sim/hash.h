/* sim/hash.h - the trace's hash: 64-bit words through a multiply-fold mix.
 *
 * The hash runs over a fixed sequence of 64-bit words per record (each field one word, bytes
 * as little-endian words), never over pointers or struct layout, so it is the same on every
 * machine and compiler. sim/trace.c records through it; the records made for every segment
 * (a draw, a delivery) call weir__hash_record inline (sim_internal.h), which hashes the
 * same words. docs/simulator.md ("Trace") is the specification. */
#ifndef WEIR_SIM_HASH_H
#define WEIR_SIM_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The per-segment records are hashed inline at their call sites so that constant fields
 * fold; the compiler's size heuristics would otherwise keep one shared out-of-line copy. */
#if defined(__GNUC__) || defined(__clang__)
#define WEIR__ALWAYS_INLINE __attribute__((always_inline))
#else
#define WEIR__ALWAYS_INLINE
#endif

#define WEIR__HASH_BASIS 0xcbf29ce484222325ull /* the empty trace's hash */
#define WEIR__HASH_MUL 0x9e3779b97f4a7c15ull   /* 2^64 / the golden ratio, odd */

/* One word into the hash: the 128-bit product of (h XOR w) and an odd constant, its two
 * halves XOR-ed together. A multiply whose low half is folded back (h * K, then a shift or
 * rotation) passes a difference in only the top bit of its input through as exactly that
 * bit, so two such differences in neighbouring words cancel for certain (bytes 7 and 11 of
 * a payload with their top bits flipped would hash the same); the folded high half depends
 * on every input bit through the carries, so no fixed pattern of differences cancels. A
 * word costs three instructions (xor, one widening multiply, xor): byte-at-a-time FNV-1a
 * cost a multiply per byte, which made the hash the simulator's largest single cost. */
static inline WEIR__ALWAYS_INLINE uint64_t weir__hash_mix(uint64_t h, uint64_t w) {
    uint64_t x = h ^ w;
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128)x * WEIR__HASH_MUL;
    return (uint64_t)(p >> 64) ^ (uint64_t)p;
#else
    /* The same product from 32-bit halves, for compilers without a 128-bit type. */
    const uint64_t k = WEIR__HASH_MUL;
    uint64_t xl = (uint32_t)x, xh = x >> 32, kl = (uint32_t)k, kh = k >> 32;
    uint64_t ll = xl * kl, lh = xl * kh, hl = xh * kl, hh = xh * kh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    uint64_t lo = mid << 32 | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return hi ^ lo;
#endif
}

/* Little-endian loads, whatever the machine's byte order. */
static inline WEIR__ALWAYS_INLINE uint64_t weir__load_le64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline WEIR__ALWAYS_INLINE uint64_t weir__load_le32(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

/* The last 1..7 bytes as one zero-padded little-endian word, without a loop: 4..7 bytes are
 * two 4-byte loads that overlap (the bytes they share are the same, so OR-ing is harmless);
 * 1..3 bytes are the first, middle and last byte, which cover every position. */
static inline WEIR__ALWAYS_INLINE uint64_t weir__load_tail(const uint8_t *p, size_t n) {
    if (n >= 4) return weir__load_le32(p) | weir__load_le32(p + n - 4) << (8 * (n - 4));
    return (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
           (uint64_t)p[n - 1] << (8 * (n - 1));
}

/* The length, then the bytes as little-endian words, the last one zero-padded. */
static inline WEIR__ALWAYS_INLINE uint64_t weir__hash_bytes(uint64_t h, const uint8_t *p,
                                                            size_t n) {
    h = weir__hash_mix(h, (uint64_t)n);
    for (; n >= 8; p += 8, n -= 8) h = weir__hash_mix(h, weir__load_le64(p));
    if (n) h = weir__hash_mix(h, weir__load_tail(p, n));
    return h;
}

/* One record: kind, time as a delta from the previous record, conn, dir, a, b (signed ones
 * as two's complement, dir sign-extended), then the note and the data, each as its length
 * and its bytes. The lengths make the sequence unambiguous. Inline, so a caller with
 * constant fields (a draw's kind and label, a delivery's empty note) pays only for the
 * words themselves. */
static inline WEIR__ALWAYS_INLINE uint64_t weir__hash_record(uint64_t h, uint64_t kind, int64_t dt,
                                                             uint64_t conn, int dir, int64_t a,
                                                             int64_t b, const char *note,
                                                             size_t note_len, const uint8_t *data,
                                                             size_t len) {
    h = weir__hash_mix(h, kind);
    h = weir__hash_mix(h, (uint64_t)dt);
    h = weir__hash_mix(h, conn);
    h = weir__hash_mix(h, (uint64_t)(int64_t)dir);
    h = weir__hash_mix(h, (uint64_t)a);
    h = weir__hash_mix(h, (uint64_t)b);
    h = weir__hash_bytes(h, (const uint8_t *)note, note_len);
    return weir__hash_bytes(h, data, len);
}

#endif
