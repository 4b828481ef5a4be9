/* runner/parse_internal.h - what the parser's files share: the parser's state and the
 * cursor helpers that take a line's tokens apart (parse.c: reader steps and the file's
 * structure; net_parse.c: network scenarios). */
#ifndef WEIR_RUNNER_PARSE_INTERNAL_H
#define WEIR_RUNNER_PARSE_INTERNAL_H

#include "runner/scenario_internal.h"

typedef struct weir__parser {
    weir_scenario_file *f;
    weir_scenario_error *err;
    int lineno;
    weir__lexed lx;
    weir__scenario *cur; /* the scenario steps go to, NULL before the first one */
    weir__buf msg;       /* scratch for quoting words in messages */
    weir__buf text;      /* scratch for a network step's canonical text */
} weir__parser;

/* A cursor over some of the line's tokens: the step before `=>`, or the result after it. */
typedef struct weir__cursor {
    weir__parser *p;
    weir__token *toks;
    size_t n;
    size_t pos;
    size_t eol; /* where to point when the tokens run out */
} weir__cursor;

/* Report an error at token t (NULL: where the tokens run out). Returns WEIR_EINVAL. */
int weir__cerr(weir__cursor *c, const weir__token *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A word as Python's repr() shows it, for messages (valid until the next call). */
const char *weir__quoted(weir__parser *p, weir_bytes w);
bool weir__word_is(const weir__token *t, const char *s);
/* If the word starts with `prefix`, the rest of it. */
bool weir__word_rest(const weir__token *t, const char *prefix, weir_bytes *rest);
/* 1 and the value; 0 when w is not an integer; -1 when it is one outside int64_t. */
int weir__to_int64(weir_bytes w, int64_t *out);

weir__token *weir__peek(weir__cursor *c);
/* The next token (any kind), or "expected WHAT" where the tokens run out. */
int weir__next(weir__cursor *c, const char *what, weir__token **out);
/* The next token, which must be a word (or a string) separated from the one before. */
int weir__word(weir__cursor *c, const char *what, weir__token **out);
int weir__string(weir__cursor *c, const char *what, weir__token **out);
int weir__separated(weir__cursor *c, const weir__token *t);
int weir__integer(weir__cursor *c, const char *what, int64_t *out);
/* Nothing may follow. */
int weir__end(weir__cursor *c);
/* A copy in the file's arena (NUL-terminated), so it outlives the line. */
int weir__keep(weir__parser *p, weir_bytes v, weir_bytes *out);
/* RESULT after `=>`; `net` admits the network results (ConnectionResetError, ...) and
 * rejects `pending`, which a network step cannot produce. */
int weir__result(weir__cursor *c, weir__outcome *o, bool net);
/* The result after `=>` of a getter of the reader, k: at_eof or paused (true|false),
 * buffered (N) or exception (none|error BYTES). Reader scenarios have them all, peers
 * at_eof and buffered. */
int weir__getter_result(weir__cursor *c, weir__step_kind k, weir__outcome *o);
/* The arguments of a read step (read N, readexactly N, readuntil SEPS, readline). */
int weir__read_arguments(weir__cursor *c, weir__step *s);

/* net_parse.c: a line of a network scenario, or a line that starts one. Called for every
 * line whose keyword is a network keyword or a word ending in ':' (a peer's step), and for
 * every line of a scenario that is already a network scenario. */
bool weir__net_keyword(const weir__token *kw);
int weir__parse_net_line(weir__parser *p, weir__cursor *head, weir__token *kw, weir__token *arrow);

/* parse.c: append a step to the current scenario. */
int weir__append_step(weir__parser *p, weir__cursor *head, const weir__token *kw,
                      const weir__step *s);

#endif
