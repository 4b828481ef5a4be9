/* runner/scenario_internal.h - what the scenario runner's files share (and its unit tests
 * look at). Not installed; the weir__ prefix marks it as internal. */
#ifndef WEIR_RUNNER_SCENARIO_INTERNAL_H
#define WEIR_RUNNER_SCENARIO_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"
#include "weir/reader.h"
#include "weir/scenario.h"

/* ---- buf.c: a growable byte string and an arena ------------------------------------- */

/* Bytes that grow by appending. data is NUL-terminated whenever len > 0 or data != NULL,
 * so text built here can be printed with %s (binary content is formatted first). */
typedef struct weir__buf {
    char *data;
    size_t len;
    size_t cap;
} weir__buf;

/* Room for `extra` more bytes (and the NUL) without moving data again. */
int weir__buf_reserve(weir__buf *b, size_t extra);
int weir__buf_append(weir__buf *b, const void *p, size_t n);
int weir__buf_putc(weir__buf *b, char c);
int weir__buf_printf(weir__buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void weir__buf_reset(weir__buf *b); /* len = 0, keeps the memory */
void weir__buf_free(weir__buf *b);

/* Memory that never moves once handed out and is all freed at once: a parsed file keeps
 * its names, byte strings and separator lists here, so views into it stay valid while the
 * file grows. */
typedef struct weir__arena_block weir__arena_block;
typedef struct weir__arena {
    weir__arena_block *head;
} weir__arena;

void *weir__arena_alloc(weir__arena *a, size_t n); /* 8-aligned; NULL when out of memory */
void weir__arena_free(weir__arena *a);

/* ---- format.c: canonical text ------------------------------------------------------- */

/* "..." with \\ \" \n \r \t \0 escapes and lowercase \xHH for other bytes outside
 * 0x20..0x7e (the reference runner, tests/conformance/pyref.py, prints the same). */
int weir__fmt_bytes(weir__buf *b, weir_bytes v);
/* A word of the file as Python's repr() shows a latin-1 str ('word'), for messages that
 * must read like the reference runner's; cut to `max` bytes of input with "...". */
int weir__fmt_repr(weir__buf *b, weir_bytes v, size_t max);

/* ---- the parsed form ---------------------------------------------------------------- */

typedef enum weir__step_kind {
    WEIR__STEP_READER,
    WEIR__STEP_FEED,
    WEIR__STEP_EOF,
    WEIR__STEP_FAIL,
    WEIR__STEP_READ,
    WEIR__STEP_READLINE,
    WEIR__STEP_READEXACTLY,
    WEIR__STEP_READUNTIL,
    WEIR__STEP_AT_EOF,
    WEIR__STEP_BUFFERED,
    WEIR__STEP_PAUSED,
    WEIR__STEP_EXCEPTION,
    WEIR__STEP_AWAIT,
    /* network scenarios (docs/scenarios.md, "Network scenarios"): declarations */
    WEIR__STEP_HOST,
    WEIR__STEP_LINK,
    WEIR__STEP_FAULT,
    WEIR__STEP_SERVER,
    WEIR__STEP_PEER,
    WEIR__STEP_RUN,
    /* a peer's actions ("NAME: ..."); a peer also has read, readline, readexactly,
     * readuntil, eof (write_eof), at_eof and buffered */
    WEIR__STEP_CONNECT,
    WEIR__STEP_ACCEPT,
    WEIR__STEP_SEND,
    WEIR__STEP_WRITE,
    WEIR__STEP_DRAIN,
    WEIR__STEP_SLEEP,
    WEIR__STEP_EXPECT, /* expect BYTES | expect eof | expect reset */
    WEIR__STEP_CLOSE,
    WEIR__STEP_ABORT,
} weir__step_kind;

/* The keyword of a step kind ("readexactly"). */
const char *weir__step_keyword(weir__step_kind k);
/* Whether the step starts a read (read, readline, readexactly, readuntil). */
bool weir__step_is_read(weir__step_kind k);

/* What a step expects or what it produced, in the language's terms. */
typedef enum weir__out_kind {
    WEIR__OUT_NONE = 0,        /* no `=>`; for a reader/feed step: success */
    WEIR__OUT_BYTES,           /* "..." */
    WEIR__OUT_PENDING,         /* pending */
    WEIR__OUT_INCOMPLETE,      /* IncompleteReadError partial=BYTES expected=N|none */
    WEIR__OUT_LIMIT,           /* LimitOverrunError consumed=N */
    WEIR__OUT_VALUE_ERROR,     /* ValueError */
    WEIR__OUT_RUNTIME_ERROR,   /* RuntimeError */
    WEIR__OUT_ERROR,           /* error BYTES (from `fail`) */
    WEIR__OUT_ASSERTION_ERROR, /* AssertionError (feed after eof) */
    WEIR__OUT_TRUE,            /* true */
    WEIR__OUT_FALSE,           /* false */
    WEIR__OUT_COUNT,           /* N (buffered) */
    WEIR__OUT_EXC_NONE,        /* none (exception getter) */
    WEIR__OUT_UNEXPECTED,      /* run time only: a code the language has no name for */
    /* network scenarios only */
    WEIR__OUT_EOF,         /* eof: a read found the end of the stream */
    WEIR__OUT_RESET,       /* ConnectionResetError */
    WEIR__OUT_REFUSED,     /* ConnectionRefusedError */
    WEIR__OUT_BROKEN_PIPE, /* BrokenPipeError */
    WEIR__OUT_TIMEOUT,     /* TimeoutError: the step's `within` deadline passed */
    WEIR__OUT_OK,          /* ok: a program under test returned 0 */
    WEIR__OUT_CODE,        /* WEIR_E...: an error code by its name (num) */
} weir__out_kind;

typedef struct weir__outcome {
    weir__out_kind kind;
    weir_bytes bytes; /* BYTES; INCOMPLETE: partial; ERROR: the message */
    int64_t num;      /* INCOMPLETE: expected; LIMIT: consumed; COUNT; UNEXPECTED: the code */
    bool none;        /* INCOMPLETE: expected=none */
    bool any;         /* INCOMPLETE, LIMIT written without details: any of that kind */
} weir__outcome;

/* Equal as the language compares them (the same canonical text). */
bool weir__outcome_eq(const weir__outcome *a, const weir__outcome *b);
/* Canonical text: "pending", "LimitOverrunError consumed=3", "\"ab\"", ...; NONE is
 * "success". */
int weir__fmt_outcome(weir__buf *b, const weir__outcome *o);
/* codes.c: error codes by name ("WEIR_ECONNRESET", and the bundled handlers' own such as
 * "WEIR_EMISMATCH"). The name of a code (weir_errname's "WEIR_E?" for one without), and a
 * name's code: true and *code, or false. */
const char *weir__code_name(int code);
bool weir__code_by_name(weir_bytes name, int *code);
/* A duration as the language writes it: "0", "5ms", "1500us", "7ns" (the largest unit
 * that divides it). */
int weir__fmt_duration(weir__buf *b, int64_t ns);

/* A value of a network declaration: fixed (lo == hi) or a range drawn per seed. */
typedef struct weir__range {
    bool set;
    int64_t lo, hi;
} weir__range;

/* KEY=VALUE handed to a handler. */
typedef struct weir__arg {
    weir_bytes key, value; /* NUL-terminated */
} weir__arg;

/* What a network declaration says (host, link, fault, server, peer, run). */
typedef struct weir__decl {
    weir_bytes name;     /* host, peer: the name */
    weir_bytes addrs;    /* host: "ADDR,ADDR", or empty */
    weir_bytes from, to; /* link, fault: host names or "*" */
    bool both_ways;      /* link A <-> B */
    /* link */
    weir__range latency, jitter, bandwidth, segment, window, connect_delay;
    /* fault */
    int fault;    /* a weir_sim_fault_kind */
    int64_t port; /* fault: 0 = any; server, peer: the port */
    weir__range at, after, nth, duration, bytes;
    weir_bytes pattern;
    bool has_pattern;
    double p; /* 0 = off */
    /* server, peer, run */
    weir_bytes host;    /* where it runs */
    weir_bytes handler; /* server, run */
    const weir__arg *args;
    size_t nargs;
    bool listen;       /* peer: listens (else connects) */
    weir_bytes target; /* peer connect: the name or address it connects to */
    size_t nsteps;     /* peer: its steps */
} weir__decl;

typedef struct weir__step {
    weir__step_kind kind;
    int line;
    int64_t n;              /* reader: limit; read, readexactly: n; sleep: ns */
    weir_bytes data;        /* feed, fail, send, write, expect: the bytes */
    const weir_bytes *seps; /* readuntil: nseps separators (0: the empty tuple) */
    size_t nseps;
    weir__outcome expect; /* kind NONE when the line has no `=>` */
    /* network scenarios */
    int peer;        /* a peer's step: the peer's index; -1 otherwise */
    uint64_t repeat; /* send, write, expect: data repeated this many times */
    bool has_at, has_within, has_after;
    int64_t at, within, after; /* ns: start at; complete within / no sooner than */
    const weir__decl *decl;    /* declarations */
    const weir__arg *checks;   /* run: KEY=N checks of the client's result after `=> RESULT` */
    size_t nchecks;
    weir_bytes text; /* a network step's canonical text, without `=> ...` */
} weir__step;

/* Perform a read step (read, readline, readexactly, readuntil) on r: what reader and network
 * scenarios both do. One separator is asyncio's plain-bytes form, several the tuple form. */
int weir__step_read(weir_reader *r, const weir__step *s, weir_bytes *v);

/* The step as the file would canonically spell it, without its expectation
 * ("readuntil \"\\r\\n\" \"\\n\""). */
int weir__fmt_step(weir__buf *b, const weir__step *s);

typedef struct weir__scenario {
    weir_bytes name; /* NUL-terminated in the arena */
    int line;
    weir__step *steps;
    size_t nsteps;
    size_t cap;
    bool network; /* it declares hosts: it runs on a simulator */
    /* network: indices into steps of the host and peer declarations, for looking names up */
    size_t *hosts, nhosts, cap_hosts;
    size_t *peers, npeers, cap_peers;
    size_t nactors; /* servers, peers and runs */
} weir__scenario;

struct weir_scenario_file {
    char *name;
    weir__scenario *scenarios;
    size_t count;
    size_t cap;
    weir__arena arena;
};

/* ---- lex.c: one line into tokens ---------------------------------------------------- */

typedef enum weir__tok_kind { WEIR__TOK_WORD, WEIR__TOK_STR } weir__tok_kind;

typedef struct weir__token {
    weir__tok_kind kind;
    size_t col;     /* 0-based byte offset of its first byte in the line */
    size_t end;     /* 0-based offset just after it */
    bool glued;     /* no blank between it and the token before */
    weir_bytes val; /* WORD: the bytes in the line; STR: the decoded bytes (in `scratch`) */
} weir__token;

typedef struct weir__lexed {
    weir__token *toks; /* room for WEIR_SCENARIO_MAX_TOKENS */
    size_t ntoks;
    size_t eol;        /* where the step text ends: a comment's '#' or the line's length */
    weir__buf scratch; /* decoded strings of the current line */
} weir__lexed;

/* Split line number `lineno` (without its "\n" and trailing "\r") into words and strings,
 * stopping at a comment. 0; WEIR_EINVAL with *err filled; or WEIR_ENOMEM. */
int weir__lex_line(const uint8_t *line, size_t len, int lineno, weir__lexed *lx,
                   weir_scenario_error *err);

/* Fill err (if not NULL) with a 1-based position and a message. Returns WEIR_EINVAL. */
int weir__syntax_error(weir_scenario_error *err, int line, size_t col0, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
