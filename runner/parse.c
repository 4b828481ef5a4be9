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

#include "runner/parse_internal.h"
#include "weir/error.h"

/* The number in `digits`, part of token t, or an error pointing at t. */
static int number(weir__cursor *c, const weir__token *t, weir_bytes digits, const char *what,
                  int64_t *out) {
    int r = weir__to_int64(digits, out);
    if (r == 1) return 0;
    if (r < 0) return weir__cerr(c, t, "number does not fit in 64 bits (%s)", what);
    return weir__cerr(c, t, "expected %s", what);
}

static int keep_string(weir__cursor *c, const char *what, weir_bytes *out) {
    weir__token *t = NULL;
    int rc = weir__string(c, what, &t);
    return rc ? rc : weir__keep(c->p, t->val, out);
}

/* RESULT := BYTES | pending | IncompleteReadError partial=BYTES expected=N|none
 *         | LimitOverrunError consumed=N | ValueError | RuntimeError | error BYTES
 * and in network scenarios (not pending) also
 *         | eof | ConnectionResetError | ConnectionRefusedError | BrokenPipeError
 *         | TimeoutError | ok */
static const struct {
    const char *word;
    weir__out_kind kind;
} net_results[] = {
    {"eof", WEIR__OUT_EOF},
    {"ConnectionResetError", WEIR__OUT_RESET},
    {"ConnectionRefusedError", WEIR__OUT_REFUSED},
    {"BrokenPipeError", WEIR__OUT_BROKEN_PIPE},
    {"TimeoutError", WEIR__OUT_TIMEOUT},
    {"ok", WEIR__OUT_OK},
};

/* In a network scenario IncompleteReadError and LimitOverrunError may come without their
 * details, meaning any error of that kind (what a program under test returns has none). */
static bool bare_form(weir__cursor *c, bool limit) {
    weir__token *u = weir__peek(c);
    if (u == NULL || u->kind != WEIR__TOK_WORD) return true;
    /* partial="..." starts the details; a run's check partial=N does not. */
    if (!limit) return !weir__word_is(u, "partial=");
    return u->val.len < 9 || memcmp(u->val.data, "consumed=", 9) != 0;
}

