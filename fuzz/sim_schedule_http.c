/* fuzz/sim_schedule_http.c - sim_schedule's HTTP modes (the contract is in sim_schedule.c's
 * header comment): http_get against http_responder, and weir_http_read_head against a
 * scripted server that sends a generated head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/sim_schedule.h"

#define PORT 80 /* so http_get's Host header is the bare name */

/* Drawn text from an alphabet. */
static size_t draw_text(sched *w, const char *what, char *out, size_t max, const char *alphabet) {
    size_t n = (size_t)sched_draw(w, what, max + 1), a = strlen(alphabet);
    for (size_t i = 0; i < n; i++) out[i] = alphabet[sched_draw(w, what, a)];
    out[n] = 0;
    return n;
}

/* --- mode 1: http_get -> http_responder --------------------------------------------- */

typedef struct get_run {
    weir_endpoint target;
    weir_http_get_cfg cfg;
} get_run;

static int run_http_get(void *arg) {
    get_run *g = arg;
    return weir_http_get(&g->target, &g->cfg);
}

bool sched_http_responder(sched *w) {
    char path[48] = "/", body[200];
    draw_text(w, "cfg path", path + 1, 40, "abcxyz019/-._~%");
    static const int statuses[] = {200, 404, 500, 299};
    static const char *const reasons[] = {"OK", "Not Found", "", "Odd  Reason\t!"};
    /* One draw per statement: their order is the input format (an initializer list's
     * order of evaluation is unspecified). */
    weir_http_responder_cfg rcfg = {.body = body};
    rcfg.status = statuses[sched_draw(w, "cfg status", 4)];
    rcfg.reason = reasons[sched_draw(w, "cfg reason", 4)];
    size_t body_len = (size_t)sched_draw(w, "cfg body length", sizeof body);
    for (size_t i = 0; i < body_len; i++) body[i] = (char)('a' + i % 26);
    body[body_len] = 0;
    static const int64_t limits[] = {0, 40, 80};
    int64_t client_limit = limits[sched_draw(w, "cfg client limit", 3)];
    int64_t server_limit = limits[sched_draw(w, "cfg server limit", 3)];

    weir_http_get_result res = {0};
    weir_open_opts open = {.limit = client_limit};
    get_run g = {.target = {.host = "server", .port = PORT},
                 .cfg = {.path = path, .open = &open, .result = &res}};
    sched_client c = {.fn = run_http_get, .arg = &g};
    weir_server *srv = NULL;
    weir_server_opts so = {.limit = server_limit};
    if (weir_start_server(weir_sim_loop(w->s), weir_http_responder, &rcfg, "server", PORT, &so,
                          &srv) ||
        weir_sim_spawn(w->s, "client", sched_client_task, &c, NULL, NULL))
        abort();
    int run = weir_sim_run(w->s);
    weir_server_free(srv);

    /* What should come back: the request over the server's limit gets 431 with the head
     * reader's message as its body (and, as those request bytes stay unread, the close
     * may be a reset); the response head over the client's limit is LimitOverrunError. */
    char req[128], head[256];
    int req_len = snprintf(req, sizeof req,
                           "GET %s HTTP/1.1\r\nHost: server\r\n"
                           "Connection: close\r\n\r\n",
                           path);
    bool too_big = server_limit && req_len - 4 > server_limit;
    int status = too_big ? 431 : rcfg.status;
    const char *reason = too_big ? "Request Header Fields Too Large" : rcfg.reason;
    const char *want_body = too_big ? "the head does not end within the reader's limit" : body;
    size_t want_len = strlen(want_body);
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                            status, reason, want_len);
    bool head_over = client_limit && head_len - 4 > client_limit;
    snprintf(w->outcome, sizeof w->outcome, "http_get %s: status %d, head %zu, body %zu (%s)",
             weir_errname(c.rc), res.status, res.head_len, res.body_len,
             res.message ? res.message : "");

    if (!c.done) return sched_fail(w, "http_get did not finish (run: %s)", weir_errname(run));
    if (run == WEIR_ESTALL) return sched_fail(w, "the run hit its step bound: a livelock");
    if (c.rc != res.error)
        return sched_fail(w, "http_get returned %s, reported %s", weir_errname(c.rc),
                          weir_errname(res.error));
    if (c.rc == 0) {
        if (head_over)
            return sched_fail(w, "a %d-byte head passed limit %lld", head_len,
                              (long long)client_limit);
        if (res.status != status || res.nheaders != 3 || res.head_len != (size_t)head_len)
            return sched_fail(w,
                              "http_get got status %d, %zu headers, a %zu-byte head; the "
                              "server sent %d, 3, %d",
                              res.status, res.nheaders, res.head_len, status, head_len);
        if (res.body_len > want_len || (res.body_len < want_len && !w->sc_cut))
            return sched_fail(w, "http_get got a %zu-byte body of %zu", res.body_len, want_len);
        return true;
    }
    if (c.rc == WEIR_ELIMIT) {
        if (!head_over || res.consumed <= client_limit)
            return sched_fail(w,
                              "LimitOverrunError (consumed %lld) for a %d-byte head, limit "
                              "%lld",
                              (long long)res.consumed, head_len, (long long)client_limit);
        return true;
    }
    bool reset_ok =
        too_big && (c.rc == WEIR_ECONNRESET || c.rc == WEIR_EPIPE || c.rc == WEIR_ECONNLOST);
    if (!reset_ok && !sched_error_ok(w, c.rc, 0))
        return sched_fail(w, "http_get failed with %s (%s), which nothing drawn explains",
                          weir_errname(c.rc), res.message ? res.message : "");
    return true;
}

