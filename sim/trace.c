/* sim/trace.c - the run's trace: a hash over every record, and text lines on request.
 *
 * The hash is sim/hash.h's, over a fixed sequence of words per record, so it is the same on
 * every machine and compiler. Text lines are kept only with keep_trace: a run that only needs the
 * hash (a seed sweep) pays for no formatting. docs/simulator.md ("Trace") is the
 * specification. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/sim_internal.h"

/* Payloads longer than this show their first SHOW_BYTES bytes and then "...". */
#define ELIDE_OVER 64
#define SHOW_BYTES 48

void weir__sim_trace_init(weir_sim *s) {
    s->hash = WEIR__HASH_BASIS;
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
    size_t note_len = r->note_len ? r->note_len : r->note ? strlen(r->note) : 0;
    /* Unsigned subtraction: a delta is defined even if a caller's clock went backwards. */
    s->hash = weir__hash_record(s->hash, (uint64_t)r->kind,
                                (int64_t)((uint64_t)now - (uint64_t)s->trace_time), r->conn, r->dir,
                                r->a, r->b, r->note, note_len, r->data, r->data ? r->len : 0);
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

uint64_t weir_sim_trace_hash(const weir_sim *s) { return s ? s->hash : WEIR__HASH_BASIS; }

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