int weir__result(weir__cursor *c, weir__outcome *o, bool net) {
    weir__token *t = NULL, *u = NULL;
    weir_bytes rest;
    int rc = weir__next(c, "a result", &t);
    if (rc == 0) rc = weir__separated(c, t);
    if (rc != 0) return rc;
    if (t->kind == WEIR__TOK_STR) {
        o->kind = WEIR__OUT_BYTES;
        return weir__keep(c->p, t->val, &o->bytes);
    }
    for (size_t i = 0; net && i < sizeof net_results / sizeof net_results[0]; i++) {
        if (weir__word_is(t, net_results[i].word)) {
            o->kind = net_results[i].kind;
            return 0;
        }
    }
    if (net && weir__word_rest(t, "WEIR_E", &rest)) {
        int code = 0;
        if (!weir__code_by_name(t->val, &code))
            return weir__cerr(c, t, "unknown error code %s", weir__quoted(c->p, t->val));
        o->kind = WEIR__OUT_CODE;
        o->num = code;
        return 0;
    }
    if (net && (weir__word_is(t, "IncompleteReadError") || weir__word_is(t, "LimitOverrunError")) &&
        bare_form(c, weir__word_is(t, "LimitOverrunError"))) {
        o->kind = weir__word_is(t, "LimitOverrunError") ? WEIR__OUT_LIMIT : WEIR__OUT_INCOMPLETE;
        o->any = true;
        return 0;
    }
    if (weir__word_is(t, "pending") && net)
        return weir__cerr(c, t,
                          "a network step always completes; to check that nothing "
                          "arrives, expect TimeoutError within a time");
    if (weir__word_is(t, "pending"))
        o->kind = WEIR__OUT_PENDING;
    else if (weir__word_is(t, "ValueError"))
        o->kind = WEIR__OUT_VALUE_ERROR;
    else if (weir__word_is(t, "RuntimeError"))
        o->kind = WEIR__OUT_RUNTIME_ERROR;
    else if (weir__word_is(t, "error")) {
        o->kind = WEIR__OUT_ERROR;
        return keep_string(c, "the error message (a string)", &o->bytes);
    } else if (weir__word_is(t, "LimitOverrunError")) {
        o->kind = WEIR__OUT_LIMIT;
        if ((rc = weir__word(c, "consumed=N", &u)) != 0) return rc;
        if (!weir__word_rest(u, "consumed=", &rest)) return weir__cerr(c, u, "expected consumed=N");
        return number(c, u, rest, "consumed=N", &o->num);
    } else if (weir__word_is(t, "IncompleteReadError")) {
        o->kind = WEIR__OUT_INCOMPLETE;
        if ((rc = weir__word(c, "partial=\"...\"", &u)) != 0) return rc;
        if (!weir__word_is(u, "partial=")) return weir__cerr(c, u, "expected partial=\"...\"");
        if ((rc = weir__next(c, "partial=\"...\"", &u)) != 0) return rc;
        if (u->kind != WEIR__TOK_STR || !u->glued)
            return weir__cerr(c, u, "expected a string right after partial=");
        if ((rc = weir__keep(c->p, u->val, &o->bytes)) != 0) return rc;
        if ((rc = weir__word(c, "expected=N or expected=none", &u)) != 0) return rc;
        if (!weir__word_rest(u, "expected=", &rest))
            return weir__cerr(c, u, "expected expected=N or expected=none");
        if (rest.len == 4 && memcmp(rest.data, "none", 4) == 0) {
            o->none = true;
            return 0;
        }
        if (weir__to_int64(rest, &o->num) == 0)
            return weir__cerr(c, u, "expected expected=N or expected=none");
        return number(c, u, rest, "expected=N", &o->num);
    } else {
        return weir__cerr(c, t, "unknown result %s", weir__quoted(c->p, t->val));
    }
    return 0;
}

int weir__getter_result(weir__cursor *c, weir__step_kind k, weir__outcome *o) {
    weir__token *first = weir__peek(c), *t = NULL;
    int rc;
    if (first == NULL) return weir__cerr(c, NULL, "missing result after =>");
    switch (k) {
        case WEIR__STEP_AT_EOF:
        case WEIR__STEP_PAUSED:
            if ((rc = weir__word(c, "true or false", &t)) != 0) return rc;
            if (weir__word_is(t, "true"))
                o->kind = WEIR__OUT_TRUE;
            else if (weir__word_is(t, "false"))
                o->kind = WEIR__OUT_FALSE;
            else
                return weir__cerr(c, first, "expected true or false");
            break;
        case WEIR__STEP_BUFFERED:
            o->kind = WEIR__OUT_COUNT;
            if ((rc = weir__integer(c, "a byte count", &o->num)) != 0) return rc;
            break;
        case WEIR__STEP_EXCEPTION:
            if ((rc = weir__word(c, "none or error", &t)) != 0) return rc;
            if (weir__word_is(t, "none")) {
                o->kind = WEIR__OUT_EXC_NONE;
            } else if (weir__word_is(t, "error")) {
                o->kind = WEIR__OUT_ERROR;
                if ((rc = keep_string(c, "the error message (a string)", &o->bytes)) != 0)
                    return rc;
            } else {
                return weir__cerr(c, t, "expected none or error \"...\"");
            }
            break;
        default:
            return weir__cerr(c, first, "`%s` is not a getter", weir__step_keyword(k));
    }
    return 0;
}

