/* sim/trace.c - the run's trace: a hash over every record, and text lines on request.
 *
 * The hash runs over a fixed sequence of 64-bit words per record (each field one word, bytes
 * as little-endian words), never over pointers or struct layout, so it is the same on every
 * machine and compiler. Text lines are kept only with keep_trace: a run that only needs the
 * hash (a seed sweep) pays for no formatting. docs/simulator.md ("Trace") is the
 * specification. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define HASH_BASIS 0xcbf29ce484222325ull /* the empty trace's hash */
#define HASH_MUL 0x9e3779b97f4a7c15ull   /* 2^64 / the golden ratio, odd */

/* Payloads longer than this show their first SHOW_BYTES bytes and then "...". */
#define ELIDE_OVER 64
#define SHOW_BYTES 48

void weir__sim_trace_init(weir_sim *s) {
    s->hash = HASH_BASIS;
    s->records = 0;
    s->trace_time = 0;
    s->lines = NULL;
    s->nlines = s->cap_lines = 0;
}

void weir__sim_trace_free(weir_sim *s) {
    for (size_t i = 0; i < s->nlines; i++) free(s->lines[i]);
    free(s->lines);
    s->lines = NULL;
    s->nlines = s->cap_lines = 0;
}

/* --- the hash ---------------------------------------------------------------------- */

/* One word into the hash: the 128-bit product of (h XOR w) and an odd constant, its two
 * halves XOR-ed together. A multiply whose low half is folded back (h * K, then a shift or
 * rotation) passes a difference in only the top bit of its input through as exactly that
 * bit, so two such differences in neighbouring words cancel for certain (bytes 7 and 11 of
 * a payload with their top bits flipped would hash the same); the folded high half depends
 * on every input bit through the carries, so no fixed pattern of differences cancels. A
 * word costs three instructions (xor, one widening multiply, xor): byte-at-a-time FNV-1a
 * cost a multiply per byte, which made the hash the simulator's largest single cost. */
static inline uint64_t mix(uint64_t h, uint64_t w) {
    uint64_t x = h ^ w;
#ifdef __SIZEOF_INT128__
    unsigned __int128 p = (unsigned __int128)x * HASH_MUL;
    return (uint64_t)(p >> 64) ^ (uint64_t)p;
#else
    /* The same product from 32-bit halves, for compilers without a 128-bit type. */
    const uint64_t k = HASH_MUL;
    uint64_t xl = (uint32_t)x, xh = x >> 32, kl = (uint32_t)k, kh = k >> 32;
    uint64_t ll = xl * kl, lh = xl * kh, hl = xh * kl, hh = xh * kh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    uint64_t lo = mid << 32 | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return hi ^ lo;
#endif
}

