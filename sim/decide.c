/* sim/decide.c - the decision stream: every random choice the simulator makes.
 *
 * One interface, two sources. Normally draws come from xoshiro256** (Blackman and Vigna),
 * its 256-bit state filled from the 64-bit seed by splitmix64, as its authors recommend.
 * With weir_sim_opts.decisions they are decoded from the caller's bytes instead (a fuzz
 * input, a replay). The byte encoding is chosen so that
 *   - a value below the bound decodes to itself, so a seeded run's draws, written down as
 *     bytes, replay exactly (same values, same trace hash);
 *   - fewer and smaller bytes mean smaller choices, and an exhausted input means 0 (what
 *     shrinking a failing input relies on);
 *   - neither source has modulo bias.
 * docs/simulator.md ("Decision stream") is the specification; tests/unit/test_sim_core.c
 * checks it with hand-computed inputs. Each draw is recorded in the trace. */
#include <string.h>

#include "core/rng.h"
#include "sim/sim_internal.h"

/* --- the seeded generator ---------------------------------------------------------- */

void weir__sim_decide_init(weir_sim *s, const weir_sim_opts *o) {
    uint64_t x = o->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = weir__splitmix64(&x);
    s->from_bytes = o->decisions != NULL;
    s->dec = o->decisions;
    s->dec_len = o->decisions_len;
    s->dec_pos = 0;
    s->draws = 0;
}

/* --- decoding bytes ---------------------------------------------------------------- */

/* Bytes needed to write max (0 for 0). */
static unsigned bytes_for(uint64_t max) {
    unsigned k = 0;
    while (max) {
        k++;
        max >>= 8;
    }
    return k;
}

/* The next k bytes, little-endian; bytes past the end of the input read as 0. */
static uint64_t read_le(weir_sim *s, unsigned k) {
    uint64_t v = 0;
    for (unsigned i = 0; i < k; i++) {
        uint64_t b = s->dec_pos < s->dec_len ? s->dec[s->dec_pos] : 0;
        if (s->dec_pos < s->dec_len) s->dec_pos++;
        v |= b << (8 * i);
    }
    return v;
}

/* --- uniform in [0, n) ------------------------------------------------------------- */

/* n >= 2. Both sources reject the top (R mod n) values of their range R (2^64 for the
 * generator, 256^k for k bytes) and take the remainder of what is left, which is uniform.
 * For bytes, any value below n is accepted as itself, and a rejected value reads the next
 * k bytes, so an input that runs out always ends the loop (0 is accepted). */
static inline uint64_t uniform(weir_sim *s, uint64_t n) {
    if (!s->from_bytes) return weir__xoshiro_uniform(s->rng, n);
    unsigned k = bytes_for(n - 1);
    uint64_t rem = k == 8 ? (0 - n) % n : ((uint64_t)1 << (8 * k)) % n; /* 256^k mod n */
    uint64_t top = k == 8 ? UINT64_MAX - rem : ((uint64_t)1 << (8 * k)) - 1 - rem;
    for (;;) {
        uint64_t v = read_le(s, k);
        if (v <= top) return v % n;
    }
}

static void record_draw(weir_sim *s, const char *what, size_t what_len, uint64_t bound,
                        uint64_t v) {
    s->draws++;
    weir__trace_rec r = {.kind = WEIR__TR_DRAW,
                         .dir = -1,
                         .a = (int64_t)bound,
                         .b = (int64_t)v,
                         .note = what,
                         .note_len = what_len};
    weir__sim_record(s, &r);
}

static size_t label_len(const char *what) { return what ? strlen(what) : 0; }

static uint64_t draw_len(weir_sim *s, const char *what, size_t what_len, uint64_t n) {
    /* One possible answer is no choice: nothing is drawn, so such "draws" cannot shift the
     * stream when a condition collapses to a fixed value. */
    if (n <= 1) return 0;
    uint64_t v = uniform(s, n);
    record_draw(s, what, what_len, n, v);
    return v;
}

static uint64_t draw64_len(weir_sim *s, const char *what, size_t what_len) {
    uint64_t v = s->from_bytes ? read_le(s, 8) : weir__xoshiro_next(s->rng);
    record_draw(s, what, what_len, 0, v); /* bound 0 stands for 2^64 */
    return v;
}

uint64_t weir__sim_draw(weir_sim *s, const char *what, uint64_t n) {
    return n <= 1 ? 0 : draw_len(s, what, label_len(what), n);
}

uint64_t weir__sim_draw64(weir_sim *s, const char *what) {
    return draw64_len(s, what, label_len(what));
}

int64_t weir__sim_range_len(weir_sim *s, const char *what, size_t what_len, weir_sim_range r) {
    if (r.hi <= r.lo) return r.lo;
    /* Unsigned arithmetic: the span of [INT64_MIN, INT64_MAX] is 2^64, which wraps to 0. */
    uint64_t span = (uint64_t)r.hi - (uint64_t)r.lo + 1;
    uint64_t off = span ? draw_len(s, what, what_len, span) : draw64_len(s, what, what_len);
    return (int64_t)((uint64_t)r.lo + off);
}

int64_t weir__sim_range(weir_sim *s, const char *what, weir_sim_range r) {
    return r.hi <= r.lo ? r.lo : weir__sim_range_len(s, what, label_len(what), r);
}

#define CHANCE_BITS 32

bool weir__sim_chance(weir_sim *s, const char *what, double p) {
    if (!(p > 0)) return false; /* also NaN */
    if (p >= 1) return true;
    const uint64_t bound = (uint64_t)1 << CHANCE_BITS;
    /* The event holds in the top p of the range, so a zero draw (an exhausted input) says
     * "no": shrinking an input removes faults rather than adding them. Scaling by a power
     * of two and truncating is exact in IEEE double, so the threshold is the same
     * everywhere. */
    uint64_t yes = (uint64_t)(p * (double)bound);
    uint64_t v = weir__sim_draw(s, what, bound);
    return v >= bound - yes;
}

uint64_t weir_sim_draws(const weir_sim *s) { return s ? s->draws : 0; }
