/* tests/unit/test_handlers.c - the handler registry, the HTTP head parser, and the bundled
 * handlers run over an in-memory pair (weir_stream_pair), so no network is needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "weir/handlers.h"
#include "weir/task.h"

/* --- the registry ---------------------------------------------------------------------- */

static int my_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r, (void)w, (void)arg;
    return 0;
}

static int my_client(const weir_endpoint *ep, void *arg) {
    (void)ep, (void)arg;
    return 0;
}

static bool listed(const char **names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

static void test_registry(void) {
    weir_handler h = NULL;
    weir_client_fn c = NULL;
    void *arg = (void *)1;
    is_int(weir_handler_lookup("line_echo", &h, &arg), 0, "line_echo is pre-registered");
    ok(h == weir_line_echo && arg == NULL, "as weir_line_echo with a NULL argument");
    is_int(weir_handler_lookup("http_responder", &h, NULL), 0, "http_responder too");
    ok(h == weir_http_responder, "as weir_http_responder");
    is_int(weir_client_lookup("line_client", &c, NULL), 0, "line_client is a client");
    ok(c == weir_line_client, "weir_line_client");
    is_int(weir_client_lookup("http_get", &c, NULL), 0, "http_get too");
    ok(c == weir_http_get, "weir_http_get");
    is_int(weir_handler_lookup("line_client", &h, NULL), WEIR_ENOENT,
           "handlers and clients are separate namespaces");
    is_int(weir_handler_lookup("nope", &h, NULL), WEIR_ENOENT, "unknown name: WEIR_ENOENT");
    is_int(weir_handler_lookup(NULL, &h, NULL), WEIR_EINVAL, "NULL name: WEIR_EINVAL");
    is_int(weir_handler_lookup("line_echo", NULL, NULL), 0, "outputs may be NULL");

    is_int(weir_handler_register(NULL, my_handler, NULL), WEIR_EINVAL, "register: NULL name");
    is_int(weir_handler_register("", my_handler, NULL), WEIR_EINVAL, "register: empty name");
    is_int(weir_handler_register("x", NULL, NULL), WEIR_EINVAL, "register: NULL fn");
    is_int(weir_client_register("x", NULL, NULL), WEIR_EINVAL, "client register: NULL fn");

    int cfg = 42;
    char name[16] = "mine";
    is_int(weir_handler_register(name, my_handler, &cfg), 0, "register a handler");
    strcpy(name, "gone"); /* the registry keeps its own copy of the name */
    is_int(weir_handler_lookup("mine", &h, &arg), 0, "look it up");
    ok(h == my_handler && arg == &cfg, "with its argument");
    is_int(weir_handler_register("mine", weir_line_echo, NULL), 0, "register the name again");
    weir_handler_lookup("mine", &h, &arg);
    ok(h == weir_line_echo && arg == NULL, "the last registration wins");

    is_int(weir_handler_register("line_echo", my_handler, &cfg), 0, "replace a bundled one");
    weir_handler_lookup("line_echo", &h, &arg);
    ok(h == my_handler && arg == &cfg, "the replacement is found");
    const char *names[8];
    size_t n = weir_handler_names(names, 8);
    is_int(n, 3, "three names: mine, line_echo (replaced, once), http_responder");
    ok(listed(names, n, "mine") && listed(names, n, "line_echo") &&
           listed(names, n, "http_responder"),
       "all listed");
    is_int(weir_handler_names(NULL, 0), 3, "counting only");
    is_int(weir_handler_names(names, 1), 3, "a short array gets the first, the count is whole");
    ok(strcmp(names[0], "line_echo") == 0, "newest registration first");
    is_int(weir_handler_unregister("line_echo"), 0, "unregister the replacement");
    weir_handler_lookup("line_echo", &h, &arg);
    ok(h == weir_line_echo && arg == NULL, "the bundled one shows through again");
    is_int(weir_handler_unregister("line_echo"), WEIR_ENOENT, "bundled ones stay");
    is_int(weir_handler_unregister("mine"), 0, "unregister mine");
    is_int(weir_handler_lookup("mine", &h, NULL), WEIR_ENOENT, "it is gone");
    is_int(weir_handler_unregister(NULL), WEIR_EINVAL, "unregister NULL");

    is_int(weir_client_register("my_client", my_client, &cfg), 0, "register a client");
    is_int(weir_client_lookup("my_client", &c, &arg), 0, "look it up");
    ok(c == my_client && arg == &cfg, "with its argument");
    is_int(weir_client_names(NULL, 0), 3, "three clients");
    is_int(weir_client_unregister("my_client"), 0, "unregister it");
    is_int(weir_client_names(NULL, 0), 2, "the two bundled ones left");

    ok(strcmp(weir_handler_strerror(WEIR_EMISMATCH), weir_strerror(WEIR_EMISMATCH)) != 0,
       "WEIR_EMISMATCH has its own text: %s", weir_handler_strerror(WEIR_EMISMATCH));
    ok(strstr(weir_handler_strerror(WEIR_EMALFORMED), "HTTP") != NULL, "WEIR_EMALFORMED: %s",
       weir_handler_strerror(WEIR_EMALFORMED));
    ok(strcmp(weir_handler_strerror(WEIR_ELIMIT), weir_strerror(WEIR_ELIMIT)) == 0,
       "other codes as weir_strerror");
}

/* --- the HTTP head parser -------------------------------------------------------------- */

#define PARSE(lit, h) weir_http_parse_head(lit, sizeof(lit) - 1, h)

static void test_parse_ok(void) {
    weir_http_head h;
    const char req[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
                       "Accept:  */*  \r\nX-Empty:\r\n\r\n";
    is_int(PARSE(req, &h), 0, "a request head");
    ok(!h.response, "is a request");
    is_bytes(h.method, "GET", "method");
    is_bytes(h.target, "/index.html", "target");
    is_int(h.version_minor, 1, "HTTP/1.1");
    is_int(h.nheaders, 3, "three headers");
    is_bytes(h.headers[0].name, "Host", "name as sent");
    is_bytes(h.headers[0].value, "example.com", "value");
    is_bytes(h.headers[1].value, "*/*", "value without surrounding spaces");
    is_bytes(h.headers[2].value, "", "an empty value");
    is_int(h.len, sizeof req - 1, "len covers the blank line");
    const weir_http_header *f = weir_http_find(&h, "hOsT");
    ok(f == &h.headers[0], "weir_http_find is case-insensitive");
    ok(weir_http_find(&h, "Hos") == NULL, "and matches whole names");

    const char resp[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    is_int(PARSE(resp, &h), 0, "a response head");
    ok(h.response, "is a response");
    is_int(h.status, 404, "status");
    is_bytes(h.reason, "Not Found", "reason");
    is_int(h.version_minor, 0, "HTTP/1.0");

    is_int(PARSE("HTTP/1.1 204\r\n\r\n", &h), 0, "no reason, no space");
    is_int(h.status, 204, "status 204");
    is_int(h.reason.len, 0, "empty reason");
    is_int(PARSE("HTTP/1.1 200 \r\n\r\n", &h), 0, "empty reason after a space");
    is_int(PARSE("HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\n\r\n", &h), 0, "obs-text in a value");
    is_int(PARSE("GET / HTTP/1.1\r\nA: b\tc\r\n\r\n", &h), 0, "a tab inside a value");
}

typedef struct bad_case {
    const char *head;
    int rc;
    const char *says; /* in the message */
    size_t at;        /* error_at, or SIZE_MAX to skip */
} bad_case;

static void test_parse_errors(void) {
    static const bad_case cases[] = {
        {"GET / HTTP/1.1\nHost: x\r\n\r\n", WEIR_EMALFORMED, "bare LF", 14},
        {"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", WEIR_EMALFORMED, "bare CR", 23},
        {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", WEIR_EMALFORMED, "folding", 22},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", WEIR_EMALFORMED, "header name", 20},
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", WEIR_EMALFORMED, "header name", 16},
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", WEIR_EMALFORMED, "header name", 23},
        {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", WEIR_EMALFORMED, "control", 20},
        {"GET / HTTP/2.0\r\n\r\n", WEIR_EMALFORMED, "version", 6},
        {"GET / HTTP/1.1 \r\n\r\n", WEIR_EMALFORMED, "version", 6},
        {"GET /\r\n\r\n", WEIR_EMALFORMED, "target", 5},
        {"GET  / HTTP/1.1\r\n\r\n", WEIR_EMALFORMED, "target", 4},
        {"G(T / HTTP/1.1\r\n\r\n", WEIR_EMALFORMED, "method", 1},
        {"\r\n\r\n", WEIR_EMALFORMED, "empty start line", 0},
        {"HTTP/1.1 2x0 OK\r\n\r\n", WEIR_EMALFORMED, "3 digits", 10},
        {"HTTP/1.1 2000 OK\r\n\r\n", WEIR_EMALFORMED, "3 digits", 12},
        {"HTTP/1.1 099 Low\r\n\r\n", WEIR_EMALFORMED, "below 100", 9},
        {"HTTP/1.1\r\n\r\n", WEIR_EMALFORMED, "status line", 0},
        {"HTTP/1.1 200 O\x7fK\r\n\r\n", WEIR_EMALFORMED, "control", 14},
        {"HTTP/1.1 200 OK\r\nA: b\r\n", WEIR_EINCOMPLETE, "blank line", SIZE_MAX},
        {"HTTP/1.1 200 OK\r", WEIR_EINCOMPLETE, "blank line", SIZE_MAX},
        {"", WEIR_EINCOMPLETE, "blank line", SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_case *c = &cases[i];
        weir_http_head h;
        int rc = weir_http_parse_head(c->head, strlen(c->head), &h);
        bool good = rc == c->rc && h.message && strstr(h.message, c->says) &&
                    (c->at == SIZE_MAX || h.error_at == c->at);
        ok(good, "case %zu: %s (at %zu)", i, h.message ? h.message : "(no message)", h.error_at);
        if (!good) printf("#   rc %d, wanted %d, at %zu\n", rc, c->rc, c->at);
    }

    /* One header more than fits. */
    char many[4096];
    size_t n = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= WEIR_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "H%d: v\r\n", i);
    n += (size_t)snprintf(many + n, sizeof many - n, "\r\n");
    weir_http_head h;
    is_int(weir_http_parse_head(many, n, &h), WEIR_EMALFORMED, "too many headers");
    ok(h.message && strstr(h.message, "too many"), "says so: %s", h.message);
    is_int(weir_http_parse_head(NULL, 1, &h), WEIR_EINVAL, "NULL data");
    is_int(weir_http_parse_head("x", 1, NULL), WEIR_EINVAL, "NULL head");
}

static void test_read_head(void) {
    weir_reader *r;
    weir_http_head h;
    weir_reader_new(64, &r);
    const char head[] = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
    weir_reader_feed(r, head, sizeof head - 1);
    is_int(weir_http_read_head(r, &h), 0, "read a buffered head (no task needed)");
    is_int(h.status, 200, "parsed");
    is_int(weir_reader_buffered(r), 4, "the body stays buffered");
    weir_reader_free(r);

    weir_reader_new(64, &r);
    char big[200];
    memset(big, 'x', sizeof big);
    weir_reader_feed(r, big, sizeof big);
    is_int(weir_http_read_head(r, &h), WEIR_ELIMIT, "a head over the limit: WEIR_ELIMIT");
    ok(h.consumed > 0, "consumed %lld", (long long)h.consumed);
    ok(h.message && strstr(h.message, "limit"), "message: %s", h.message);
    is_int(weir_reader_buffered(r), sizeof big, "the bytes stay buffered (LimitOverrunError)");
    weir_reader_free(r);

    weir_reader_new(64, &r);
    weir_reader_feed(r, "HTTP/1.1 200", 12);
    is_int(weir_http_read_head(r, &h), WEIR_EAGAIN, "more needed, outside a task: EAGAIN");
    weir_reader_feed_eof(r);
    is_int(weir_http_read_head(r, &h), WEIR_EINCOMPLETE, "EOF mid-head: WEIR_EINCOMPLETE");
    is_int(h.partial, 12, "partial: the bytes that came");
    ok(h.message && strstr(h.message, "EOF"), "message: %s", h.message);
    weir_reader_free(r);

    weir_reader_new(64, &r);
    weir_reader_feed(r, "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 32);
    is_int(weir_http_read_head(r, &h), WEIR_EMALFORMED, "a malformed head read");
    weir_reader_free(r);
    is_int(weir_http_read_head(NULL, &h), WEIR_EINVAL, "NULL reader");
}

/* --- handlers over an in-memory pair --------------------------------------------------- */

typedef struct pair {
    weir_loop *loop;
    weir_reader *r[2];
    weir_writer *w[2];
} pair;

static pair pair_new(int64_t limit) {
    pair p = {0};
    if (weir_loop_new_virtual(&p.loop)) abort();
    weir_pair_opts o = {.limit = limit};
    if (weir_stream_pair(p.loop, &o, p.r, p.w)) abort();
    return p;
}

static void pair_free(pair *p) {
    weir_writer_free(p->w[0]);
    weir_writer_free(p->w[1]);
    weir_loop_free(p->loop);
}

/* A handler on end 1, as a server would run it. */
typedef struct handler_job {
    weir_handler fn;
    void *arg;
    pair *p;
    int rc;
} handler_job;

static int handler_task(void *arg) {
    handler_job *j = arg;
    j->rc = j->fn(j->p->r[1], j->p->w[1], j->arg);
    return 0;
}

static weir_task *start_handler(handler_job *j) {
    weir_task *t;
    if (weir_spawn(j->p->loop, handler_task, j, NULL, &t)) abort();
    return t;
}

/* The client side on end 0. */
typedef struct exchange_job {
    pair *p;
    weir_line_client_cfg cfg;
    weir_line_client_result res;
    bool eof_after;
    int rc;
} exchange_job;

static int exchange_task(void *arg) {
    exchange_job *j = arg;
    j->rc = weir_line_exchange(j->p->r[0], j->p->w[0], &j->cfg, &j->res);
    weir_write_eof(j->p->w[0]);
    weir_bytes rest;
    j->eof_after = weir_read(j->p->r[0], -1, &rest) == 0 && rest.len == 0;
    return 0;
}

static void run_both(pair *p, weir_task *a, weir_task *b) {
    is_int(weir_loop_run(p->loop), 0, "run");
    weir_join(a, NULL);
    weir_join(b, NULL);
}

static const weir_bytes three[] = {WEIR_LIT("one"), WEIR_LIT(""), WEIR_LIT("three")};

static void test_line_echo(void) {
    pair p = pair_new(0);
    weir_line_echo_stats stats = {0};
    handler_job hj = {.fn = weir_line_echo, .arg = &stats, .p = &p};
    exchange_job ej = {.p = &p, .cfg = {.lines = three, .nlines = 3, .window = 2}};
    weir_task *th = start_handler(&hj);
    weir_task *tc;
    weir_spawn(p.loop, exchange_task, &ej, NULL, &tc);
    run_both(&p, th, tc);
    is_int(ej.rc, 0, "the exchange succeeded");
    is_int(ej.res.sent, 3, "three sent");
    is_int(ej.res.received, 3, "three echoed (an empty line too)");
    ok(ej.eof_after, "the echo server closed after our EOF");
    is_int(hj.rc, 0, "the handler returned 0 at EOF");
    is_int(stats.connections, 1, "stats: one connection");
    is_int(stats.lines, 3, "stats: three lines");
    is_int(stats.bytes, (3 + 1) + (0 + 1) + (5 + 1), "stats: bytes with their newlines");
    ok(weir_writer_is_closing(p.w[1]), "the handler closed its writer");
    pair_free(&p);
}

/* The client side writes raw bytes, then EOF, and keeps what comes back. */
typedef struct raw_job {
    pair *p;
    const char *send;
    size_t send_len;
    bool no_eof;
    char got[512];
    size_t got_len;
    int rc;
} raw_job;

static int raw_task(void *arg) {
    raw_job *j = arg;
    weir_write(j->p->w[0], j->send, j->send_len);
    if (!j->no_eof) weir_write_eof(j->p->w[0]);
    weir_bytes all;
    j->rc = weir_read(j->p->r[0], -1, &all);
    j->got_len = all.len < sizeof j->got ? all.len : sizeof j->got;
    if (j->got_len) memcpy(j->got, all.data, j->got_len);
    return 0;
}

static void raw_exchange(pair *p, handler_job *hj, raw_job *rj) {
    weir_task *th = start_handler(hj);
    weir_task *tc;
    weir_spawn(p->loop, raw_task, rj, NULL, &tc);
    run_both(p, th, tc);
}

static void test_line_echo_edges(void) {
    pair p = pair_new(0);
    handler_job hj = {.fn = weir_line_echo, .p = &p};
    raw_job rj = {.p = &p, .send = "a\nlast", .send_len = 6};
    raw_exchange(&p, &hj, &rj);
    is_mem(rj.got, rj.got_len, "a\nlast", 6, "a last line without newline is echoed too");
    is_int(hj.rc, 0, "then a clean stop");
    pair_free(&p);

    p = pair_new(8);
    hj = (handler_job){.fn = weir_line_echo, .p = &p};
    rj = (raw_job){.p = &p, .send = "ok\nthis line is too long\n", .send_len = 25};
    raw_exchange(&p, &hj, &rj);
    is_int(hj.rc, WEIR_ETOOLONG, "a line over the limit stops the echo with WEIR_ETOOLONG");
    is_mem(rj.got, rj.got_len, "ok\n", 3, "after echoing what came before");
    pair_free(&p);
}

/* An "echo" that gets the second line wrong, or stops early. */
static int bad_echo(weir_reader *r, weir_writer *w, void *arg) {
    int mode = *(int *)arg;
    weir_bytes line;
    for (int i = 0; weir_readline(r, &line) == 0 && line.len > 0; i++) {
        if (mode == 0 && i == 1) {
            weir_write(w, "wrong\n", 6);
        } else if (mode == 1 && i == 1) {
            weir_write(w, "par", 3); /* half a line, then EOF */
            break;
        } else {
            weir_write(w, line.data, line.len);
        }
    }
    weir_writer_close(w);
    return 0;
}

static void test_line_exchange_errors(void) {
    for (int mode = 0; mode < 2; mode++) {
        pair p = pair_new(0);
        handler_job hj = {.fn = bad_echo, .arg = &mode, .p = &p};
        exchange_job ej = {.p = &p, .cfg = {.lines = three, .nlines = 3, .window = 1}};
        weir_task *th = start_handler(&hj);
        weir_task *tc;
        weir_spawn(p.loop, exchange_task, &ej, NULL, &tc);
        run_both(&p, th, tc);
        if (mode == 0) {
            is_int(ej.rc, WEIR_EMISMATCH, "a wrong echo: WEIR_EMISMATCH");
            is_int(ej.res.mismatch, 1, "at line 1");
        } else {
            is_int(ej.rc, WEIR_EINCOMPLETE, "EOF in the middle of an echo: WEIR_EINCOMPLETE");
        }
        is_int(ej.res.received, 1, "one line came back right");
        is_int(ej.res.error, ej.rc, "the result carries the error");
        pair_free(&p);
    }

    pair p = pair_new(0);
    weir_line_client_result res;
    weir_bytes bad[] = {WEIR_LIT("a\nb")};
    weir_line_client_cfg cfg = {.lines = bad, .nlines = 1};
    is_int(weir_line_exchange(p.r[0], p.w[0], &cfg, &res), WEIR_EINVAL,
           "a line holding a newline: WEIR_EINVAL");
    is_int(res.error, WEIR_EINVAL, "reported in the result");
    cfg = (weir_line_client_cfg){.lines = NULL, .nlines = 2};
    is_int(weir_line_exchange(p.r[0], p.w[0], &cfg, NULL), WEIR_EINVAL, "NULL lines");
    is_int(weir_line_exchange(p.r[0], p.w[0], NULL, NULL), WEIR_EINVAL, "NULL cfg");
    cfg = (weir_line_client_cfg){0};
    is_int(weir_line_exchange(p.r[0], p.w[0], &cfg, NULL), 0, "no lines: nothing to do");
    pair_free(&p);
}

static void test_http_responder(void) {
    /* A good request. */
    pair p = pair_new(0);
    weir_http_responder_cfg cfg = {.status = 201, .body = "made", .content_type = "x/y"};
    handler_job hj = {.fn = weir_http_responder, .arg = &cfg, .p = &p};
    const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    raw_job rj = {.p = &p, .send = req, .send_len = sizeof req - 1};
    raw_exchange(&p, &hj, &rj);
    is_int(hj.rc, 0, "the responder answered");
    weir_http_head h;
    int rc = weir_http_parse_head(rj.got, rj.got_len, &h);
    is_int(rc, 0, "with a response head");
    is_int(h.status, 201, "the configured status");
    is_bytes(h.reason, "", "no reason for an unknown status");
    const weir_http_header *f = weir_http_find(&h, "content-length");
    ok(f && f->value.len == 1 && f->value.data[0] == '4', "Content-Length: 4");
    f = weir_http_find(&h, "content-type");
    ok(f && f->value.len == 3 && memcmp(f->value.data, "x/y", 3) == 0, "the content type");
    f = weir_http_find(&h, "connection");
    ok(f && f->value.len == 5 && memcmp(f->value.data, "close", 5) == 0, "Connection: close");
    is_mem(rj.got + h.len, rj.got_len - h.len, "made", 4, "the body, then EOF");
    pair_free(&p);

    /* Malformed: 400. */
    p = pair_new(0);
    hj = (handler_job){.fn = weir_http_responder, .p = &p};
    rj = (raw_job){.p = &p, .send = "GET /\r\n\r\n", .send_len = 9};
    raw_exchange(&p, &hj, &rj);
    is_int(hj.rc, WEIR_EMALFORMED, "a malformed request: the handler returns WEIR_EMALFORMED");
    ok(rj.got_len > 12 && memcmp(rj.got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0,
       "and answers 400 Bad Request");
    pair_free(&p);

    /* Over the limit: 431. */
    p = pair_new(64);
    hj = (handler_job){.fn = weir_http_responder, .p = &p};
    char big[300];
    int n = snprintf(big, sizeof big, "GET /%0200d HTTP/1.1\r\n\r\n", 0);
    rj = (raw_job){.p = &p, .send = big, .send_len = (size_t)n, .no_eof = true};
    raw_exchange(&p, &hj, &rj);
    is_int(hj.rc, WEIR_ELIMIT, "a head over the limit: WEIR_ELIMIT");
    ok(rj.got_len > 12 && memcmp(rj.got, "HTTP/1.1 431 ", 13) == 0, "answered 431");
    pair_free(&p);

    /* EOF mid-head: no answer. */
    p = pair_new(0);
    hj = (handler_job){.fn = weir_http_responder, .p = &p};
    rj = (raw_job){.p = &p, .send = "GET / HTTP/1.1\r\nHo", .send_len = 18};
    raw_exchange(&p, &hj, &rj);
    is_int(hj.rc, WEIR_EINCOMPLETE, "EOF mid-head: WEIR_EINCOMPLETE");
    is_int(rj.got_len, 0, "and no answer, just EOF");
    is_int(rj.rc, 0, "a clean one");
    pair_free(&p);
}

/* Clients outside a task and on a loop without a network fail cleanly. */
static int clients_without_net(void *arg) {
    (void)arg;
    weir_endpoint ep = {.host = "h", .port = 1};
    weir_line_client_result lr;
    weir_line_client_cfg lc = {.result = &lr};
    weir_http_get_result hr;
    weir_http_get_cfg hc = {.result = &hr};
    int a = weir_line_client(&ep, &lc);
    int b = weir_http_get(&ep, &hc);
    int c = weir_http_get(NULL, NULL);
    return a == WEIR_ENOTSUP && lr.error == WEIR_ENOTSUP && b == WEIR_ENOTSUP &&
                   hr.error == WEIR_ENOTSUP && hr.message && c == WEIR_EINVAL
               ? 0
               : -1;
}

static void test_clients_errors(void) {
    weir_endpoint ep = {.host = "h", .port = 1};
    is_int(weir_line_client(&ep, NULL), WEIR_ENOTASK, "line_client outside a task");
    is_int(weir_http_get(&ep, NULL), WEIR_ENOTASK, "http_get outside a task");
    weir_loop *loop;
    weir_loop_new_virtual(&loop);
    weir_task *t;
    weir_spawn(loop, clients_without_net, NULL, NULL, &t);
    weir_loop_run(loop);
    int rc = -99;
    weir_join(t, &rc);
    is_int(rc, 0, "without a network: WEIR_ENOTSUP, reported in the results");
    weir_loop_free(loop);
}

int main(void) {
    test_registry();
    test_parse_ok();
    test_parse_errors();
    test_read_head();
    test_line_echo();
    test_line_echo_edges();
    test_line_exchange_errors();
    test_http_responder();
    test_clients_errors();
    return done_testing();
}