/* Little-endian loads, whatever the machine's byte order. */
static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline uint64_t load_le32(const uint8_t *p) {
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
static inline uint64_t load_tail(const uint8_t *p, size_t n) {
    if (n >= 4) return load_le32(p) | load_le32(p + n - 4) << (8 * (n - 4));
    return (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
           (uint64_t)p[n - 1] << (8 * (n - 1));
}

/* The length, then the bytes as little-endian words, the last one zero-padded. */
static inline uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n) {
    h = mix(h, (uint64_t)n);
    for (; n >= 8; p += 8, n -= 8) h = mix(h, load_le64(p));
    if (n) h = mix(h, load_tail(p, n));
    return h;
}

/* kind, time as a delta from the previous record, conn, dir, a, b (signed ones as two's
 * complement, dir sign-extended), then the note and the data, each as its length and its
 * bytes. The lengths make the sequence unambiguous. */
static uint64_t hash_record(uint64_t h, int64_t dt, const weir__trace_rec *r) {
    h = mix(h, (uint64_t)r->kind);
    h = mix(h, (uint64_t)dt);
    h = mix(h, r->conn);
    h = mix(h, (uint64_t)(int64_t)r->dir);
    h = mix(h, (uint64_t)r->a);
    h = mix(h, (uint64_t)r->b);
    size_t note_len = r->note_len ? r->note_len : r->note ? strlen(r->note) : 0;
    h = mix_bytes(h, (const uint8_t *)r->note, note_len);
    return mix_bytes(h, r->data, r->data ? r->len : 0);
}

/* --- text -------------------------------------------------------------------------- */

/* A growing string; on allocation failure it stays failed and the line is dropped. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static bool sb_reserve(sbuf *b, size_t more) {
    if (b->failed) return false;
    if (b->len + more + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* Only short numeric fields go through here. */
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* One byte, escaped canonically: \\ \" \n \r \t \0 and \xHH for anything else outside
 * printable ASCII. `quoted` false (notes) leaves \ and " as they are. */
static void sb_escape(sbuf *b, uint8_t c, bool quoted) {
    switch (c) {
        case '\\':
            sb_puts(b, quoted ? "\\\\" : "\\");
            return;
        case '"':
            sb_puts(b, quoted ? "\\\"" : "\"");
            return;
        case '\n':
            sb_puts(b, "\\n");
            return;
        case '\r':
            sb_puts(b, "\\r");
            return;
        case '\t':
            sb_puts(b, "\\t");
            return;
        case '\0':
            sb_puts(b, "\\0");
            return;
        default:
            break;
    }
    if (c >= 0x20 && c < 0x7f) {
        char ch = (char)c;
        sb_put(b, &ch, 1);
    } else {
        sb_printf(b, "\\x%02x", c);
    }
}

const char *weir__sim_fmt_ms(char *buf, int64_t ns) {
    /* Integer arithmetic: exact, and no floating-point formatting differences. */
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    snprintf(buf, 32, "%s%" PRIu64 ".%06" PRIu64, ns < 0 ? "-" : "", mag / 1000000, mag % 1000000);
    return buf;
}

static const char *const kind_names[] = {
    [WEIR__TR_DRAW] = "draw",       [WEIR__TR_CONNECT] = "connect", [WEIR__TR_ACCEPT] = "accept",
    [WEIR__TR_REFUSED] = "refused", [WEIR__TR_SEND] = "send",       [WEIR__TR_DELIVER] = "deliver",
    [WEIR__TR_EOF] = "eof",         [WEIR__TR_RESET] = "reset",     [WEIR__TR_CLOSE] = "close",
    [WEIR__TR_FAULT] = "fault",     [WEIR__TR_PAUSE] = "pause",     [WEIR__TR_NOTE] = "note",
    [WEIR__TR_DROP] = "drop",
};

static const char *kind_name(weir__trace_kind k) {
    if ((size_t)k < sizeof kind_names / sizeof *kind_names && kind_names[k]) return kind_names[k];
    return "?";
}

/* "   12.500000ms conn 3 c->s deliver 17 "hello\n"": every hashed field appears, except
 * a conn of 0, a dir of -1 (none), and an a or b that a kind does not use while it is 0. */
static void format_record(sbuf *b, int64_t now, const weir__trace_rec *r) {
    char ms[32];
    sb_printf(b, "%12sms", weir__sim_fmt_ms(ms, now));
    if (r->conn) sb_printf(b, " conn %" PRIu64, r->conn);
    if (r->dir == 0)
        sb_puts(b, " c->s");
    else if (r->dir == 1)
        sb_puts(b, " s->c");
    else if (r->dir != -1)
        sb_printf(b, " dir %d", r->dir);
    sb_puts(b, " ");
    sb_puts(b, r->kind == WEIR__TR_PAUSE && r->a == 0 ? "resume" : kind_name(r->kind));
    /* Byte counts read best right after the verb: "deliver 17", "drop 5 unread". */
    bool counts =
        r->kind == WEIR__TR_SEND || r->kind == WEIR__TR_DELIVER || r->kind == WEIR__TR_DROP;
    if (counts) sb_printf(b, " %" PRId64, r->a);
    if (r->note) {
        /* Note text stays as written (UTF-8 too); only control bytes are escaped, so a
         * line stays a line. */
        sb_puts(b, " ");
        for (const char *p = r->note; *p; p++) {
            uint8_t c = (uint8_t)*p;
            if (c >= 0x80)
                sb_put(b, p, 1);
            else
                sb_escape(b, c, false);
        }
    }
    bool a_shown = counts || (r->kind == WEIR__TR_PAUSE && (r->a == 0 || r->a == 1));
    if (r->kind == WEIR__TR_DRAW) {
        if (r->a == 0) /* a full 64-bit draw */
            sb_printf(b, " 0x%016" PRIx64, (uint64_t)r->b);
        else
            sb_printf(b, " %" PRIu64 " in [0,%" PRIu64 ")", (uint64_t)r->b, (uint64_t)r->a);
    } else {
        if (!a_shown && r->a) sb_printf(b, " a=%" PRId64, r->a);
        if (r->b) sb_printf(b, " b=%" PRId64, r->b);
    }
    size_t len = r->data ? r->len : 0;
    if (len) {
        size_t show = len > ELIDE_OVER ? SHOW_BYTES : len;
        sb_puts(b, " \"");
        for (size_t i = 0; i < show; i++) sb_escape(b, r->data[i], true);
        sb_puts(b, len > show ? "\"..." : "\"");
    }
}

static void keep_line(weir_sim *s, int64_t now, const weir__trace_rec *r) {
    if (s->nlines == s->cap_lines) {
        size_t cap = s->cap_lines ? s->cap_lines * 2 : 256;
        char **lines = realloc(s->lines, cap * sizeof *lines);
        if (!lines) goto fail;
        s->lines = lines;
        s->cap_lines = cap;
    }
    sbuf b = {0};
    format_record(&b, now, r);
    if (b.failed) {
        free(b.p);
        goto fail;
    }
    s->lines[s->nlines++] = b.p;
    return;
fail:
    /* Out of memory: stop keeping lines (the hash goes on); trace_line returns NULL from
     * here on, which is how a caller can tell the text is incomplete. */
    s->keep = false;
}

/* --- recording --------------------------------------------------------------------- */

void weir__sim_record(weir_sim *s, const weir__trace_rec *r) {
    int64_t now = s->now;
    /* Unsigned subtraction: a delta is defined even if a caller's clock went backwards. */
    s->hash = hash_record(s->hash, (int64_t)((uint64_t)now - (uint64_t)s->trace_time), r);
    s->trace_time = now;
    s->records++;
    if (s->keep && s->nlines + 1 == s->records) keep_line(s, now, r);
}

void weir_sim_note(weir_sim *s, const char *fmt, ...) {
    if (!s || !fmt) return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *text = small;
    if ((size_t)n >= sizeof small) {
        text = malloc((size_t)n + 1);
        if (!text) return;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    weir__trace_rec r = {.kind = WEIR__TR_NOTE, .dir = -1, .note = text};
    weir__sim_record(s, &r);
    if (text != small) free(text);
}

uint64_t weir_sim_trace_hash(const weir_sim *s) { return s ? s->hash : HASH_BASIS; }

size_t weir_sim_trace_count(const weir_sim *s) { return s ? (size_t)s->records : 0; }

const char *weir_sim_trace_line(const weir_sim *s, size_t i) {
    return s && i < s->nlines ? s->lines[i] : NULL;
}

void weir_sim_trace_write(const weir_sim *s, FILE *out) {
    if (!s || !out) return;
    for (size_t i = 0; i < s->nlines; i++) {
        fputs(s->lines[i], out);
        fputc('\n', out);
    }
}
