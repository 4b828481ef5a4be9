/* runner/net_values.c - the values of network scenarios: durations (5ms), sizes (1MB),
 * rates (1MB/s), counts, ranges (1..50ms) and probabilities (0.3).
 *
 * Only integers: a duration like 1.5ms is written 1500us, so that every value has one exact
 * reading and prints back the same (weir__fmt_duration). Nothing here allocates. */
#include <string.h>

#include "runner/net_internal.h"

typedef struct unit {
    const char *name;
    int64_t mult;
} unit;

static const unit duration_units[] = {
    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}, {NULL, 0}};
/* K, M, G are decimal (as network rates are quoted); Ki, Mi, Gi binary. */
static const unit size_units[] = {{"", 1},
                                  {"B", 1},
                                  {"KB", 1000},
                                  {"MB", 1000000},
                                  {"GB", 1000000000},
                                  {"KiB", 1024},
                                  {"MiB", 1024 * 1024},
                                  {"GiB", 1024 * 1024 * 1024},
                                  {NULL, 0}};
static const unit count_units[] = {{"", 1}, {NULL, 0}};

static const unit *units_of(weir__value_kind k) {
    switch (k) {
        case WEIR__VAL_DURATION:
            return duration_units;
        case WEIR__VAL_SIZE:
        case WEIR__VAL_RATE:
            return size_units;
        default:
            return count_units;
    }
}

const char *weir__value_hint(weir__value_kind k) {
    switch (k) {
        case WEIR__VAL_DURATION:
            return "a duration like 5ms (units ns, us, ms, s)";
        case WEIR__VAL_SIZE:
            return "a size like 4096, 64KB or 1MiB";
        case WEIR__VAL_RATE:
            return "a rate like 1MB or 1MB/s (bytes per second)";
        default:
            return "a whole number";
    }
}

/* Digits then a unit: 1 with the digits and the unit's multiplier (0 when there is no
 * unit), 0 when w is not that, -1 when the digits do not fit in 64 bits. */
static int split_value(weir_bytes w, weir__value_kind k, int64_t *digits, int64_t *mult) {
    size_t i = 0;
    uint64_t v = 0;
    bool over = false;
    while (i < w.len && w.data[i] >= '0' && w.data[i] <= '9') {
        unsigned d = w.data[i++] - '0';
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            over = true; /* keep going: a bad unit is the better message */
        else
            v = v * 10 + d;
    }
    if (i == 0) return 0;
    weir_bytes u = weir_bytes_of(w.data + i, w.len - i);
    if (k == WEIR__VAL_RATE && u.len >= 2 && memcmp(u.data + u.len - 2, "/s", 2) == 0) u.len -= 2;
    *mult = 0;
    if (u.len > 0) {
        const unit *t = units_of(k);
        while (t->name != NULL &&
               !(strlen(t->name) == u.len && memcmp(t->name, u.data, u.len) == 0))
            t++;
        if (t->name == NULL) return 0;
        *mult = t->mult;
    }
    if (over) return -1;
    *digits = (int64_t)v;
    return 1;
}

/* digits x mult, or -1 when it does not fit. */
static int scale(int64_t digits, int64_t mult, int64_t *out) {
    if (digits > INT64_MAX / mult) return -1;
    *out = digits * mult;
    return 1;
}

int weir__parse_value(weir_bytes w, weir__value_kind k, bool allow_range, weir__range *out,
                      const char **why) {
    static const char overflow[] = "value does not fit in 64 bits";
    *why = NULL;
    size_t dots = w.len;
    for (size_t i = 0; i + 1 < w.len && dots == w.len; i++)
        if (w.data[i] == '.' && w.data[i + 1] == '.') dots = i;
    weir_bytes hw = dots < w.len ? weir_bytes_of(w.data + dots + 2, w.len - dots - 2) : w;
    int64_t hd = 0, hm = 0, ld = 0, lm = 0, hi = 0, lo = 0;
    int r = split_value(hw, k, &hd, &hm);
    if (r < 0) *why = overflow;
    if (r <= 0) return r;
    /* A duration needs its unit, except 0; sizes and counts default to 1. */
    if (hm == 0 && k == WEIR__VAL_DURATION && hd != 0) return 0;
    if (hm == 0) hm = 1;
    if (scale(hd, hm, &hi) < 0) {
        *why = overflow;
        return -1;
    }
    if (dots == w.len) {
        out->set = true;
        out->lo = out->hi = hi;
        return 1;
    }
    r = split_value(weir_bytes_of(w.data, dots), k, &ld, &lm);
    if (r < 0) *why = overflow;
    if (r <= 0) return r;
    if (!allow_range) {
        *why = "a range is not allowed here";
        return -1;
    }
    /* "1..50ms": a low end without a unit takes the high end's. */
    if (scale(ld, lm != 0 ? lm : hm, &lo) < 0) {
        *why = overflow;
        return -1;
    }
    if (lo > hi) {
        *why = "the range's low end is above its high end";
        return -1;
    }
    out->set = true;
    out->lo = lo;
    out->hi = hi;
    return 1;
}

int weir__parse_probability(weir_bytes w, double *out) {
    size_t i = 0;
    uint64_t num = 0, den = 1;
    while (i < w.len && w.data[i] >= '0' && w.data[i] <= '9' && num <= 1)
        num = num * 10 + (w.data[i++] - '0');
    if (i == 0 || num > 1) return 0;
    if (i < w.len && w.data[i] == '.') {
        i++;
        size_t digits = 0;
        while (i < w.len && w.data[i] >= '0' && w.data[i] <= '9' && digits < 9) {
            num = num * 10 + (w.data[i++] - '0');
            den *= 10;
            digits++;
        }
        if (digits == 0) return 0;
    }
    if (i != w.len || num > den) return 0;
    *out = (double)num / (double)den;
    return 1;
}
