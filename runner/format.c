/* runner/format.c - the canonical text of bytes, steps and outcomes.
 *
 * Diagnostics compare and print outcomes in exactly the form the reference runner
 * (tests/conformance/pyref.py) prints, so that a failure reads the same from both and a
 * scenario annotated by one is accepted by the other. */
#include <inttypes.h>
#include <string.h>

#include "runner/scenario_internal.h"

int weir__fmt_bytes(weir__buf *b, weir_bytes v) {
    static const char hex[] = "0123456789abcdef";
    int rc = weir__buf_putc(b, '"');
    for (size_t i = 0; i < v.len && rc == 0; i++) {
        uint8_t c = v.data[i];
        char esc[4] = {'\\', 0, 0, 0};
        size_t n = 2;
        switch (c) {
            case '\\':
                esc[1] = '\\';
                break;
            case '"':
                esc[1] = '"';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\0':
                esc[1] = '0';
                break;
            default:
                if (c >= 0x20 && c <= 0x7e) {
                    esc[0] = (char)c;
                    n = 1;
                } else {
                    esc[1] = 'x';
                    esc[2] = hex[c >> 4];
                    esc[3] = hex[c & 15];
                    n = 4;
                }
        }
        rc = weir__buf_append(b, esc, n);
    }
    return rc ? rc : weir__buf_putc(b, '"');
}

/* Python's str.isprintable() for the latin-1 code points a file's bytes decode to. */
static bool py_printable(uint8_t c) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c >= 0x80 && c <= 0xa0) return false; /* C1 controls and NO-BREAK SPACE */
    return c != 0xad;                         /* SOFT HYPHEN */
}

int weir__fmt_repr(weir__buf *b, weir_bytes v, size_t max) {
    static const char hex[] = "0123456789abcdef";
    bool cut = v.len > max;
    size_t len = cut ? max : v.len;
    /* repr() prefers single quotes and switches to double ones for a str holding a single
     * quote and no double quote (a word never holds a double quote). */
    char q = v.len > 0 && memchr(v.data, '\'', v.len) != NULL ? '"' : '\'';
    int rc = weir__buf_putc(b, q);
    for (size_t i = 0; i < len && rc == 0; i++) {
        uint8_t c = v.data[i];
        if (c == '\\')
            rc = weir__buf_append(b, "\\\\", 2);
        else if (c == '\n')
            rc = weir__buf_append(b, "\\n", 2);
        else if (c == '\r')
            rc = weir__buf_append(b, "\\r", 2);
        else if (c == '\t')
            rc = weir__buf_append(b, "\\t", 2);
        else if (!py_printable(c)) {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            rc = weir__buf_append(b, esc, 4);
        } else if (c < 0x80) {
            rc = weir__buf_putc(b, (char)c);
        } else {
            /* The reference prints the code point; its stderr is UTF-8. */
            char utf8[2] = {(char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f))};
            rc = weir__buf_append(b, utf8, 2);
        }
    }
    if (rc == 0) rc = weir__buf_putc(b, q);
    if (rc == 0 && cut) rc = weir__buf_append(b, "...", 3);
    return rc;
}

static const char *const keywords[] = {
    [WEIR__STEP_READER] = "reader",
    [WEIR__STEP_FEED] = "feed",
    [WEIR__STEP_EOF] = "eof",
    [WEIR__STEP_FAIL] = "fail",
    [WEIR__STEP_READ] = "read",
    [WEIR__STEP_READLINE] = "readline",
    [WEIR__STEP_READEXACTLY] = "readexactly",
    [WEIR__STEP_READUNTIL] = "readuntil",
    [WEIR__STEP_AT_EOF] = "at_eof",
    [WEIR__STEP_BUFFERED] = "buffered",
    [WEIR__STEP_PAUSED] = "paused",
    [WEIR__STEP_EXCEPTION] = "exception",
    [WEIR__STEP_AWAIT] = "await",
    [WEIR__STEP_HOST] = "host",
    [WEIR__STEP_LINK] = "link",
    [WEIR__STEP_FAULT] = "fault",
    [WEIR__STEP_SERVER] = "server",
    [WEIR__STEP_PEER] = "peer",
    [WEIR__STEP_RUN] = "run",
    [WEIR__STEP_CONNECT] = "connect",
    [WEIR__STEP_ACCEPT] = "accept",
    [WEIR__STEP_SEND] = "send",
    [WEIR__STEP_WRITE] = "write",
    [WEIR__STEP_DRAIN] = "drain",
    [WEIR__STEP_SLEEP] = "sleep",
    [WEIR__STEP_EXPECT] = "expect",
    [WEIR__STEP_CLOSE] = "close",
    [WEIR__STEP_ABORT] = "abort",
};

const char *weir__step_keyword(weir__step_kind k) {
    if ((size_t)k >= sizeof keywords / sizeof keywords[0]) return "?";
    return keywords[k];
}

bool weir__step_is_read(weir__step_kind k) {
    return k == WEIR__STEP_READ || k == WEIR__STEP_READLINE || k == WEIR__STEP_READEXACTLY ||
           k == WEIR__STEP_READUNTIL;
}

