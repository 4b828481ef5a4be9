/* runner/seeds.c - splitting a sweep's seeds into shards (`weir run --shard K/N`).
 *
 * Shards are contiguous and balanced: their sizes differ by at most one, the first ones
 * being the bigger, so that N machines given K = 1..N cover every seed exactly once. The
 * arithmetic never multiplies two counts, so any 64-bit range works. */
#include "runner/run_internal.h"

void weir__seed_slice(uint64_t first, uint64_t count, uint64_t k, uint64_t n, uint64_t *lo,
                      uint64_t *len) {
    if (n == 0 || k == 0 || k > n) {
        *lo = first;
        *len = 0;
        return;
    }
    uint64_t j = k - 1, q = count / n, r = count % n;
    *lo = first + j * q + (j < r ? j : r); /* j * q <= count: no overflow */
    *len = q + (j < r ? 1 : 0);
}
