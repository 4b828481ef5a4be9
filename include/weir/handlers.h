/* weir/handlers.h - named connection handlers and clients, and the bundled ones.
 *
 * A scenario file names the program under test ("line_echo", "http_get", or your own): the
 * name is looked up here. Register your own from your test binary before running scenarios:
 *
 *     weir_handler_register("my_server", my_handler, &my_config);
 *     weir_client_register("my_client", my_client, NULL);
 *
 * A handler serves one accepted connection (weir_handler, weir/net.h: weir_start_server runs
 * one per connection in its own task). A client is a task body that connects to a target
 * itself, does its exchange and returns 0 or an error code.
 *
 * Bundled, and pre-registered under these names (with a NULL argument, meaning defaults):
 *   handlers  "line_echo"       weir_line_echo       echo each line back until EOF
 *             "http_responder"  weir_http_responder  read a request head, send a fixed reply
 *   clients   "line_client"     weir_line_client     send lines, check each comes back
 *             "http_get"        weir_http_get        GET a path, read the response head */
#ifndef WEIR_HANDLERS_H
#define WEIR_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"
#include "weir/error.h"
#include "weir/net.h"
#include "weir/reader.h"
#include "weir/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The bundled handlers' protocol errors are WEIR_EMISMATCH and WEIR_EMALFORMED
 * (weir/error.h); weir_handler_strerror() describes every code as weir_strerror() does. */
const char *weir_handler_strerror(int code);

/* --- the registry ------------------------------------------------------------------ */

/* A client: connect to `target` (weir_open_connection, or the Unix twin when target->path
 * is set), talk, return 0 or an error code. Runs inside a task. */
typedef int (*weir_client_fn)(const weir_endpoint *target, void *arg);

/* Register fn under name (copied), with the argument it will be given. A name registered
 * again, bundled ones included, is replaced: the last registration wins. WEIR_EINVAL for a
 * NULL or empty name or a NULL fn, WEIR_ENOMEM. Handlers and clients are separate
 * namespaces. Not thread-safe: register before running loops on several threads. */
int weir_handler_register(const char *name, weir_handler fn, void *arg);
int weir_client_register(const char *name, weir_client_fn fn, void *arg);

/* Look a name up: 0 with *fn and *arg set (either may be NULL), WEIR_ENOENT for an unknown
 * name, WEIR_EINVAL for NULL. */
int weir_handler_lookup(const char *name, weir_handler *fn, void **arg);
int weir_client_lookup(const char *name, weir_client_fn *fn, void **arg);

/* Remove a registration made with *_register (a bundled one shows through again when it was
 * replaced). WEIR_ENOENT when the name was not registered. */
int weir_handler_unregister(const char *name);
int weir_client_unregister(const char *name);

/* The registered names, your own first (newest first), then the bundled ones not replaced:
 * up to n of them into names; returns how many there are. */
size_t weir_handler_names(const char **names, size_t n);
size_t weir_client_names(const char **names, size_t n);

/* --- line echo server ("line_echo") ------------------------------------------------ */

/* Counters a line echo handler adds to, when given one as its argument. */
typedef struct weir_line_echo_stats {
    size_t connections; /* handlers started */
    size_t lines;       /* lines echoed */
    size_t bytes;       /* bytes echoed */
} weir_line_echo_stats;

/* readline, write the line back, drain; until EOF (a last line without "\n" is echoed
 * too); then close. arg: NULL or a weir_line_echo_stats. Returns 0 at EOF, else the error
 * that stopped it (WEIR_ETOOLONG for a line over the reader's limit, WEIR_ECONNRESET...). */
int weir_line_echo(weir_reader *r, weir_writer *w, void *arg);

/* --- line client ("line_client") --------------------------------------------------- */

typedef struct weir_line_client_result {
    size_t sent;     /* lines written */
    size_t received; /* echoes received and matching, in order */
    int error;       /* 0, the error that stopped the exchange, or WEIR_EMISMATCH */
    size_t mismatch; /* WEIR_EMISMATCH: the index of the line whose echo differed */
} weir_line_client_result;

typedef struct weir_line_client_cfg {
    const weir_bytes *lines; /* without "\n" (the client adds it); none may hold one */
    size_t nlines;
    size_t window;                   /* lines sent ahead of their echoes; 0 = all at once */
    const weir_open_opts *open;      /* NULL: defaults */
    weir_line_client_result *result; /* NULL: not reported */
} weir_line_client_cfg;

/* Connect, send the lines, read one echo per line and check it (an echo must be the line
 * plus "\n"; EOF first gives WEIR_EINCOMPLETE), then close and wait for the close.
 * arg: NULL (two lines, "hello" and "world") or a weir_line_client_cfg. Returns 0 or the
 * result's error. With window 0, a large exchange can stall on flow control like any
 * client that writes everything before reading: give a window then. */