/* The expectation after `=>` of a step of kind k; c holds the tokens after the arrow. */
static int expectation(weir__cursor *c, weir__step_kind k, weir__outcome *o) {
    weir__token *first = weir__peek(c), *t = NULL;
    int rc;
    if (first == NULL) return weir__cerr(c, NULL, "missing result after =>");
    switch (k) {
        case WEIR__STEP_READER:
            if ((rc = weir__word(c, "ValueError", &t)) != 0) return rc;
            if (!weir__word_is(t, "ValueError"))
                return weir__cerr(c, first, "`reader` can only expect ValueError");
            o->kind = WEIR__OUT_VALUE_ERROR;
            break;
        case WEIR__STEP_FEED:
            if ((rc = weir__word(c, "AssertionError", &t)) != 0) return rc;
            if (!weir__word_is(t, "AssertionError"))
                return weir__cerr(c, first, "`feed` can only expect AssertionError");
            o->kind = WEIR__OUT_ASSERTION_ERROR;
            break;
        case WEIR__STEP_AT_EOF:
        case WEIR__STEP_PAUSED:
        case WEIR__STEP_BUFFERED:
        case WEIR__STEP_EXCEPTION:
            if ((rc = weir__getter_result(c, k, o)) != 0) return rc;
            break;
        default:
            if ((rc = weir__result(c, o, false)) != 0) return rc;
    }
    return weir__end(c);
}

int weir__read_arguments(weir__cursor *c, weir__step *s) {
    weir__token *t = NULL;
    int rc;
    switch (s->kind) {
        case WEIR__STEP_READ:
        case WEIR__STEP_READEXACTLY:
            return weir__integer(c, "an integer", &s->n);
        case WEIR__STEP_READUNTIL: {
            t = weir__peek(c);
            if (t != NULL && weir__word_is(t, "()")) return weir__word(c, "()", &t);
            weir_bytes seps[WEIR_SCENARIO_MAX_SEPARATORS];
            size_t n = 0;
            while ((t = weir__peek(c)) != NULL && t->kind == WEIR__TOK_STR) {
                if (n == WEIR_SCENARIO_MAX_SEPARATORS)
                    return weir__cerr(c, t, "too many separators (at most %d)",
                                      WEIR_SCENARIO_MAX_SEPARATORS);
                if ((rc = weir__string(c, "a separator", &t)) != 0) return rc;
                seps[n++] = t->val;
            }
            if (n == 0) return weir__cerr(c, t, "readuntil needs a separator string or ()");
            weir_bytes *kept = weir__arena_alloc(&c->p->f->arena, n * sizeof *kept);
            if (kept == NULL) return WEIR_ENOMEM;
            for (size_t i = 0; i < n; i++)
                if ((rc = weir__keep(c->p, seps[i], &kept[i])) != 0) return rc;
            s->seps = kept;
            s->nseps = n;
            return 0;
        }
        default:
            return 0;
    }
}

/* The arguments of a step, after its keyword. */
static int arguments(weir__cursor *c, weir__step *s) {
    weir__token *t = NULL;
    weir_bytes rest;
    int rc;
    switch (s->kind) {
        case WEIR__STEP_READER:
            if ((rc = weir__word(c, "limit=N", &t)) != 0) return rc;
            if (!weir__word_rest(t, "limit=", &rest)) return weir__cerr(c, t, "expected limit=N");
            return number(c, t, rest, "limit=N", &s->n);
        case WEIR__STEP_FEED:
        case WEIR__STEP_FAIL:
            return keep_string(c, "a string", &s->data);
        default:
            return weir__read_arguments(c, s);
    }
}

