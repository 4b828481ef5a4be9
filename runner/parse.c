/* runner/parse.c - scenario files into steps (grammar: docs/scenarios.md).
 *
 * The parser works on a buffer in memory and stops at the first error, reporting it with
 * its line and column. It follows the reference runner (tests/conformance/pyref.py) rule
 * for rule and message for message, so that both accept the same files and point at the
 * same place in the ones they reject. Everything a parsed file keeps lives in its arena;
 * what the parser needs for one line is reused from line to line, so memory stays within a
 * small multiple of the input. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/scenario_internal.h"
#include "weir/error.h"

typedef struct parser {
    weir_scenario_file *f;
    weir_scenario_error *err;
    int lineno;
    weir__lexed lx;
    weir__scenario *cur; /* the scenario steps go to, NULL before the first one */
    weir__buf msg;       /* scratch for quoting words in messages */
} parser;

/* A cursor over some of the line's tokens: the step before `=>`, or the result after it. */
typedef struct cursor {
    parser *p;
    weir__token *toks;
    size_t n;
    size_t pos;
    size_t eol; /* where to point when the tokens run out */
} cursor;

static int cerr(cursor *c, const weir__token *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int cerr(cursor *c, const weir__token *t, const char *fmt, ...) {
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

/* A word as Python's repr() shows it, for messages. */
static const char *quoted(parser *p, weir_bytes w) {
    weir__buf_reset(&p->msg);
    if (weir__fmt_repr(&p->msg, w, 60) != 0) return "(word)";
    return p->msg.data;
}

static bool word_is(const weir__token *t, const char *s) {
    size_t n = strlen(s);
    return t->kind == WEIR__TOK_WORD && t->val.len == n && memcmp(t->val.data, s, n) == 0;
}

/* If the word starts with `prefix`, the rest of it. */
static bool word_rest(const weir__token *t, const char *prefix, weir_bytes *rest) {
    size_t n = strlen(prefix);
    if (t->val.len < n || memcmp(t->val.data, prefix, n) != 0) return false;
    *rest = weir_bytes_of(t->val.data + n, t->val.len - n);
    return true;
}

/* An optional '-' and one or more ASCII digits: 1, and the value in *out; 0 when it is not
 * an integer; -1 when it is one but does not fit in int64_t. */
static int to_int64(weir_bytes w, int64_t *out) {
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

static weir__token *peek(cursor *c) { return c->pos < c->n ? &c->toks[c->pos] : NULL; }

static int next(cursor *c, const char *what, weir__token **out) {
    if (c->pos >= c->n) return cerr(c, NULL, "expected %s", what);
    *out = &c->toks[c->pos++];
    return 0;
}

static int separated(cursor *c, const weir__token *t) {
    return t->glued ? cerr(c, t, "missing space before this token") : 0;
}

static int word(cursor *c, const char *what, weir__token **out) {
    int rc = next(c, what, out);
    if (rc != 0) return rc;
    if ((*out)->kind != WEIR__TOK_WORD) return cerr(c, *out, "expected %s", what);
    return separated(c, *out);
}

static int string(cursor *c, const char *what, weir__token **out) {
    int rc = next(c, what, out);
    if (rc != 0) return rc;
    if ((*out)->kind != WEIR__TOK_STR) return cerr(c, *out, "expected %s", what);
    return separated(c, *out);
}

/* The number in `digits`, part of token t, or an error pointing at t. */
static int number(cursor *c, const weir__token *t, weir_bytes digits, const char *what,
                  int64_t *out) {
    int r = to_int64(digits, out);
    if (r == 1) return 0;
    if (r < 0) return cerr(c, t, "number does not fit in 64 bits (%s)", what);
    return cerr(c, t, "expected %s", what);
}

static int integer(cursor *c, const char *what, int64_t *out) {
    weir__token *t = NULL;
    int rc = word(c, what, &t);
    if (rc != 0) return rc;
    int r = to_int64(t->val, out);
    if (r == 1) return 0;
    if (r < 0) return cerr(c, t, "number does not fit in 64 bits (%s)", what);
    return cerr(c, t, "expected %s, found %s", what, quoted(c->p, t->val));
}

static int end(cursor *c) {
    weir__token *t = peek(c);
    return t != NULL ? cerr(c, t, "unexpected text after the step") : 0;
}

/* A copy in the file's arena (NUL-terminated), so it outlives the line. */
static int keep(parser *p, weir_bytes v, weir_bytes *out) {
    uint8_t *m = weir__arena_alloc(&p->f->arena, v.len + 1);
    if (m == NULL) return WEIR_ENOMEM;
    if (v.len > 0) memcpy(m, v.data, v.len);
    m[v.len] = '\0';
    *out = weir_bytes_of(m, v.len);
    return 0;
}

static int keep_string(cursor *c, const char *what, weir_bytes *out) {
    weir__token *t = NULL;
    int rc = string(c, what, &t);
    return rc ? rc : keep(c->p, t->val, out);
}

/* RESULT := BYTES | pending | IncompleteReadError partial=BYTES expected=N|none
 *         | LimitOverrunError consumed=N | ValueError | RuntimeError | error BYTES */
static int result(cursor *c, weir__outcome *o) {
    weir__token *t = NULL, *u = NULL;
    weir_bytes rest;
    int rc = next(c, "a result", &t);
    if (rc == 0) rc = separated(c, t);
    if (rc != 0) return rc;
    if (t->kind == WEIR__TOK_STR) {
        o->kind = WEIR__OUT_BYTES;
        return keep(c->p, t->val, &o->bytes);
    }
    if (word_is(t, "pending"))
        o->kind = WEIR__OUT_PENDING;
    else if (word_is(t, "ValueError"))
        o->kind = WEIR__OUT_VALUE_ERROR;
    else if (word_is(t, "RuntimeError"))
        o->kind = WEIR__OUT_RUNTIME_ERROR;
    else if (word_is(t, "error")) {
        o->kind = WEIR__OUT_ERROR;
        return keep_string(c, "the error message (a string)", &o->bytes);
    } else if (word_is(t, "LimitOverrunError")) {
        o->kind = WEIR__OUT_LIMIT;
        if ((rc = word(c, "consumed=N", &u)) != 0) return rc;
        if (!word_rest(u, "consumed=", &rest)) return cerr(c, u, "expected consumed=N");
        return number(c, u, rest, "consumed=N", &o->num);
    } else if (word_is(t, "IncompleteReadError")) {
        o->kind = WEIR__OUT_INCOMPLETE;
        if ((rc = word(c, "partial=\"...\"", &u)) != 0) return rc;
        if (!word_is(u, "partial=")) return cerr(c, u, "expected partial=\"...\"");
        if ((rc = next(c, "partial=\"...\"", &u)) != 0) return rc;
        if (u->kind != WEIR__TOK_STR || !u->glued)
            return cerr(c, u, "expected a string right after partial=");
        if ((rc = keep(c->p, u->val, &o->bytes)) != 0) return rc;
        if ((rc = word(c, "expected=N or expected=none", &u)) != 0) return rc;
        if (!word_rest(u, "expected=", &rest))
            return cerr(c, u, "expected expected=N or expected=none");
        if (rest.len == 4 && memcmp(rest.data, "none", 4) == 0) {
            o->none = true;
            return 0;
        }
        if (to_int64(rest, &o->num) == 0) return cerr(c, u, "expected expected=N or expected=none");
        return number(c, u, rest, "expected=N", &o->num);
    } else {
        return cerr(c, t, "unknown result %s", quoted(c->p, t->val));
    }
    return 0;
}

/* The expectation after `=>` of a step of kind k; c holds the tokens after the arrow. */
static int expectation(cursor *c, weir__step_kind k, weir__outcome *o) {
    weir__token *first = peek(c), *t = NULL;
    int rc;
    if (first == NULL) return cerr(c, NULL, "missing result after =>");
    switch (k) {
        case WEIR__STEP_READER:
            if ((rc = word(c, "ValueError", &t)) != 0) return rc;
            if (!word_is(t, "ValueError"))
                return cerr(c, first, "`reader` can only expect ValueError");
            o->kind = WEIR__OUT_VALUE_ERROR;
            break;
        case WEIR__STEP_FEED:
            if ((rc = word(c, "AssertionError", &t)) != 0) return rc;
            if (!word_is(t, "AssertionError"))
                return cerr(c, first, "`feed` can only expect AssertionError");
            o->kind = WEIR__OUT_ASSERTION_ERROR;
            break;
        case WEIR__STEP_AT_EOF:
        case WEIR__STEP_PAUSED:
            if ((rc = word(c, "true or false", &t)) != 0) return rc;
            if (word_is(t, "true"))
                o->kind = WEIR__OUT_TRUE;
            else if (word_is(t, "false"))
                o->kind = WEIR__OUT_FALSE;
            else
                return cerr(c, first, "expected true or false");
            break;
        case WEIR__STEP_BUFFERED:
            o->kind = WEIR__OUT_COUNT;
            if ((rc = integer(c, "a byte count", &o->num)) != 0) return rc;
            break;
        case WEIR__STEP_EXCEPTION:
            if ((rc = word(c, "none or error", &t)) != 0) return rc;
            if (word_is(t, "none")) {
                o->kind = WEIR__OUT_EXC_NONE;
            } else if (word_is(t, "error")) {
                o->kind = WEIR__OUT_ERROR;
                if ((rc = keep_string(c, "the error message (a string)", &o->bytes)) != 0)
                    return rc;
            } else {
                return cerr(c, t, "expected none or error \"...\"");
            }
            break;
        default:
            if ((rc = result(c, o)) != 0) return rc;
    }
    return end(c);
}

/* The arguments of a step, after its keyword. */
static int arguments(cursor *c, weir__step *s) {
    weir__token *t = NULL;
    weir_bytes rest;
    int rc;
    switch (s->kind) {
        case WEIR__STEP_READER:
            if ((rc = word(c, "limit=N", &t)) != 0) return rc;
            if (!word_rest(t, "limit=", &rest)) return cerr(c, t, "expected limit=N");
            return number(c, t, rest, "limit=N", &s->n);
        case WEIR__STEP_FEED:
        case WEIR__STEP_FAIL:
            return keep_string(c, "a string", &s->data);
        case WEIR__STEP_READ:
        case WEIR__STEP_READEXACTLY:
            return integer(c, "an integer", &s->n);
        case WEIR__STEP_READUNTIL: {
            t = peek(c);
            if (t != NULL && word_is(t, "()")) return word(c, "()", &t);
            weir_bytes seps[WEIR_SCENARIO_MAX_SEPARATORS];
            size_t n = 0;
            while ((t = peek(c)) != NULL && t->kind == WEIR__TOK_STR) {
                if (n == WEIR_SCENARIO_MAX_SEPARATORS)
                    return cerr(c, t, "too many separators (at most %d)",
                                WEIR_SCENARIO_MAX_SEPARATORS);
                if ((rc = string(c, "a separator", &t)) != 0) return rc;
                seps[n++] = t->val;
            }
            if (n == 0) return cerr(c, t, "readuntil needs a separator string or ()");
            weir_bytes *kept = weir__arena_alloc(&c->p->f->arena, n * sizeof *kept);
            if (kept == NULL) return WEIR_ENOMEM;
            for (size_t i = 0; i < n; i++)
                if ((rc = keep(c->p, seps[i], &kept[i])) != 0) return rc;
            s->seps = kept;
            s->nseps = n;
            return 0;
        }
        default:
            return 0;
    }
}

static int new_scenario(parser *p, cursor *head, const weir__token *kw, weir__token *arrow) {
    weir__token *name = NULL;
    int rc = word(head, "a scenario name", &name);
    if (rc == 0) rc = end(head);
    if (rc != 0) return rc;
    if (arrow != NULL) return cerr(head, arrow, "scenario takes no result");
    weir_scenario_file *f = p->f;
    if (f->count == WEIR_SCENARIO_MAX_SCENARIOS)
        return cerr(head, kw, "too many scenarios in one file (at most %d)",
                    WEIR_SCENARIO_MAX_SCENARIOS);
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        weir__scenario *sc = realloc(f->scenarios, cap * sizeof *sc);
        if (sc == NULL) return WEIR_ENOMEM;
        f->scenarios = sc;
        f->cap = cap;
    }
    weir__scenario *sc = &f->scenarios[f->count];
    memset(sc, 0, sizeof *sc);
    sc->line = p->lineno;
    if ((rc = keep(p, name->val, &sc->name)) != 0) return rc;
    f->count++;
    p->cur = sc;
    return 0;
}

static int append_step(parser *p, cursor *head, const weir__token *kw, const weir__step *s) {
    weir__scenario *sc = p->cur;
    if (sc->nsteps == WEIR_SCENARIO_MAX_STEPS)
        return cerr(head, kw, "too many steps in one scenario (at most %d)",
                    WEIR_SCENARIO_MAX_STEPS);
    if (sc->nsteps == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 16;
        weir__step *st = realloc(sc->steps, cap * sizeof *st);
        if (st == NULL) return WEIR_ENOMEM;
        sc->steps = st;
        sc->cap = cap;
    }
    sc->steps[sc->nsteps++] = *s;
    return 0;
}

static bool lookup_keyword(const weir__token *kw, weir__step_kind *k) {
    for (int i = WEIR__STEP_READER; i <= WEIR__STEP_AWAIT; i++) {
        if (word_is(kw, weir__step_keyword((weir__step_kind)i))) {
            *k = (weir__step_kind)i;
            return true;
        }
    }
    return false;
}

static int parse_line(parser *p, const uint8_t *line, size_t len) {
    weir__lexed *lx = &p->lx;
    int rc = weir__lex_line(line, len, p->lineno, lx, p->err);
    if (rc != 0 || lx->ntoks == 0) return rc;

    size_t arrow = lx->ntoks;
    for (size_t i = 0; i < lx->ntoks && arrow == lx->ntoks; i++)
        if (word_is(&lx->toks[i], "=>")) arrow = i;
    weir__token *arrow_tok = arrow < lx->ntoks ? &lx->toks[arrow] : NULL;
    cursor head = {p, lx->toks, arrow, 0, arrow_tok != NULL ? arrow_tok->col : lx->eol};

    weir__token *kw = peek(&head);
    if (kw == NULL || kw->kind != WEIR__TOK_WORD)
        return cerr(&head, kw != NULL ? kw : &lx->toks[0], "expected a step keyword");
    head.pos = 1;
    if (word_is(kw, "scenario")) return new_scenario(p, &head, kw, arrow_tok);

    weir__step s;
    memset(&s, 0, sizeof s);
    s.line = p->lineno;
    if (!lookup_keyword(kw, &s.kind)) return cerr(&head, kw, "unknown step %s", quoted(p, kw->val));
    if (p->cur == NULL) return cerr(&head, kw, "step before the first `scenario` line");
    if ((rc = arguments(&head, &s)) != 0 || (rc = end(&head)) != 0) return rc;
    if (s.kind == WEIR__STEP_READER && p->cur->nsteps > 0)
        return cerr(&head, kw, "`reader` must be the first step of a scenario");

    if (arrow_tok != NULL) {
        cursor res = {p, arrow_tok + 1, lx->ntoks - arrow - 1, 0, lx->eol};
        if (res.n == 0) return cerr(&res, NULL, "missing result after =>");
        if (s.kind == WEIR__STEP_EOF || s.kind == WEIR__STEP_FAIL)
            return cerr(&head, arrow_tok, "`%s` takes no result", weir__step_keyword(s.kind));
        if ((rc = expectation(&res, s.kind, &s.expect)) != 0) return rc;
    } else if (s.kind >= WEIR__STEP_AT_EOF) {
        return cerr(&head, NULL, "`%s` needs `=> ...`", weir__step_keyword(s.kind));
    }
    return append_step(p, &head, kw, &s);
}

static int parse_lines(parser *p, const uint8_t *data, size_t len) {
    size_t pos = 0;
    /* Like Python's split("\n"): n newlines make n + 1 lines, the last one maybe empty. */
    for (;;) {
        const uint8_t *nl = len > pos ? memchr(data + pos, '\n', len - pos) : NULL;
        size_t line_len = (nl != NULL ? (size_t)(nl - data) : len) - pos;
        p->lineno++;
        if (line_len > 0 && data[pos + line_len - 1] == '\r') line_len--;
        if (line_len > WEIR_SCENARIO_MAX_LINE)
            return weir__syntax_error(p->err, p->lineno, WEIR_SCENARIO_MAX_LINE,
                                      "line longer than %u bytes", WEIR_SCENARIO_MAX_LINE);
        int rc = parse_line(p, len > 0 ? data + pos : (const uint8_t *)"", line_len);
        if (rc != 0) return rc;
        if (nl == NULL) return 0;
        pos = (size_t)(nl - data) + 1;
    }
}

int weir_scenario_parse(const void *data, size_t len, const char *name, weir_scenario_file **out,
                        weir_scenario_error *err) {
    weir_scenario_error local;
    if (err == NULL) err = &local;
    if (name == NULL) name = "<input>";
    err->file = name;
    err->line = err->col = 0;
    err->message[0] = '\0';
    if (out == NULL) return WEIR_EINVAL;
    *out = NULL;
    if (data == NULL && len > 0) {
        snprintf(err->message, sizeof err->message, "no data");
        return WEIR_EINVAL;
    }
    if (len > WEIR_SCENARIO_MAX_INPUT)
        return weir__syntax_error(err, 1, 0, "file larger than %u bytes", WEIR_SCENARIO_MAX_INPUT);

    parser p;
    memset(&p, 0, sizeof p);
    p.err = err;
    p.f = calloc(1, sizeof *p.f);
    p.lx.toks = malloc(WEIR_SCENARIO_MAX_TOKENS * sizeof *p.lx.toks);
    int rc = WEIR_ENOMEM;
    if (p.f != NULL && p.lx.toks != NULL && (p.f->name = strdup(name)) != NULL)
        rc = parse_lines(&p, data, len);
    if (rc == WEIR_ENOMEM) snprintf(err->message, sizeof err->message, "out of memory");
    free(p.lx.toks);
    weir__buf_free(&p.lx.scratch);
    weir__buf_free(&p.msg);
    if (rc != 0) {
        weir_scenario_file_free(p.f);
        return rc;
    }
    *out = p.f;
    return 0;
}