int weir_line_client(const weir_endpoint *target, void *arg);
/* The exchange alone, on a connection you opened (it is left open). */
int weir_line_exchange(weir_reader *r, weir_writer *w, const weir_line_client_cfg *cfg,
                       weir_line_client_result *result);

/* --- HTTP/1 heads ------------------------------------------------------------------ */

#define WEIR_HTTP_MAX_HEADERS 64

typedef struct weir_http_header {
    weir_bytes name;  /* as sent (compare case-insensitively: weir_http_find) */
    weir_bytes value; /* without surrounding spaces and tabs */
} weir_http_header;

/* A parsed request or response head. The views point into the parsed bytes: for
 * weir_http_read_head, into the reader's buffer, valid until the next read on it. */
typedef struct weir_http_head {
    bool response;     /* a status line ("HTTP/1.1 200 OK"), not a request line */
    weir_bytes method; /* requests: "GET" */
    weir_bytes target; /* requests: "/index.html" */
    int version_minor; /* HTTP/1.x: x */
    int status;        /* responses: 100..999 */
    weir_bytes reason; /* responses: may be empty */
    weir_http_header headers[WEIR_HTTP_MAX_HEADERS];
    size_t nheaders;
    size_t len; /* bytes of the head, through its blank line */
    /* When the call failed: */
    const char *message; /* what was wrong, constant text */
    size_t error_at;     /* WEIR_EMALFORMED: offset of the offending byte */
    int64_t consumed;    /* WEIR_ELIMIT: LimitOverrunError.consumed */
    size_t partial;      /* WEIR_EINCOMPLETE: bytes that came before EOF */
} weir_http_head;

/* Parse a complete head (start line, header lines, blank line; lines end in CRLF) without
 * blocking or allocating. 0; WEIR_EMALFORMED (bare CR or LF, a bad start line, a bad header
 * name or value, obsolete line folding, more than WEIR_HTTP_MAX_HEADERS); WEIR_EINCOMPLETE
 * when the bytes end before the blank line; WEIR_EINVAL for NULL. */
int weir_http_parse_head(const void *data, size_t len, weir_http_head *out);

/* readuntil("\r\n\r\n"), then parse. Besides the parser's errors: WEIR_ELIMIT when the
 * head does not end within the reader's limit (out->consumed; the bytes stay buffered),
 * WEIR_EINCOMPLETE at EOF before the blank line (out->partial; the bytes are gone), and any
 * read error. */
int weir_http_read_head(weir_reader *r, weir_http_head *out);

/* The first header named `name` (ASCII case-insensitive), or NULL. */
const weir_http_header *weir_http_find(const weir_http_head *h, const char *name);

/* --- HTTP responder ("http_responder") --------------------------------------------- */

typedef struct weir_http_responder_cfg {
    int status;               /* 0 = 200 */
    const char *reason;       /* NULL = the usual one for status ("OK") */
    const char *content_type; /* NULL = "text/plain" */
    const char *body;         /* NULL = "hello\n" */
} weir_http_responder_cfg;

/* Read one request head and answer with the configured response (Content-Length set,
 * "Connection: close"), then close. A head over the reader's limit gets 431, a malformed
 * one 400; EOF before a whole head gets no answer. arg: NULL or a weir_http_responder_cfg.
 * Returns 0 or the error reading the head. */
int weir_http_responder(weir_reader *r, weir_writer *w, void *arg);

/* --- HTTP client ("http_get") ------------------------------------------------------ */

typedef struct weir_http_get_result {
    int error;           /* 0 or what stopped it (as weir_http_read_head reports) */
    const char *message; /* with an error: what was wrong, constant text */
    int status;          /* the response's status, 0 when none was read */
    size_t nheaders;
    size_t head_len;
    size_t body_len;  /* bytes after the head, until EOF */
    int64_t consumed; /* WEIR_ELIMIT: as in weir_http_head */
    size_t partial;   /* WEIR_EINCOMPLETE: as in weir_http_head */
} weir_http_get_result;

typedef struct weir_http_get_cfg {
    const char *path;             /* NULL = "/" */
    const char *host;             /* the Host header; NULL = the target's */
    const weir_open_opts *open;   /* NULL: defaults */
    weir_http_get_result *result; /* NULL: not reported */
} weir_http_get_cfg;

/* Connect, send "GET path HTTP/1.1" with Host and "Connection: close", read the response
 * head and then the body until EOF. arg: NULL or a weir_http_get_cfg. Returns 0 or the
 * result's error; a head that is a request, not a response, is WEIR_EMALFORMED. */
int weir_http_get(const weir_endpoint *target, void *arg);

#ifdef __cplusplus
}
#endif
#endif
