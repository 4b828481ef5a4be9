/* runner/cursor.c - taking one line's tokens apart: the helpers both parsers use
 * (parse.c for reader steps, net_parse.c for network scenarios). Messages follow the
 * reference runner (tests/conformance/pyref.py) word for word. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runner/parse_internal.h"
#include "weir/error.h"

int weir__cerr(weir__cursor *c, const weir__token *t, const char *fmt, ...) {
    weir_scenario_error *err = c->p->err;
    size_t col0 = t != NULL ? t->col : c->eol; /* < WEIR_SCENARIO_MAX_LINE: fits an int */
    err->line = c->p->lineno;
    err->col = (int)col0 + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return WEIR_EINVAL;
}

const char *weir__quoted(weir__parser *p, weir_bytes w) {
    weir__buf_reset(&p->msg);
    if (weir__fmt_repr(&p->msg, w, 60) != 0) return "(word)";
    return p->msg.data;
}

bool weir__word_is(const weir__token *t, const char *s) {
    size_t n = strlen(s);
    return t->kind == WEIR__TOK_WORD && t->val.len == n && memcmp(t->val.data, s, n) == 0;
}

bool weir__word_rest(const weir__token *t, const char *prefix, weir_bytes *rest) {
    size_t n = strlen(prefix);
    if (t->val.len < n || memcmp(t->val.data, prefix, n) != 0) return false;
    *rest = weir_bytes_of(t->val.data + n, t->val.len - n);
    return true;
}

/* An optional '-' and one or more ASCII digits: 1, and the value in *out; 0 when it is not
 * an integer; -1 when it is one but does not fit in int64_t. */
int weir__to_int64(weir_bytes w, int64_t *out) {
    size_t i = 0;
    bool neg = w.len > 0 && w.data[0] == '-';
    if (neg) i++;
    if (i == w.len) return 0;
    uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    bool over = false;
    for (; i < w.len; i++) {
        uint8_t c = w.data[i];
        if (c < '0' || c > '9') return 0;
        unsigned d = c - '0';
        if (v > (max - d) / 10)
            over = true; /* keep going: a later non-digit wins */
        else
            v = v * 10 + d;
    }
    if (over) return -1;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 1;
}

weir__token *weir__peek(weir__cursor *c) { return c->pos < c->n ? &c->toks[c->pos] : NULL; }

int weir__next(weir__cursor *c, const char *what, weir__token **out) {
    if (c->pos >= c->n) return weir__cerr(c, NULL, "expected %s", what);
    *out = &c->toks[c->pos++];
    return 0;
}

int weir__separated(weir__cursor *c, const weir__token *t) {
    return t->glued ? weir__cerr(c, t, "missing space before this token") : 0;
}

int weir__word(weir__cursor *c, const char *what, weir__token **out) {
    int rc = weir__next(c, what, out);
    if (rc != 0) return rc;
    if ((*out)->kind != WEIR__TOK_WORD) return weir__cerr(c, *out, "expected %s", what);
    return weir__separated(c, *out);
}

int weir__string(weir__cursor *c, const char *what, weir__token **out) {
    int rc = weir__next(c, what, out);
    if (rc != 0) return rc;
    if ((*out)->kind != WEIR__TOK_STR) return weir__cerr(c, *out, "expected %s", what);
    return weir__separated(c, *out);
}

int weir__integer(weir__cursor *c, const char *what, int64_t *out) {
    weir__token *t = NULL;
    int rc = weir__word(c, what, &t);
    if (rc != 0) return rc;
    int r = weir__to_int64(t->val, out);
    if (r == 1) return 0;
    if (r < 0) return weir__cerr(c, t, "number does not fit in 64 bits (%s)", what);
    return weir__cerr(c, t, "expected %s, found %s", what, weir__quoted(c->p, t->val));
}

int weir__end(weir__cursor *c) {
    weir__token *t = weir__peek(c);
    return t != NULL ? weir__cerr(c, t, "unexpected text after the step") : 0;
}

int weir__keep(weir__parser *p, weir_bytes v, weir_bytes *out) {
    uint8_t *m = weir__arena_alloc(&p->f->arena, v.len + 1);
    if (m == NULL) return WEIR_ENOMEM;
    if (v.len > 0) memcpy(m, v.data, v.len);
    m[v.len] = '\0';
    *out = weir_bytes_of(m, v.len);
    return 0;
}