/* --- mode 2: a generated head, read by weir_http_read_head -------------------------- */

#define GEN_MAX_HEADERS (WEIR_HTTP_MAX_HEADERS + 1)

typedef struct field {
    size_t name, name_len, value, value_len; /* offsets into the head */
} field;

typedef struct gen {
    char head[GEN_MAX_HEADERS * 40 + 256];
    size_t len;      /* the head, through its blank line */
    size_t body_len; /* the body follows the head in `head` */
    int minor, status;
    size_t reason, reason_len;
    field fields[GEN_MAX_HEADERS];
    size_t nfields;
    size_t too_many_at; /* the 65th header line's offset, 0 when there are fewer */
} gen;

static void put(gen *g, const char *s, size_t n) {
    memcpy(g->head + g->len, s, n);
    g->len += n;
}

static void generate(sched *w, gen *g) {
    static const char tchar[] = "abcXYZ09!#$%&'*+-.^_`|~";
    static const char vchar[] = "abcXYZ09!\"/:;<=>?@[]{}\x80\xff";
    static const char ows[] = " \t";
    char text[16];
    g->minor = (int)sched_draw(w, "cfg minor", 10);
    g->status = 100 + (int)sched_draw(w, "cfg status", 9) * 100;
    g->status += (int)sched_draw(w, "cfg status", 100);
    g->len = (size_t)snprintf(g->head, sizeof g->head, "HTTP/1.%d %d", g->minor, g->status);
    /* The reason: visible bytes, spaces and tabs; the SP before an empty one is optional. */
    size_t n = draw_text(w, "cfg reason", text, 12, "Ok Fine\tx");
    if (n || sched_draw(w, "cfg reason sp", 2)) put(g, " ", 1);
    g->reason = g->len;
    g->reason_len = n;
    put(g, text, n);
    put(g, "\r\n", 2);
    uint64_t k = sched_draw(w, "cfg headers", 10);
    g->nfields = k < 8 ? (size_t)k : k == 8 ? WEIR_HTTP_MAX_HEADERS : GEN_MAX_HEADERS;
    g->too_many_at = 0;
    for (size_t i = 0; i < g->nfields; i++) {
        field *f = &g->fields[i];
        if (i == WEIR_HTTP_MAX_HEADERS) g->too_many_at = g->len;
        f->name = g->len;
        f->name_len = 1 + draw_text(w, "cfg name", text, 7, tchar);
        put(g, i % 2 ? "N" : "n", 1); /* a name is never empty */
        put(g, text, f->name_len - 1);
        put(g, ":", 1);
        for (uint64_t s = sched_draw(w, "cfg ows", 3); s > 0; s--) put(g, &ows[s % 2], 1);
        /* The value the parser gives: no OWS at either end (it strips them), but inside. */
        f->value = g->len;
        f->value_len = draw_text(w, "cfg value", text, 12, vchar);
        if (f->value_len > 2) text[f->value_len / 2] = ' ';
        put(g, text, f->value_len);
        for (uint64_t s = sched_draw(w, "cfg ows", 3); s > 0; s--) put(g, &ows[s % 2], 1);
        put(g, "\r\n", 2);
    }
    put(g, "\r\n", 2);
    g->body_len = (size_t)sched_draw(w, "cfg body length", 40);
    for (size_t i = 0; i < g->body_len; i++) g->head[g->len + i] = (char)('A' + i % 26);
}

static int scripted_server(weir_reader *r, weir_writer *wr, void *arg) {
    const gen *g = arg;
    (void)r; /* the client sends nothing: nothing is left unread to turn the close into a reset */
    int rc = weir_write(wr, g->head, g->len + g->body_len);
    if (rc == 0) rc = weir_drain(wr);
    weir_writer_close(wr);
    return rc;
}

typedef struct head_run {
    sched *w;
    const gen *g;
    int64_t limit;
    weir_http_head h;
    char body[64];
    size_t body_len;
    int body_rc;
} head_run;

static bool same(const gen *g, size_t off, size_t len, weir_bytes b) {
    return b.len == len && (len == 0 || memcmp(g->head + off, b.data, len) == 0);
}