static int new_scenario(weir__parser *p, weir__cursor *head, const weir__token *kw,
                        weir__token *arrow) {
    weir__token *name = NULL;
    int rc = weir__word(head, "a scenario name", &name);
    if (rc == 0) rc = weir__end(head);
    if (rc != 0) return rc;
    if (arrow != NULL) return weir__cerr(head, arrow, "scenario takes no result");
    weir_scenario_file *f = p->f;
    if (f->count == WEIR_SCENARIO_MAX_SCENARIOS)
        return weir__cerr(head, kw, "too many scenarios in one file (at most %d)",
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
    if ((rc = weir__keep(p, name->val, &sc->name)) != 0) return rc;
    f->count++;
    p->cur = sc;
    return 0;
}

int weir__append_step(weir__parser *p, weir__cursor *head, const weir__token *kw,
                      const weir__step *s) {
    weir__scenario *sc = p->cur;
    if (sc->nsteps == WEIR_SCENARIO_MAX_STEPS)
        return weir__cerr(head, kw, "too many steps in one scenario (at most %d)",
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
        if (weir__word_is(kw, weir__step_keyword((weir__step_kind)i))) {
            *k = (weir__step_kind)i;
            return true;
        }
    }
    return false;
}

static int parse_line(weir__parser *p, const uint8_t *line, size_t len) {
    weir__lexed *lx = &p->lx;
    int rc = weir__lex_line(line, len, p->lineno, lx, p->err);
    if (rc != 0 || lx->ntoks == 0) return rc;

    size_t arrow = lx->ntoks;
    for (size_t i = 0; i < lx->ntoks && arrow == lx->ntoks; i++)
        if (weir__word_is(&lx->toks[i], "=>")) arrow = i;
    weir__token *arrow_tok = arrow < lx->ntoks ? &lx->toks[arrow] : NULL;
    weir__cursor head = {p, lx->toks, arrow, 0, arrow_tok != NULL ? arrow_tok->col : lx->eol};

    weir__token *kw = weir__peek(&head);
    if (kw == NULL || kw->kind != WEIR__TOK_WORD)
        return weir__cerr(&head, kw != NULL ? kw : &lx->toks[0], "expected a step keyword");
    head.pos = 1;
    if (weir__word_is(kw, "scenario")) return new_scenario(p, &head, kw, arrow_tok);
    /* Network scenarios have a grammar of their own (net_parse.c). */
    if (weir__net_keyword(kw) || (p->cur != NULL && p->cur->network))
        return weir__parse_net_line(p, &head, kw, arrow_tok);

    weir__step s;
    memset(&s, 0, sizeof s);
    s.line = p->lineno;
    s.peer = -1;
    if (!lookup_keyword(kw, &s.kind))
        return weir__cerr(&head, kw, "unknown step %s", weir__quoted(p, kw->val));
    if (p->cur == NULL) return weir__cerr(&head, kw, "step before the first `scenario` line");
    if ((rc = arguments(&head, &s)) != 0 || (rc = weir__end(&head)) != 0) return rc;
    if (s.kind == WEIR__STEP_READER && p->cur->nsteps > 0)
        return weir__cerr(&head, kw, "`reader` must be the first step of a scenario");

    if (arrow_tok != NULL) {
        weir__cursor res = {p, arrow_tok + 1, lx->ntoks - arrow - 1, 0, lx->eol};
        if (res.n == 0) return weir__cerr(&res, NULL, "missing result after =>");
        if (s.kind == WEIR__STEP_EOF || s.kind == WEIR__STEP_FAIL)
            return weir__cerr(&head, arrow_tok, "`%s` takes no result", weir__step_keyword(s.kind));
        if ((rc = expectation(&res, s.kind, &s.expect)) != 0) return rc;
    } else if (s.kind >= WEIR__STEP_AT_EOF) {
        return weir__cerr(&head, NULL, "`%s` needs `=> ...`", weir__step_keyword(s.kind));
    }
    return weir__append_step(p, &head, kw, &s);
}

static int parse_lines(weir__parser *p, const uint8_t *data, size_t len) {
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

    weir__parser p;
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
    weir__buf_free(&p.text);
    if (rc != 0) {
        weir_scenario_file_free(p.f);
        return rc;
    }
    *out = p.f;
    return 0;
}