int weir__fmt_step(weir__buf *b, const weir__step *s) {
    /* A network step keeps the canonical text the parser made of it. */
    if (s->text.data != NULL) return weir__buf_append(b, s->text.data, s->text.len);
    const char *kw = weir__step_keyword(s->kind);
    switch (s->kind) {
        case WEIR__STEP_READER:
            return weir__buf_printf(b, "reader limit=%" PRId64, s->n);
        case WEIR__STEP_FEED:
        case WEIR__STEP_FAIL: {
            int rc = weir__buf_printf(b, "%s ", kw);
            return rc ? rc : weir__fmt_bytes(b, s->data);
        }
        case WEIR__STEP_READ:
        case WEIR__STEP_READEXACTLY:
            return weir__buf_printf(b, "%s %" PRId64, kw, s->n);
        case WEIR__STEP_READUNTIL: {
            if (s->nseps == 0) return weir__buf_printf(b, "readuntil ()");
            int rc = weir__buf_printf(b, "readuntil");
            for (size_t i = 0; i < s->nseps && rc == 0; i++) {
                rc = weir__buf_putc(b, ' ');
                if (rc == 0) rc = weir__fmt_bytes(b, s->seps[i]);
            }
            return rc;
        }
        default:
            return weir__buf_printf(b, "%s", kw);
    }
}

int weir__fmt_outcome(weir__buf *b, const weir__outcome *o) {
    int rc;
    switch (o->kind) {
        case WEIR__OUT_NONE:
            return weir__buf_printf(b, "success");
        case WEIR__OUT_BYTES:
            return weir__fmt_bytes(b, o->bytes);
        case WEIR__OUT_PENDING:
            return weir__buf_printf(b, "pending");
        case WEIR__OUT_INCOMPLETE:
            if (o->any) return weir__buf_printf(b, "IncompleteReadError");
            rc = weir__buf_printf(b, "IncompleteReadError partial=");
            if (rc == 0) rc = weir__fmt_bytes(b, o->bytes);
            if (rc != 0) return rc;
            if (o->none) return weir__buf_printf(b, " expected=none");
            return weir__buf_printf(b, " expected=%" PRId64, o->num);
        case WEIR__OUT_LIMIT:
            if (o->any) return weir__buf_printf(b, "LimitOverrunError");
            return weir__buf_printf(b, "LimitOverrunError consumed=%" PRId64, o->num);
        case WEIR__OUT_VALUE_ERROR:
            return weir__buf_printf(b, "ValueError");
        case WEIR__OUT_RUNTIME_ERROR:
            return weir__buf_printf(b, "RuntimeError");
        case WEIR__OUT_ERROR:
            rc = weir__buf_printf(b, "error ");
            return rc ? rc : weir__fmt_bytes(b, o->bytes);
        case WEIR__OUT_ASSERTION_ERROR:
            return weir__buf_printf(b, "AssertionError");
        case WEIR__OUT_TRUE:
            return weir__buf_printf(b, "true");
        case WEIR__OUT_FALSE:
            return weir__buf_printf(b, "false");
        case WEIR__OUT_COUNT:
            return weir__buf_printf(b, "%" PRId64, o->num);
        case WEIR__OUT_EXC_NONE:
            return weir__buf_printf(b, "none");
        case WEIR__OUT_UNEXPECTED:
            return weir__buf_printf(b, "unexpected-error %s (%s)", weir_errname((int)o->num),
                                    weir_strerror((int)o->num));
        case WEIR__OUT_EOF:
            return weir__buf_printf(b, "eof");
        case WEIR__OUT_RESET:
            return weir__buf_printf(b, "ConnectionResetError");
        case WEIR__OUT_REFUSED:
            return weir__buf_printf(b, "ConnectionRefusedError");
        case WEIR__OUT_BROKEN_PIPE:
            return weir__buf_printf(b, "BrokenPipeError");
        case WEIR__OUT_TIMEOUT:
            return weir__buf_printf(b, "TimeoutError");
        case WEIR__OUT_OK:
            return weir__buf_printf(b, "ok");
        case WEIR__OUT_CODE:
            return weir__buf_printf(b, "%s", weir__code_name((int)o->num));
    }
    return weir__buf_printf(b, "?");
}

int weir__fmt_duration(weir__buf *b, int64_t ns) {
    static const struct {
        int64_t ns;
        const char *unit;
    } units[] = {{1000000000, "s"}, {1000000, "ms"}, {1000, "us"}};
    if (ns == 0) return weir__buf_printf(b, "0");
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ns % units[i].ns == 0)
            return weir__buf_printf(b, "%" PRId64 "%s", ns / units[i].ns, units[i].unit);
    return weir__buf_printf(b, "%" PRId64 "ns", ns);
}

static bool bytes_eq(weir_bytes a, weir_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

bool weir__outcome_eq(const weir__outcome *a, const weir__outcome *b) {
    if (a->kind != b->kind) return false;
    /* `a` is what was expected: without details it takes any error of its kind; one
     * with details never matches an error that came without them. */
    if (a->any) return true;
    if (b->any) return false;
    switch (a->kind) {
        case WEIR__OUT_BYTES:
        case WEIR__OUT_ERROR:
            return bytes_eq(a->bytes, b->bytes);
        case WEIR__OUT_INCOMPLETE:
            if (!bytes_eq(a->bytes, b->bytes) || a->none != b->none) return false;
            return a->none || a->num == b->num;
        case WEIR__OUT_LIMIT:
        case WEIR__OUT_COUNT:
        case WEIR__OUT_UNEXPECTED:
        case WEIR__OUT_CODE:
            return a->num == b->num;
        default:
            return true;
    }
}