/* Compare a parsed head with the generated one while its views are valid. */
static void compare(head_run *c) {
    const gen *g = c->g;
    const weir_http_head *h = &c->h;
    if (!h->response || h->len != g->len || h->version_minor != g->minor ||
        h->status != g->status || !same(g, g->reason, g->reason_len, h->reason) ||
        h->nheaders != g->nfields) {
        sched_fail(c->w,
                   "read head: response %d, %zu bytes, 1.%d, status %d, %zu headers; sent "
                   "%zu bytes, 1.%d, status %d, %zu headers",
                   h->response, h->len, h->version_minor, h->status, h->nheaders, g->len, g->minor,
                   g->status, g->nfields);
        return;
    }
    for (size_t i = 0; i < g->nfields; i++) {
        const field *f = &g->fields[i];
        if (!same(g, f->name, f->name_len, h->headers[i].name) ||
            !same(g, f->value, f->value_len, h->headers[i].value)) {
            sched_fail(c->w, "header %zu read differs from the one sent", i);
            return;
        }
    }
}

static int read_head_client(void *arg) {
    head_run *c = arg;
    weir_reader *r;
    weir_writer *wr;
    weir_open_opts o = {.limit = c->limit};
    int rc = weir_open_connection("server", PORT, &o, &r, &wr);
    if (rc) return rc;
    rc = weir_http_read_head(r, &c->h);
    if (rc == 0) {
        compare(c);
        /* The body, up to EOF: a prefix of the one sent. */
        for (;;) {
            weir_bytes b;
            c->body_rc = weir_read(r, 64, &b);
            if (c->body_rc || b.len == 0) break;
            if (c->body_len + b.len <= sizeof c->body) memcpy(c->body + c->body_len, b.data, b.len);
            c->body_len += b.len;
        }
    }
    weir_writer_close(wr);
    (void)weir_wait_closed(wr);
    weir_writer_free(wr);
    return rc;
}

bool sched_http_scripted(sched *w) {
    static gen g; /* big: kept off the task's stack and the fuzzer's */
    generate(w, &g);
    static const int64_t limits[] = {0, 32, 128, 512};
    head_run hr = {.w = w, .g = &g, .limit = limits[sched_draw(w, "cfg client limit", 4)]};
    sched_client c = {.fn = read_head_client, .arg = &hr};
    weir_server *srv = NULL;
    if (weir_start_server(weir_sim_loop(w->s), scripted_server, &g, "server", PORT, NULL, &srv) ||
        weir_sim_spawn(w->s, "client", sched_client_task, &c, NULL, NULL))
        abort();
    int run = weir_sim_run(w->s);
    weir_server_free(srv);

    bool over = hr.limit && (int64_t)g.len - 4 > hr.limit;
    snprintf(w->outcome, sizeof w->outcome, "read head %s: %zu bytes, %zu headers, body %zu (%s)",
             weir_errname(c.rc), g.len, g.nfields, hr.body_len, hr.h.message ? hr.h.message : "");
    if (!c.done)
        return sched_fail(w, "the head reader did not finish (run: %s)", weir_errname(run));
    if (run == WEIR_ESTALL) return sched_fail(w, "the run hit its step bound: a livelock");
    if (w->failure[0]) return false; /* compare() found a difference */
    if (c.rc == 0) {
        if (over || g.too_many_at)
            return sched_fail(w,
                              "a head was read that should have failed (%zu bytes, limit "
                              "%lld, %zu headers)",
                              g.len, (long long)hr.limit, g.nfields);
        if (hr.body_len > g.body_len || memcmp(hr.body, g.head + g.len, hr.body_len) != 0)
            return sched_fail(w, "the body read is not a prefix of the one sent");
        if (hr.body_len < g.body_len && !w->sc_cut)
            return sched_fail(w, "%zu of %zu body bytes, and then %s", hr.body_len, g.body_len,
                              hr.body_rc ? weir_errname(hr.body_rc) : "EOF");
        if (hr.body_rc && !sched_error_ok(w, hr.body_rc, 0))
            return sched_fail(w, "reading the body failed with %s", weir_errname(hr.body_rc));
        return true;
    }
    if (c.rc == WEIR_ELIMIT) {
        if (!over || hr.h.consumed <= hr.limit)
            return sched_fail(w,
                              "LimitOverrunError (consumed %lld) for a %zu-byte head, limit "
                              "%lld",
                              (long long)hr.h.consumed, g.len, (long long)hr.limit);
        return true;
    }
    if (c.rc == WEIR_EMALFORMED) {
        if (!g.too_many_at || over || hr.h.error_at != g.too_many_at)
            return sched_fail(w, "malformed at %zu (%s); the head has %zu headers", hr.h.error_at,
                              hr.h.message ? hr.h.message : "", g.nfields);
        return true;
    }
    if (!sched_error_ok(w, c.rc, 0))
        return sched_fail(w,
                          "weir_http_read_head failed with %s (%s), which nothing drawn "
                          "explains",
                          weir_errname(c.rc), hr.h.message ? hr.h.message : "");
    return true;
}
