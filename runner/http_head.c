/* runner/http_head.c - an HTTP/1 head: read with readuntil, parsed without allocating.
 *
 * The parser is sans-IO in picohttpparser's manner: bytes in, views out, state in the
 * caller's struct, so a fuzzer can drive it directly. It is strict where leniency is how
 * request smuggling starts (RFC 9112): lines end in CRLF and a bare CR or LF is an error,
 * header names are tokens with nothing between them and the colon, obsolete line folding is
 * refused. Every error names what was wrong and where. */
#include <string.h>

#include "runner/handlers.h"

typedef struct parser {
    const uint8_t *p; /* the head */
    size_t len;
    size_t pos; /* where the next line starts */
    weir_http_head *h;
} parser;

static int malformed(parser *ps, size_t at, const char *message) {
    ps->h->message = message;
    ps->h->error_at = at;
    return WEIR_EMALFORMED;
}

/* tchar (RFC 9110 5.6.2): the characters of a method or a header name. */
static bool is_tchar(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* VCHAR or obs-text: a visible byte. */
static bool is_visible(uint8_t c) { return c > 0x20 && c != 0x7f; }

static bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

/* The next line, without its CRLF, into [*start, *end); the position moves past the CRLF.
 * A bare CR or LF anywhere is malformed; no CRLF before the end is incomplete. */
static int next_line(parser *ps, size_t *start, size_t *end) {
    size_t i = ps->pos;
    for (; i < ps->len; i++) {
        if (ps->p[i] == '\n') return malformed(ps, i, "bare LF (lines must end in CRLF)");
        if (ps->p[i] != '\r') continue;
        if (i + 1 == ps->len) break;
        if (ps->p[i + 1] != '\n') return malformed(ps, i, "bare CR (lines must end in CRLF)");
        *start = ps->pos;
        *end = i;
        ps->pos = i + 2;
        return WEIR_OK;
    }
    ps->h->message = "the head ends before its blank line";
    ps->h->partial = ps->len;
    return WEIR_EINCOMPLETE;
}

static weir_bytes view(const parser *ps, size_t from, size_t to) {
    return weir_bytes_of(ps->p + from, to - from);
}

/* "HTTP/1.x" at i; the minor version in *minor. */
static bool version_at(const parser *ps, size_t i, size_t end, int *minor) {
    if (end - i != 8 || memcmp(ps->p + i, "HTTP/1.", 7) != 0) return false;
    uint8_t d = ps->p[i + 7];
    if (d < '0' || d > '9') return false;
    *minor = d - '0';
    return true;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ]; the SP before an empty
 * reason is often left out, so it is optional here. */
static int status_line(parser *ps, size_t s, size_t e) {
    weir_http_head *h = ps->h;
    h->response = true;
    if (e - s < 12 || !version_at(ps, s, s + 8, &h->version_minor))
        return malformed(ps, s, "bad status line (expected HTTP/1.x NNN reason)");
    size_t i = s + 8;
    if (ps->p[i] != ' ') return malformed(ps, i, "bad status line: no space after the version");
    int status = 0;
    for (size_t k = i + 1; k < i + 4; k++) {
        if (ps->p[k] < '0' || ps->p[k] > '9')
            return malformed(ps, k, "bad status line: the status is not 3 digits");
        status = status * 10 + (ps->p[k] - '0');
    }
    if (status < 100) return malformed(ps, i + 1, "bad status line: status below 100");
    h->status = status;
    i += 4;
    if (i < e && ps->p[i] != ' ')
        return malformed(ps, i, "bad status line: the status is not 3 digits");
    if (i < e) i++;
    for (size_t k = i; k < e; k++)
        if (!is_visible(ps->p[k]) && !is_ows(ps->p[k]))
            return malformed(ps, k, "bad status line: control byte in the reason");
    h->reason = view(ps, i, e);
    return WEIR_OK;
}

/* request-line = method SP request-target SP HTTP-version */
static int request_line(parser *ps, size_t s, size_t e) {
    weir_http_head *h = ps->h;
    size_t i = s;
    while (i < e && is_tchar(ps->p[i])) i++;
    if (i == s || i == e || ps->p[i] != ' ')
        return malformed(ps, i, "bad request line: bad method (expected METHOD target HTTP/1.x)");
    h->method = view(ps, s, i);
    size_t t = ++i;
    while (i < e && is_visible(ps->p[i])) i++;
    if (i == t || i == e || ps->p[i] != ' ')
        return malformed(ps, i, "bad request line: bad target");
    h->target = view(ps, t, i);
    i++;
    if (!version_at(ps, i, e, &h->version_minor))
        return malformed(ps, i, "bad request line: bad version (expected HTTP/1.x)");
    return WEIR_OK;
}

/* field-line = field-name ":" OWS field-value OWS */
static int header_line(parser *ps, size_t s, size_t e) {
    weir_http_head *h = ps->h;
    if (is_ows(ps->p[s])) return malformed(ps, s, "obsolete line folding in a header");
    size_t i = s;
    while (i < e && is_tchar(ps->p[i])) i++;
    if (i == s || i == e || ps->p[i] != ':')
        return malformed(ps, i, "bad header name (expected a token then ':')");
    if (h->nheaders == WEIR_HTTP_MAX_HEADERS) return malformed(ps, s, "too many headers");
    weir_http_header *f = &h->headers[h->nheaders];
    f->name = view(ps, s, i);
    i++;
    while (i < e && is_ows(ps->p[i])) i++;
    size_t vend = e;
    while (vend > i && is_ows(ps->p[vend - 1])) vend--;
    for (size_t k = i; k < vend; k++)
        if (!is_visible(ps->p[k]) && !is_ows(ps->p[k]))
            return malformed(ps, k, "control byte in a header value");
    f->value = view(ps, i, vend);
    h->nheaders++;
    return WEIR_OK;
}

int weir_http_parse_head(const void *data, size_t len, weir_http_head *out) {
    if (!out) return WEIR_EINVAL;
    memset(out, 0, sizeof *out);
    if (!data && len > 0) return WEIR_EINVAL;
    parser ps = {.p = data, .len = len, .h = out};
    size_t s, e;
    int rc = next_line(&ps, &s, &e);
    if (rc) return rc;
    if (s == e) return malformed(&ps, s, "empty start line");
    rc = e - s >= 5 && memcmp(ps.p + s, "HTTP/", 5) == 0 ? status_line(&ps, s, e)
                                                         : request_line(&ps, s, e);
    while (rc == 0 && (rc = next_line(&ps, &s, &e)) == 0 && s != e) rc = header_line(&ps, s, e);
    if (rc) return rc;
    out->len = ps.pos;
    return WEIR_OK;
}

int weir_http_read_head(weir_reader *r, weir_http_head *out) {
    if (!out) return WEIR_EINVAL;
    memset(out, 0, sizeof *out);
    if (!r) return WEIR_EINVAL;
    weir_bytes head;
    int rc = weir_readuntil(r, "\r\n\r\n", 4, &head);
    if (rc == 0) return weir_http_parse_head(head.data, head.len, out);
    const weir_error *e = weir_reader_error(r);
    if (rc == WEIR_ELIMIT) {
        out->consumed = e->consumed;
        out->message = "the head does not end within the reader's limit";
    } else if (rc == WEIR_EINCOMPLETE) {
        out->partial = e->partial.len;
        out->message = "EOF before the end of the head";
    } else {
        out->message = weir_strerror(rc);
    }
    return rc;
}

static bool ascii_case_eq(weir_bytes a, const char *b) {
    size_t n = strlen(b);
    if (a.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a.data[i], y = (uint8_t)b[i];
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return false;
    }
    return true;
}

const weir_http_header *weir_http_find(const weir_http_head *h, const char *name) {
    if (!h || !name) return NULL;
    for (size_t i = 0; i < h->nheaders; i++)
        if (ascii_case_eq(h->headers[i].name, name)) return &h->headers[i];
    return NULL;
}
