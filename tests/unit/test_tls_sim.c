/* tests/unit/test_tls_sim.c - TLS over the simulator (and over the in-memory pipe): the
 * handshake under latency and 1..7-byte segments, echo through TLS, certificate and name
 * checks, garbage and silence from the peer, start_tls after a plaintext exchange,
 * close_notify, the shutdown timeout, flow control, and the same trace for the same seed.
 * Certificates come from tests/certs.sh, run into a fresh temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tap.h"
#include "tls_util.h"
#include "weir/tls.h"
#include "weir/weir.h"

#define MS WEIR_MS
#define SEC WEIR_SEC

static weir_tls_ctx *server_ctx(const char *name) {
    char c[64], k[64];
    snprintf(c, sizeof c, "%s.pem", name);
    snprintf(k, sizeof k, "%s.key", name);
    weir_tls_server_opts o = {.cert_file = cert(c), .key_file = cert(k)};
    return new_server_ctx(&o);
}

static weir_tls_ctx *client_ctx(const char *ca) {
    weir_tls_client_opts o = {.ca_file = cert(ca)};
    return new_client_ctx(&o);
}

/* --- the simulated network ---------------------------------------------------------- */

static weir_sim *sim_new(uint64_t seed) {
    weir_sim_opts o = {.seed = seed, .keep_trace = true};
    weir_sim *s = NULL;
    if (weir_sim_new(&o, &s)) abort();
    if (weir_sim_add_host(s, "client", "10.0.0.1")) abort();
    if (weir_sim_add_host(s, "server", "10.0.0.2")) abort();
    return s;
}

/* 5 ms each way, 1 ms to connect, and every segment 1..7 bytes long. */
static void slow_link(weir_sim *s) {
    weir_sim_link l = {.latency = 5 * MS, .connect_delay = {MS, MS}, .segment = {1, 7}};
    if (weir_sim_set_link(s, "*", "*", &l)) abort();
}

static void dump_trace(weir_sim *s) {
    size_t n = weir_sim_trace_count(s);
    for (size_t i = n > 30 ? n - 30 : 0; i < n; i++) {
        const char *line = weir_sim_trace_line(s, i);
        if (line) printf("# %s\n", line);
    }
}

static int run(weir_sim *s) {
    int rc = weir_sim_run(s);
    if (rc) {
        printf("# run: %s\n%s", weir_strerror(rc), weir_sim_report(s));
        dump_trace(s);
    }
    return rc;
}

static void spawn_on(weir_sim *s, const char *host, weir_task_fn fn, void *arg) {
    if (weir_sim_spawn(s, host, fn, arg, NULL, NULL)) abort();
}

static weir_server *serve(weir_sim *s, int port, weir_tls_ctx *tls, weir_handler h, void *arg,
                          const weir_server_opts *extra) {
    weir_server_opts o = extra ? *extra : (weir_server_opts){0};
    o.tls = tls;
    weir_server *srv = NULL;
    int rc = weir_start_server(weir_sim_loop(s), h, arg, "server", port, &o, &srv);
    if (rc) {
        printf("# start_server: %s\n", weir_strerror(rc));
        abort();
    }
    return srv;
}

/* --- server handlers ---------------------------------------------------------------- */

typedef struct srv_state {
    int calls;     /* handler runs */
    int lines;     /* lines echoed */
    int end;       /* how the last read ended */
    int closed_rc; /* wait_closed */
    char version[32], cipher[64], peer_cert[128], alpn[32];
    int peer_cert_rc, alpn_rc;
    weir_tls_ctx *upgrade; /* upgrade_handler: the server context for start_tls */
    int upgrade_rc;        /* and what start_tls said */
    char upgrade_err[320];
    int64_t sleep; /* before reading */
    int64_t got;   /* bytes read (sink) */
    uint64_t sum;  /* of what was read */
} srv_state;

/* Echo lines until EOF; note the TLS details first. */
static int echo_handler(weir_reader *r, weir_writer *w, void *arg) {
    srv_state *st = arg;
    st->calls++;
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(st->version, 32, "%s", x.str);
    if (weir_get_extra_info(w, "cipher", &x) == 0) snprintf(st->cipher, 64, "%s", x.str);
    st->peer_cert_rc = weir_get_extra_info(w, "peer_certificate", &x);
    if (st->peer_cert_rc == 0) snprintf(st->peer_cert, 128, "%s", x.str);
    st->alpn_rc = weir_get_extra_info(w, "alpn_protocol", &x);
    if (st->alpn_rc == 0) snprintf(st->alpn, 32, "%.*s", (int)x.len, x.str);
    weir_bytes line;
    int rc;
    while ((rc = weir_reader_next_line(r, &line)) > 0) {
        st->lines++;
        if (weir_write(w, line.data, line.len) || weir_drain(w)) break;
    }
    st->end = rc;
    weir_writer_close(w);
    st->closed_rc = weir_wait_closed(w);
    return 0;
}

/* A plain server that puts TLS on the connection itself (st->upgrade), so that the
 * handshake's result and the server's own error text are seen here; then echo_handler. */
static int upgrade_handler(weir_reader *r, weir_writer *w, void *arg) {
    srv_state *st = arg;
    st->upgrade_rc = weir_start_tls(w, st->upgrade, NULL, 0, 0);
    snprintf(st->upgrade_err, sizeof st->upgrade_err, "%s", weir_tls_last_error());
    if (st->upgrade_rc) return 0;
    return echo_handler(r, w, arg);
}

/* Read everything (after an optional sleep), summing it. */
static int sink_handler(weir_reader *r, weir_writer *w, void *arg) {
    srv_state *st = arg;
    st->calls++;
    if (st->sleep) weir_sleep(st->sleep);
    for (;;) {
        weir_bytes b;
        int rc = weir_read(r, 4096, &b);
        if (rc || b.len == 0) {
            st->end = rc;
            break;
        }
        for (size_t i = 0; i < b.len; i++) st->sum += b.data[i];
        st->got += (int64_t)b.len;
    }
    char reply[64];
    int n = snprintf(reply, sizeof reply, "got %lld\n", (long long)st->got);
    weir_write(w, reply, (size_t)n);
    weir_writer_close(w);
    st->closed_rc = weir_wait_closed(w);
    return 0;
}

/* A plain server that answers with something that is not TLS. */
static int garbage_handler(weir_reader *r, weir_writer *w, void *arg) {
    srv_state *st = arg;
    st->calls++;
    static const char junk[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
    weir_write(w, junk, sizeof junk - 1);
    weir_bytes b;
    while (weir_read(r, 4096, &b) == 0 && b.len > 0) st->got += (int64_t)b.len;
    return 0;
}

/* A plain server that reads and never says a word. */
static int silent_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    srv_state *st = arg;
    st->calls++;
    weir_bytes b;
    while (weir_read(r, 4096, &b) == 0 && b.len > 0) st->got += (int64_t)b.len;
    return 0;
}

/* --- a client ----------------------------------------------------------------------- */

typedef struct cli_state {
    weir_tls_ctx *tls;
    const char *host;
    const char *server_hostname;
    int64_t handshake_timeout, shutdown_timeout;
    int port;
    int rc;        /* open_connection */
    int64_t at;    /* when it returned */
    char err[320]; /* weir_tls_last_error() then */
    char version[32], cipher[64], peer_cert[128], peername[64], alpn[32];
    int alpn_rc;
    bool ssl_object;
    int eof_rc;
    bool can_eof;
    char lines[4][32];
    int read_rc;         /* the first failed readline */
    char tls_error[320]; /* the connection's "tls_error" then */
    int closed_rc;
    int64_t closed_at;
} cli_state;

static int echo_client(void *arg) {
    cli_state *c = arg;
    weir_open_opts o = {.tls = c->tls,
                        .server_hostname = c->server_hostname,
                        .tls_handshake_timeout = c->handshake_timeout,
                        .tls_shutdown_timeout = c->shutdown_timeout};
    weir_reader *r;
    weir_writer *w;
    c->rc = weir_open_connection(c->host ? c->host : "server", c->port ? c->port : 443, &o, &r, &w);
    c->at = weir_now();
    snprintf(c->err, sizeof c->err, "%s", weir_tls_last_error());
    if (c->rc) return 0;
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(c->version, 32, "%s", x.str);
    if (weir_get_extra_info(w, "cipher", &x) == 0) snprintf(c->cipher, 64, "%s", x.str);
    if (weir_get_extra_info(w, "peer_certificate", &x) == 0)
        snprintf(c->peer_cert, 128, "%s", x.str);
    if (weir_get_extra_info(w, "peername", &x) == 0) snprintf(c->peername, 64, "%s", x.str);
    c->alpn_rc = weir_get_extra_info(w, "alpn_protocol", &x);
    if (c->alpn_rc == 0) snprintf(c->alpn, 32, "%.*s", (int)x.len, x.str);
    c->ssl_object =
        weir_get_extra_info(w, "ssl_object", &x) == 0 && x.kind == WEIR_EXTRA_PTR && x.ptr != NULL;
    c->eof_rc = weir_write_eof(w);
    c->can_eof = weir_can_write_eof(w);
    weir_write(w, "hello\n", 6);
    weir_write(w, "world\n", 6);
    weir_drain(w);
    for (int i = 0; i < 2; i++) {
        weir_bytes line;
        int rc = weir_readline(r, &line);
        if (rc == 0) {
            snprintf(c->lines[i], 32, "%.*s", (int)line.len, line.data);
        } else if (!c->read_rc) {
            c->read_rc = rc;
            if (weir_get_extra_info(w, "tls_error", &x) == 0)
                snprintf(c->tls_error, sizeof c->tls_error, "%s", x.str);
        }
    }
    weir_writer_close(w);
    c->closed_rc = weir_wait_closed(w);
    c->closed_at = weir_now();
    weir_writer_free(w);
    return 0;
}

/* --- tests -------------------------------------------------------------------------- */

/* One echo exchange; ctx[2] = {server, client} contexts to use, or NULL for fresh ones. */
static uint64_t echo_run(uint64_t seed, bool report, weir_tls_ctx **ctx) {
    weir_sim *s = sim_new(seed);
    slow_link(s);
    weir_tls_ctx *sctx = ctx ? ctx[0] : server_ctx("server");
    weir_tls_ctx *cctx = ctx ? ctx[1] : client_ctx("ca.pem");
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    int rc = run(s);
    uint64_t hash = weir_sim_trace_hash(s);
    if (report) {
        is_int(rc, 0, "echo: run");
        is_int(c.rc, 0, "echo: open_connection with TLS");
        if (c.rc) printf("# %s\n", c.err);
        ok(strcmp(c.version, "TLSv1.3") == 0, "echo: tls_version %s", c.version);
        ok(strcmp(c.cipher, "TLS_AES_256_GCM_SHA384") == 0, "echo: cipher %s", c.cipher);
        ok(strcmp(c.peer_cert, "CN=localhost") == 0, "echo: peer_certificate %s", c.peer_cert);
        ok(strcmp(c.peername, "10.0.0.2:443") == 0, "echo: peername passes through (%s)",
           c.peername);
        ok(c.ssl_object, "echo: ssl_object");
        is_int(c.eof_rc, WEIR_ENOTSUP, "echo: write_eof is not supported over TLS");
        ok(!c.can_eof, "echo: can_write_eof is false");
        ok(strcmp(c.lines[0], "hello\n") == 0 && strcmp(c.lines[1], "world\n") == 0,
           "echo: both lines came back through 1..7-byte segments");
        is_int(c.closed_rc, 0, "echo: clean close (close_notify both ways)");
        is_int(st.calls, 1, "echo: the handler ran once");
        ok(strcmp(st.version, "TLSv1.3") == 0, "echo: the server sees TLS 1.3 too");
        is_int(st.peer_cert_rc, WEIR_ENOENT, "echo: no client certificate");
        is_int(st.lines, 2, "echo: the server echoed two lines");
        is_int(st.end, 0, "echo: the server saw a clean EOF (the client's close_notify)");
        is_int(st.closed_rc, 0, "echo: the server's close is clean");
    }
    weir_server_free(srv);
    weir_sim_free(s);
    if (!ctx) {
        weir_tls_ctx_free(sctx);
        weir_tls_ctx_free(cctx);
    }
    return hash;
}

static void test_echo(void) { (void)echo_run(1, true, NULL); }

/* The trace hashes every byte on the links: equal hashes mean equal ciphertext. */
static void test_determinism(void) {
    uint64_t a = echo_run(7, false, NULL), b = echo_run(7, false, NULL);
    uint64_t c = echo_run(8, false, NULL);
    ok(a == b, "determinism: the same seed gives the same trace, TLS bytes included (%016llx)",
       (unsigned long long)a);
    ok(a != c, "determinism: another seed gives another trace");
    weir_tls_ctx *ctx[2] = {server_ctx("server"), client_ctx("ca.pem")};
    uint64_t d = echo_run(7, false, ctx), e = echo_run(7, false, ctx);
    ok(d == a && e == a, "determinism: contexts used before make no difference");
    weir_tls_ctx_free(ctx[0]);
    weir_tls_ctx_free(ctx[1]);
}

/* A failed handshake: the client's error, and the server handler never ran. */
static void handshake_fails(const char *what, weir_tls_ctx *sctx, weir_tls_ctx *cctx,
                            const char *expect, const char *server_expect) {
    weir_sim *s = sim_new(3);
    slow_link(s);
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "%s: run", what);
    is_int(c.rc, WEIR_ETLS, "%s: WEIR_ETLS", what);
    ok(contains(c.err, expect), "%s: the error says so: %s", what, c.err);
    is_int(st.calls, 0, "%s: the server's handler never ran", what);
    is_int(weir_server_accepted(srv), 1, "%s: the server accepted the connection", what);
    /* The server failed last: the client's alert told it why. */
    ok(contains(weir_tls_last_error(), server_expect), "%s: the server heard: %s", what,
       weir_tls_last_error());
    weir_server_free(srv);
    weir_sim_free(s);
}

static void test_verification(void) {
    weir_tls_ctx *good = server_ctx("server"), *wrong = server_ctx("wrong");
    weir_tls_ctx *trusting = client_ctx("ca.pem"), *other = client_ctx("other-ca.pem");
    handshake_fails("wrong hostname", wrong, trusting, "hostname mismatch", "alert");
    handshake_fails("untrusted CA", good, other, "unable to get local issuer certificate",
                    "alert unknown ca");
    weir_tls_ctx_free(good);
    weir_tls_ctx_free(wrong);
    weir_tls_ctx_free(trusting);
    weir_tls_ctx_free(other);
}

/* server_hostname overrides the host for SNI and verification; an IP literal is checked
 * against the certificate's IP addresses. */
static void test_names(void) {
    weir_sim *s = sim_new(4);
    weir_tls_ctx *sctx = server_ctx("server"), *cctx = client_ctx("ca.pem");
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state byname = {.tls = cctx, .host = "10.0.0.2", .server_hostname = "server"};
    cli_state mismatch = {.tls = cctx, .server_hostname = "elsewhere.example"};
    cli_state literal = {.tls = cctx, .host = "10.0.0.2"};
    spawn_on(s, "client", echo_client, &byname);
    spawn_on(s, "client", echo_client, &mismatch);
    spawn_on(s, "client", echo_client, &literal);
    is_int(run(s), 0, "names: run");
    is_int(byname.rc, 0, "names: server_hostname verifies a connection made by address");
    is_int(mismatch.rc, WEIR_ETLS, "names: server_hostname that the certificate lacks");
    ok(contains(mismatch.err, "hostname mismatch"), "names: %s", mismatch.err);
    is_int(literal.rc, WEIR_ETLS, "names: 10.0.0.2 is not among the certificate's IPs");
    ok(contains(literal.err, "IP address mismatch"), "names: %s", literal.err);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(cctx);
}

static void test_garbage_from_server(void) {
    weir_sim *s = sim_new(5);
    slow_link(s);
    weir_tls_ctx *cctx = client_ctx("ca.pem");
    srv_state st = {0};
    weir_server *srv = serve(s, 80, NULL, garbage_handler, &st, NULL);
    cli_state c = {.tls = cctx, .port = 80};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "garbage from the server: run");
    is_int(c.rc, WEIR_ETLS, "garbage from the server: WEIR_ETLS");
    ok(contains(c.err, "TLS handshake failed"), "garbage from the server: %s", c.err);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(cctx);
}

/* A client without TLS: sends a string, then reads until EOF or an error. */
typedef struct plain_client {
    const char *send;
    size_t send_len; /* 0: strlen(send) */
    int port;
    int end;
    int64_t got, end_at;
} plain_client;

static int plain_client_task(void *arg) {
    plain_client *p = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("server", p->port ? p->port : 443, NULL, &r, &w)) return 0;
    if (p->send) weir_write(w, p->send, p->send_len ? p->send_len : strlen(p->send));
    for (;;) {
        weir_bytes b;
        int rc = weir_read(r, 4096, &b);
        if (rc || b.len == 0) {
            p->end = rc;
            break;
        }
        p->got += (int64_t)b.len;
    }
    p->end_at = weir_now();
    weir_writer_free(w);
    return 0;
}

/* Garbage to a TLS server. A record that looks like TLS but holds a truncated ClientHello,
 * in one segment: the server takes it all, answers with a decode_error alert and closes, so
 * the client reads the alert, then EOF. An HTTP request in 1..7-byte segments: OpenSSL
 * sends no alert to what is not TLS at all, and the server closes while bytes are still
 * arriving, which TCP turns into a reset (sim/conn.c, as Linux does). Nobody hangs. */
static void garbage_from_client(bool segmented) {
    const char *what = segmented ? "garbage from the client, segmented" : "garbage from the client";
    weir_sim *s = sim_new(6);
    if (segmented) slow_link(s);
    weir_tls_ctx *sctx = server_ctx("server");
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    /* handshake record, TLS 1.0, 8 bytes: ClientHello, 4 bytes long, "abcd" */
    static const char bad_hello[] = "\x16\x03\x01\x00\x08\x01\x00\x00\x04"
                                    "abcd";
    plain_client p = {.send = segmented ? "GET / HTTP/1.0\r\n\r\n" : bad_hello,
                      .send_len = segmented ? 0 : sizeof bad_hello - 1};
    spawn_on(s, "client", plain_client_task, &p);
    is_int(run(s), 0, "%s: run", what);
    is_int(st.calls, 0, "%s: the handler never ran", what);
    if (segmented) {
        is_int(p.end, WEIR_ECONNRESET, "%s: the connection was reset", what);
    } else {
        ok(p.got > 0, "%s: the server answered with an alert (%lld bytes)", what, (long long)p.got);
        is_int(p.end, 0, "%s: then closed the connection", what);
    }
    ok(contains(weir_tls_last_error(), segmented ? "http request" : "TLS handshake failed"),
       "%s: the server's error: %s", what, weir_tls_last_error());
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
}

static void test_garbage_from_client(void) {
    garbage_from_client(false);
    garbage_from_client(true);
}

/* A plain server reads the ClientHello and hangs up: the peer closed during the handshake. */
static int hangup_handler(weir_reader *r, weir_writer *w, void *arg) {
    srv_state *st = arg;
    st->calls++;
    weir_bytes b;
    if (weir_read(r, 4096, &b) == 0) st->got += (int64_t)b.len;
    weir_writer_close(w);
    return 0;
}

static void test_hangup(void) {
    weir_sim *s = sim_new(16);
    weir_tls_ctx *cctx = client_ctx("ca.pem");
    srv_state st = {0};
    weir_server *srv = serve(s, 80, NULL, hangup_handler, &st, NULL);
    cli_state c = {.tls = cctx, .port = 80};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "hang-up: run");
    is_int(c.rc, WEIR_ECONNRESET, "hang-up: WEIR_ECONNRESET, as asyncio's ConnectionResetError");
    ok(contains(c.err, "the peer closed the connection"), "hang-up: %s", c.err);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(cctx);
}

/* The server goes silent mid-handshake: WEIR_ETIMEDOUT exactly at the timeout. */
static void test_silent_server(void) {
    weir_sim *s = sim_new(7);
    slow_link(s);
    weir_tls_ctx *cctx = client_ctx("ca.pem");
    srv_state st = {0};
    weir_server *srv = serve(s, 80, NULL, silent_handler, &st, NULL);
    cli_state c = {.tls = cctx, .port = 80, .handshake_timeout = 5 * SEC};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "silent server: run");
    is_int(c.rc, WEIR_ETIMEDOUT, "silent server: WEIR_ETIMEDOUT");
    is_int(c.at, 1 * MS + 5 * SEC, "silent server: at connect (1 ms) + 5 s exactly");
    ok(contains(c.err, "timed out"), "silent server: %s", c.err);
    ok(st.got > 0, "silent server: it did get the ClientHello (%lld bytes)", (long long)st.got);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(cctx);
}

/* A client connects to a TLS server and says nothing: the server gives up at its timeout,
 * without running the handler. */
static void test_silent_client(void) {
    weir_sim *s = sim_new(8);
    slow_link(s);
    weir_tls_ctx *sctx = server_ctx("server");
    srv_state st = {0};
    weir_server_opts o = {.tls_handshake_timeout = 2 * SEC};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, &o);
    plain_client p = {0};
    spawn_on(s, "client", plain_client_task, &p);
    is_int(run(s), 0, "silent client: run");
    is_int(st.calls, 0, "silent client: the handler never ran");
    is_int(p.end, WEIR_ECONNRESET, "silent client: the server aborted the connection");
    /* Accepted at 1 ms, aborted at 1 ms + 2 s, the RST arrives 5 ms later. */
    is_int(p.end_at, 1 * MS + 2 * SEC + 5 * MS, "silent client: at the server's timeout");
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
}

/* STARTTLS: a plaintext line each way, then both ends upgrade the same connection. The line
 * the server sent after "OK" is already in the client's reader when it upgrades: it stays. */
typedef struct starttls {
    weir_tls_ctx *sctx, *cctx;
    int srv_rc, cli_rc;
    char plain[32], buffered[32], secret[32], version[32];
    int srv_end;
} starttls;

static int starttls_server(weir_reader *r, weir_writer *w, void *arg) {
    starttls *t = arg;
    weir_bytes line;
    if (weir_readline(r, &line) != 0) return 0;
    snprintf(t->plain, 32, "%.*s", (int)line.len, line.data);
    weir_write(w, "OK\nplain-after\n", 15);
    t->srv_rc = weir_start_tls(w, t->sctx, NULL, 0, 0);
    if (t->srv_rc) return 0;
    int rc;
    while ((rc = weir_reader_next_line(r, &line)) > 0) weir_write(w, line.data, line.len);
    t->srv_end = rc;
    return 0;
}

static int starttls_client(void *arg) {
    starttls *t = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("server", 25, NULL, &r, &w)) return 0;
    weir_write(w, "STARTTLS\n", 9);
    weir_bytes line;
    if (weir_readline(r, &line) != 0 || line.len != 3) goto out;
    weir_sleep(100 * MS); /* "plain-after" arrives meanwhile, as plaintext */
    t->cli_rc = weir_start_tls(w, t->cctx, "server", 0, 0);
    if (t->cli_rc) goto out;
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(t->version, 32, "%s", x.str);
    if (weir_readline(r, &line) == 0) snprintf(t->buffered, 32, "%.*s", (int)line.len, line.data);
    weir_write(w, "secret\n", 7);
    if (weir_readline(r, &line) == 0) snprintf(t->secret, 32, "%.*s", (int)line.len, line.data);
    weir_writer_close(w);
    weir_wait_closed(w);
out:
    weir_writer_free(w);
    return 0;
}

static void test_starttls(void) {
    weir_sim *s = sim_new(9);
    slow_link(s);
    starttls t = {.sctx = server_ctx("server"), .cctx = client_ctx("ca.pem")};
    weir_server *srv = serve(s, 25, NULL, starttls_server, &t, NULL);
    spawn_on(s, "client", starttls_client, &t);
    is_int(run(s), 0, "starttls: run");
    ok(strcmp(t.plain, "STARTTLS\n") == 0, "starttls: the plaintext line (%s)", shown(t.plain));
    is_int(t.srv_rc, 0, "starttls: the server upgraded");
    is_int(t.cli_rc, 0, "starttls: the client upgraded");
    ok(strcmp(t.version, "TLSv1.3") == 0, "starttls: over %s", t.version);
    ok(strcmp(t.buffered, "plain-after\n") == 0,
       "starttls: plaintext buffered before the upgrade stays in the reader (%s)",
       shown(t.buffered));
    ok(strcmp(t.secret, "secret\n") == 0, "starttls: echo through TLS");
    is_int(t.srv_end, 0, "starttls: the server saw close_notify as EOF");
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(t.sctx);
    weir_tls_ctx_free(t.cctx);
}

/* The peer never answers our close_notify (its reader is paused, so its TLS layer does not
 * read): the shutdown timeout aborts the connection and wait_closed says WEIR_ETIMEDOUT. */
typedef struct shut {
    weir_tls_ctx *cctx;
    int rc, closed_rc;
    int64_t close_at, closed_at;
} shut;

static int shutdown_client(void *arg) {
    shut *t = arg;
    weir_open_opts o = {.tls = t->cctx, .tls_shutdown_timeout = 3 * SEC};
    weir_reader *r;
    weir_writer *w;
    t->rc = weir_open_connection("server", 443, &o, &r, &w);
    if (t->rc) return 0;
    static uint8_t block[8192];
    weir_write(w, block, sizeof block);
    weir_drain(w);
    weir_sleep(100 * MS);
    t->close_at = weir_now();
    weir_writer_close(w);
    t->closed_rc = weir_wait_closed(w);
    t->closed_at = weir_now();
    weir_writer_free(w);
    return 0;
}

static void test_shutdown_timeout(void) {
    weir_sim *s = sim_new(10);
    weir_tls_ctx *sctx = server_ctx("server");
    shut t = {.cctx = client_ctx("ca.pem")};
    srv_state st = {.sleep = 10 * SEC};
    weir_server_opts o = {.limit = 1024};
    weir_server *srv = serve(s, 443, sctx, sink_handler, &st, &o);
    spawn_on(s, "client", shutdown_client, &t);
    is_int(run(s), 0, "shutdown timeout: run");
    is_int(t.rc, 0, "shutdown timeout: connected");
    is_int(t.closed_rc, WEIR_ETIMEDOUT, "shutdown timeout: wait_closed gives WEIR_ETIMEDOUT");
    is_int(t.closed_at - t.close_at, 3 * SEC, "shutdown timeout: exactly 3 s after close");
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(t.cctx);
}

/* 1 MiB through TLS to a reader that takes its time: drain blocks and resumes, the
 * writer's buffer stays bounded, and every byte arrives. */
typedef struct bulk {
    weir_tls_ctx *cctx;
    int rc;
    size_t max_buffer;
    int64_t drain_wait;
    char reply[32];
    uint64_t sum;
} bulk;

static int bulk_client(void *arg) {
    bulk *b = arg;
    weir_open_opts o = {.tls = b->cctx};
    weir_reader *r;
    weir_writer *w;
    b->rc = weir_open_connection("server", 443, &o, &r, &w);
    if (b->rc) return 0;
    static uint8_t chunk[65536];
    for (int i = 0; i < 16; i++) {
        for (size_t k = 0; k < sizeof chunk; k++) chunk[k] = (uint8_t)(k * 31 + (size_t)i);
        for (size_t k = 0; k < sizeof chunk; k++) b->sum += chunk[k];
        weir_write(w, chunk, sizeof chunk);
        size_t sz = weir_writer_buffer_size(w);
        if (sz > b->max_buffer) b->max_buffer = sz;
        int64_t t0 = weir_now();
        weir_drain(w);
        b->drain_wait += weir_now() - t0;
    }
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static void test_flow_control(void) {
    weir_sim *s = sim_new(11);
    weir_sim_link l = {.latency = MS, .bandwidth = 10 * 1000 * 1000, .window = 32768};
    weir_sim_set_link(s, "*", "*", &l);
    weir_tls_ctx *sctx = server_ctx("server");
    bulk b = {.cctx = client_ctx("ca.pem")};
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, sink_handler, &st, NULL);
    spawn_on(s, "client", bulk_client, &b);
    is_int(run(s), 0, "flow control: run");
    is_int(b.rc, 0, "flow control: connected");
    is_int(st.got, 16 * 65536, "flow control: every byte arrived");
    ok(st.sum == b.sum, "flow control: intact");
    ok(b.drain_wait > 0, "flow control: drain waited (%lld ns in all)", (long long)b.drain_wait);
    ok(b.max_buffer <= 512 * 1024 + 65536 + 1024,
       "flow control: the TLS write buffer stays near its 512 KiB mark (max %zu)", b.max_buffer);
    is_int(st.end, 0, "flow control: then a clean EOF");
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(b.cctx);
}

/* --- faults and interruptions ---------------------------------------------------------- */

/* The server sends a line every 100 ms for a second, then closes. */
static int ticker_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r;
    srv_state *st = arg;
    st->calls++;
    for (int i = 0; i < 10; i++) {
        char line[16];
        int n = snprintf(line, sizeof line, "tick %d\n", i);
        if (weir_write(w, line, (size_t)n) || weir_drain(w)) break;
        st->lines++;
        weir_sleep(100 * MS);
    }
    return 0;
}

typedef struct reader_cli {
    weir_tls_ctx *tls;
    int64_t deadline; /* relative, 0 = none */
    int port;         /* 0 = 443 */
    int rc, end;
    int lines;
    int64_t at, end_at;
    char err[320];
} reader_cli;

static int reader_client(void *arg) {
    reader_cli *c = arg;
    if (c->deadline) weir_deadline_set(weir_now() + c->deadline);
    weir_open_opts o = {.tls = c->tls};
    weir_reader *r;
    weir_writer *w;
    c->rc = weir_open_connection("server", c->port ? c->port : 443, &o, &r, &w);
    c->at = weir_now();
    snprintf(c->err, sizeof c->err, "%s", weir_tls_last_error());
    if (c->rc) return 0;
    weir_bytes line;
    while ((c->end = weir_reader_next_line(r, &line)) > 0) c->lines++;
    c->end_at = weir_now();
    weir_writer_free(w);
    return 0;
}

static void fault_run(const char *what, weir_sim_fault_kind kind, int want_end) {
    weir_sim *s = sim_new(12);
    weir_sim_fault f = weir_sim_fault_init(kind);
    f.from = "server";
    f.to = "client";
    f.at = 350 * MS;
    if (weir_sim_add_fault(s, &f)) abort();
    weir_tls_ctx *sctx = server_ctx("server");
    reader_cli c = {.tls = client_ctx("ca.pem")};
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, ticker_handler, &st, NULL);
    spawn_on(s, "client", reader_client, &c);
    is_int(run(s), 0, "%s: run", what);
    is_int(c.rc, 0, "%s: connected", what);
    is_int(c.lines, 4, "%s: the lines before it (0, 100, 200, 300 ms)", what);
    is_int(c.end, want_end, "%s: then %s", what, want_end ? weir_errname(want_end) : "EOF");
    is_int(c.end_at, 350 * MS, "%s: at once", what);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(c.tls);
}

/* The TCP connection ends under TLS: a FIN without close_notify is an EOF, as asyncio has
 * it (a truncation is not reported); a reset is a reset. */
static void test_faults(void) {
    fault_run("FIN without close_notify", WEIR_FAULT_EOF, 0);
    fault_run("reset mid-stream", WEIR_FAULT_RESET, WEIR_ECONNRESET);
}

/* We close while the peer is still sending: what it sent before it saw our close_notify
 * is dropped, its close_notify completes the close, and its writes fail from then on. */
typedef struct early_close {
    weir_tls_ctx *tls;
    int rc, lines, closed_rc;
    int64_t closed_at;
} early_close;

static int early_close_client(void *arg) {
    early_close *c = arg;
    weir_open_opts o = {.tls = c->tls};
    weir_reader *r;
    weir_writer *w;
    c->rc = weir_open_connection("server", 443, &o, &r, &w);
    if (c->rc) return 0;
    weir_bytes line;
    while (c->lines < 2 && weir_readline(r, &line) == 0 && line.len) c->lines++;
    weir_writer_close(w);
    c->closed_rc = weir_wait_closed(w);
    c->closed_at = weir_now();
    weir_writer_free(w);
    return 0;
}

static void test_close_while_receiving(void) {
    weir_sim *s = sim_new(17);
    weir_sim_link l = {.latency = 250 * MS}; /* ticks are 100 ms apart: some in flight */
    weir_sim_set_link(s, "*", "*", &l);
    weir_tls_ctx *sctx = server_ctx("server");
    early_close c = {.tls = client_ctx("ca.pem")};
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, ticker_handler, &st, NULL);
    spawn_on(s, "client", early_close_client, &c);
    is_int(run(s), 0, "close while receiving: run");
    is_int(c.rc, 0, "close while receiving: connected");
    is_int(c.lines, 2, "close while receiving: two lines read, then close");
    is_int(c.closed_rc, 0, "close while receiving: a clean close all the same");
    ok(st.lines > 3 && st.lines < 10,
       "close while receiving: lines in flight at our close were dropped, later writes failed "
       "(%d sent)",
       st.lines);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(c.tls);
}

/* The task's own deadline ends a handshake before the handshake timeout does. */
static void test_task_deadline(void) {
    weir_sim *s = sim_new(13);
    srv_state st = {0};
    weir_server *srv = serve(s, 443, NULL, silent_handler, &st, NULL);
    reader_cli c = {.tls = client_ctx("ca.pem"), .deadline = 2 * SEC};
    spawn_on(s, "client", reader_client, &c);
    is_int(run(s), 0, "task deadline: run");
    is_int(c.rc, WEIR_ETIMEDOUT, "task deadline: WEIR_ETIMEDOUT");
    is_int(c.at, 2 * SEC, "task deadline: at the task's deadline, not the 60 s timeout");
    ok(contains(c.err, "deadline"), "task deadline: %s", c.err);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(c.tls);
}

/* Cancelled mid-handshake, on either side: everything unwinds and is freed. */
typedef struct canceller {
    weir_task *victim;
    weir_server *srv;
} canceller;

static int cancel_task(void *arg) {
    canceller *k = arg;
    weir_sleep(SEC);
    if (k->victim) {
        weir_task_cancel(k->victim);
        weir_join(k->victim, NULL);
    }
    if (k->srv) weir_server_free(k->srv);
    return 0;
}

static void test_cancel(void) {
    weir_sim *s = sim_new(14);
    srv_state st = {0};
    weir_server *plain = serve(s, 80, NULL, silent_handler, &st, NULL);
    reader_cli c = {.tls = client_ctx("ca.pem"), .port = 80};
    canceller k = {0};
    if (weir_sim_spawn(s, "client", reader_client, &c, NULL, &k.victim)) abort();
    spawn_on(s, "client", cancel_task, &k);
    is_int(run(s), 0, "cancel: run");
    is_int(c.rc, WEIR_ECANCELED, "cancel: the connecting task is cancelled mid-handshake");
    is_int(c.at, SEC, "cancel: at once");
    weir_server_free(plain);
    weir_sim_free(s);

    s = sim_new(15);
    weir_tls_ctx *sctx = server_ctx("server");
    srv_state st2 = {0};
    canceller k2 = {.srv = serve(s, 443, sctx, echo_handler, &st2, NULL)};
    plain_client p = {0};
    spawn_on(s, "client", plain_client_task, &p);
    spawn_on(s, "server", cancel_task, &k2);
    is_int(run(s), 0, "cancel: run (server freed mid-handshake)");
    is_int(st2.calls, 0, "cancel: the handler never ran");
    is_int(p.end, WEIR_ECONNRESET, "cancel: the client sees the connection reset");
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(c.tls);
}

/* The in-memory pipe on the virtual loop: TLS over a transport that is not a network, with
 * the system's randomness (the virtual backend has no decision stream). */
typedef struct pipe_end {
    weir_writer *w;
    weir_reader *r;
    weir_tls_ctx *ctx;
    const char *name;
    int rc;
    char line[32];
} pipe_end;

static int pipe_task(void *arg) {
    pipe_end *p = arg;
    p->rc = weir_start_tls(p->w, p->ctx, p->name, 0, 0);
    if (p->rc) return 0;
    if (p->name) {
        weir_write(p->w, "ping\n", 5);
        weir_bytes line;
        if (weir_readline(p->r, &line) == 0)
            snprintf(p->line, 32, "%.*s", (int)line.len, line.data);
        weir_writer_close(p->w);
    } else {
        weir_bytes line;
        if (weir_readline(p->r, &line) == 0) {
            snprintf(p->line, 32, "%.*s", (int)line.len, line.data);
            weir_write(p->w, "pong\n", 5);
        }
        weir_readline(p->r, &line); /* EOF: the client's close_notify */
        weir_writer_close(p->w);
    }
    weir_wait_closed(p->w);
    return 0;
}

/* One exchange over the pipe; the ClientHello's random goes to client_random. */
static void mempipe_run(const char *what, unsigned char client_random[32]) {
    weir_loop *loop;
    if (weir_loop_new_virtual(&loop)) abort();
    weir_reader *r[2];
    weir_writer *w[2];
    if (weir_stream_pair(loop, NULL, r, w)) abort();
    pipe_end a = {.w = w[0], .r = r[0], .ctx = client_ctx("ca.pem"), .name = "localhost"};
    pipe_end b = {.w = w[1], .r = r[1], .ctx = server_ctx("server")};
    weir_task *ta, *tb;
    weir_spawn(loop, pipe_task, &a, NULL, &ta);
    weir_spawn(loop, pipe_task, &b, NULL, &tb);
    is_int(weir_loop_run(loop), 0, "%s: run", what);
    weir_join(ta, NULL);
    weir_join(tb, NULL);
    is_int(a.rc, 0, "%s: client handshake", what);
    is_int(b.rc, 0, "%s: server handshake", what);
    ok(strcmp(b.line, "ping\n") == 0 && strcmp(a.line, "pong\n") == 0, "%s: ping, pong", what);
    weir_extra x;
    memset(client_random, 0, 32);
    if (weir_get_extra_info(w[0], "ssl_object", &x) == 0)
        SSL_get_client_random((const SSL *)x.ptr, client_random, 32);
    weir_writer_free(w[0]);
    weir_writer_free(w[1]);
    weir_loop_free(loop);
    weir_tls_ctx_free(a.ctx);
    weir_tls_ctx_free(b.ctx);
}

static void test_mempipe(void) {
    unsigned char r1[32], r2[32];
    mempipe_run("mempipe", r1);
    mempipe_run("mempipe again", r2);
    ok(memcmp(r1, r2, 32) != 0,
       "mempipe: a loop without a decision stream gets the system's randomness");
}

/* A protocol spliced between the pipe and the TLS layer that flips one bit of the first
 * record after it is armed: a record that fails its integrity check after the handshake. */
typedef struct corrupter {
    weir_protocol proto; /* first */
    weir_protocol *tls;  /* the TLS layer's, which we forward to */
    bool armed;
} corrupter;

static void cor_made(weir_protocol *p, weir_transport *t) {
    corrupter *k = (corrupter *)p;
    k->tls->ops->connection_made(k->tls, t);
}
static void cor_data(weir_protocol *p, const void *data, size_t len) {
    corrupter *k = (corrupter *)p;
    uint8_t copy[65536];
    if (k->armed && len > 10 && len <= sizeof copy) {
        memcpy(copy, data, len);
        copy[len - 1] ^= 0x01; /* inside the AEAD tag of the last record */
        k->armed = false;
        data = copy;
    }
    k->tls->ops->data_received(k->tls, data, len);
}
static bool cor_eof(weir_protocol *p) {
    corrupter *k = (corrupter *)p;
    return k->tls->ops->eof_received(k->tls);
}
static void cor_lost(weir_protocol *p, int error) {
    corrupter *k = (corrupter *)p;
    k->tls->ops->connection_lost(k->tls, error);
}
static void cor_pause(weir_protocol *p) {
    corrupter *k = (corrupter *)p;
    k->tls->ops->pause_writing(k->tls);
}
static void cor_resume(weir_protocol *p) {
    corrupter *k = (corrupter *)p;
    k->tls->ops->resume_writing(k->tls);
}
static const weir_protocol_ops corrupter_ops = {cor_made, cor_data,  cor_eof,
                                                cor_lost, cor_pause, cor_resume};

typedef struct bad_record {
    weir_writer *w[2];
    weir_reader *r[2];
    weir_tls_ctx *ctx[2];
    weir_transport *pipe0; /* the client's pipe end, under its TLS */
    corrupter k;
    int hs[2], read_rc, write_rc;
    char err[320];
} bad_record;

static int bad_client(void *arg) {
    bad_record *b = arg;
    b->hs[0] = weir_start_tls(b->w[0], b->ctx[0], "localhost", 0, 0);
    if (b->hs[0]) return 0;
    b->k.proto.ops = &corrupter_ops;
    b->k.tls = b->pipe0->protocol;
    b->k.armed = true;
    b->pipe0->protocol = &b->k.proto;
    weir_write(b->w[0], "ping\n", 5);
    weir_bytes line;
    b->read_rc = weir_readline(b->r[0], &line);
    /* Per connection: the thread's last error may be the server's by now. */
    weir_extra x;
    if (weir_get_extra_info(b->w[0], "tls_error", &x) == 0)
        snprintf(b->err, sizeof b->err, "%s", x.str);
    b->write_rc = weir_write(b->w[0], "more\n", 5);
    return 0;
}

static int bad_server(void *arg) {
    bad_record *b = arg;
    b->hs[1] = weir_start_tls(b->w[1], b->ctx[1], NULL, 0, 0);
    if (b->hs[1]) return 0;
    weir_bytes line;
    if (weir_readline(b->r[1], &line) == 0) weir_write(b->w[1], "pong\n", 5);
    weir_readline(b->r[1], &line);
    return 0;
}

static void test_bad_record(void) {
    weir_loop *loop;
    if (weir_loop_new_virtual(&loop)) abort();
    bad_record b = {.ctx = {client_ctx("ca.pem"), server_ctx("server")}};
    if (weir_stream_pair(loop, NULL, b.r, b.w)) abort();
    b.pipe0 = weir_writer_transport(b.w[0]);
    weir_task *t[2];
    weir_spawn(loop, bad_client, &b, NULL, &t[0]);
    weir_spawn(loop, bad_server, &b, NULL, &t[1]);
    is_int(weir_loop_run(loop), 0, "bad record: run");
    weir_join(t[0], NULL);
    weir_join(t[1], NULL);
    is_int(b.hs[0] | b.hs[1], 0, "bad record: handshakes");
    is_int(b.read_rc, WEIR_ETLS, "bad record: the read fails with WEIR_ETLS");
    ok(contains(b.err, "TLS error: decryption failed or bad record mac"),
       "bad record: \"tls_error\" says why: %s", b.err);
    is_int(b.write_rc, WEIR_ECONNLOST, "bad record: the connection is gone");
    weir_writer_free(b.w[0]);
    weir_writer_free(b.w[1]);
    weir_loop_free(loop);
    weir_tls_ctx_free(b.ctx[0]);
    weir_tls_ctx_free(b.ctx[1]);
}

/* --- client certificates and ALPN ---------------------------------------------------- */

/* A server that asks for client certificates (mode) from ca.pem, and speaks alpn. */
static weir_tls_ctx *mtls_server_ctx(weir_tls_verify_mode mode, const char *const *alpn) {
    weir_tls_server_opts o = {.cert_file = cert("server.pem"),
                              .key_file = cert("server.key"),
                              .verify_mode = mode,
                              .ca_file = mode == WEIR_TLS_CERT_NONE ? NULL : cert("ca.pem"),
                              .alpn_protocols = alpn};
    return new_server_ctx(&o);
}

/* A client trusting ca.pem, with the certificate NAME.pem and NAME.key when name is not
 * NULL ("client", from ca; "stranger", from other-ca). */
static weir_tls_ctx *mtls_client_ctx(const char *name, const char *const *alpn) {
    char c[64] = "", k[64] = "";
    if (name) {
        snprintf(c, sizeof c, "%s.pem", name);
        snprintf(k, sizeof k, "%s.key", name);
    }
    weir_tls_client_opts o = {.ca_file = cert("ca.pem"),
                              .cert_file = name ? cert(c) : NULL,
                              .key_file = name ? cert(k) : NULL,
                              .alpn_protocols = alpn};
    return new_client_ctx(&o);
}

/* A client certificate the server accepts: it sees the client's subject. */
static void mtls_accepted(const char *what, weir_tls_verify_mode mode, const char *client,
                          const char *want_peer) {
    weir_sim *s = sim_new(20);
    slow_link(s);
    weir_tls_ctx *sctx = mtls_server_ctx(mode, NULL), *cctx = mtls_client_ctx(client, NULL);
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "%s: run", what);
    is_int(c.rc, 0, "%s: handshake", what);
    if (c.rc) printf("# %s\n", c.err);
    ok(strcmp(c.peer_cert, "CN=localhost") == 0, "%s: the client sees the server (%s)", what,
       c.peer_cert);
    if (want_peer) {
        is_int(st.peer_cert_rc, 0, "%s: the server has the client's certificate", what);
        ok(strcmp(st.peer_cert, want_peer) == 0, "%s: peer_certificate on the server: %s", what,
           st.peer_cert);
    } else {
        is_int(st.peer_cert_rc, WEIR_ENOENT, "%s: no client certificate on the server", what);
    }
    is_int(st.lines, 2, "%s: the server echoed two lines", what);
    ok(strcmp(c.lines[1], "world\n") == 0, "%s: they came back", what);
    is_int(c.closed_rc, 0, "%s: clean close", what);
    is_int(st.closed_rc, 0, "%s: clean close on the server", what);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(cctx);
}

/* A client certificate the server refuses (missing, or from a CA it does not trust). The
 * server's handshake fails with a clear error (seen by a handler that runs start_tls
 * itself). Over TLS 1.3 the client's handshake is over before the server has judged its
 * certificate: its open_connection succeeds, and the server's alert ends the connection at
 * its first read, with the alert as the reason. Nobody hangs. */
static void mtls_refused(const char *what, weir_tls_verify_mode mode, const char *client,
                         const char *server_expect, const char *client_expect) {
    weir_sim *s = sim_new(21);
    slow_link(s);
    srv_state st = {.upgrade = mtls_server_ctx(mode, NULL)};
    weir_tls_ctx *cctx = mtls_client_ctx(client, NULL);
    weir_server *srv = serve(s, 443, NULL, upgrade_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "%s: run", what);
    is_int(st.upgrade_rc, WEIR_ETLS, "%s: the server's handshake fails with WEIR_ETLS", what);
    ok(contains(st.upgrade_err, server_expect), "%s: the server says why: %s", what,
       st.upgrade_err);
    is_int(st.calls, 0, "%s: nothing was echoed", what);
    is_int(c.rc, 0, "%s: TLS 1.3: the client's handshake was over first", what);
    is_int(c.read_rc, WEIR_ETLS, "%s: the client's first read fails with WEIR_ETLS", what);
    ok(contains(c.tls_error, client_expect), "%s: the client's tls_error: %s", what, c.tls_error);
    ok(c.lines[0][0] == '\0', "%s: no data went through", what);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(st.upgrade);
    weir_tls_ctx_free(cctx);
}

/* With the server's context on start_server, a refused client never reaches the handler. */
static void test_mtls_handler(void) {
    weir_sim *s = sim_new(22);
    slow_link(s);
    weir_tls_ctx *sctx = mtls_server_ctx(WEIR_TLS_CERT_REQUIRED, NULL);
    weir_tls_ctx *cctx = mtls_client_ctx(NULL, NULL);
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "mtls, no certificate, start_server: run");
    is_int(st.calls, 0, "mtls, no certificate, start_server: the handler never ran");
    is_int(weir_server_accepted(srv), 1, "mtls, no certificate, start_server: it was accepted");
    is_int(c.read_rc, WEIR_ETLS, "mtls, no certificate, start_server: the client's read fails");
    ok(contains(c.tls_error, "certificate required"),
       "mtls, no certificate, start_server: the client's tls_error: %s", c.tls_error);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(cctx);
}

static void test_mtls(void) {
    mtls_accepted("mtls required", WEIR_TLS_CERT_REQUIRED, "client", "CN=weir client");
    mtls_accepted("mtls optional, with a certificate", WEIR_TLS_CERT_OPTIONAL, "client",
                  "CN=weir client");
    mtls_accepted("mtls optional, without", WEIR_TLS_CERT_OPTIONAL, NULL, NULL);
    mtls_accepted("mtls none, the client has one", WEIR_TLS_CERT_NONE, "client", NULL);
    mtls_refused("mtls required, no certificate", WEIR_TLS_CERT_REQUIRED, NULL,
                 "peer did not return a certificate", "tlsv13 alert certificate required");
    mtls_refused("mtls required, untrusted certificate", WEIR_TLS_CERT_REQUIRED, "stranger",
                 "client certificate verify failed: unable to get local issuer certificate",
                 "tlsv1 alert unknown ca");
    mtls_refused("mtls optional, untrusted certificate", WEIR_TLS_CERT_OPTIONAL, "stranger",
                 "client certificate verify failed", "tlsv1 alert unknown ca");
    test_mtls_handler();
}

/* ALPN between weir's client (cli) and server (srv): want, or NULL for none on both sides. */
static void alpn_run(const char *what, const char *const *srv_alpn, const char *const *cli_alpn,
                     const char *want) {
    weir_sim *s = sim_new(23);
    slow_link(s);
    weir_tls_ctx *sctx = mtls_server_ctx(WEIR_TLS_CERT_NONE, srv_alpn);
    weir_tls_ctx *cctx = mtls_client_ctx(NULL, cli_alpn);
    srv_state st = {0};
    weir_server *srv = serve(s, 443, sctx, echo_handler, &st, NULL);
    cli_state c = {.tls = cctx};
    spawn_on(s, "client", echo_client, &c);
    is_int(run(s), 0, "%s: run", what);
    is_int(c.rc, 0, "%s: the handshake succeeds", what);
    if (want) {
        ok(c.alpn_rc == 0 && strcmp(c.alpn, want) == 0, "%s: the client has %s (%s)", what, want,
           c.alpn);
        ok(st.alpn_rc == 0 && strcmp(st.alpn, want) == 0, "%s: the server has %s (%s)", what, want,
           st.alpn);
    } else {
        is_int(c.alpn_rc, WEIR_ENOENT, "%s: no protocol on the client", what);
        is_int(st.alpn_rc, WEIR_ENOENT, "%s: none on the server", what);
    }
    is_int(st.lines, 2, "%s: the connection works", what);
    weir_server_free(srv);
    weir_sim_free(s);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(cctx);
}

static void test_alpn(void) {
    const char *const h2_h1[] = {"h2", "http/1.1", NULL}, *const h1_h2[] = {"http/1.1", "h2", NULL};
    const char *const h2[] = {"h2", NULL}, *const h1[] = {"http/1.1", NULL};
    const char *const empty[] = {NULL};
    alpn_run("alpn", h2_h1, h2_h1, "h2");
    alpn_run("alpn, the server's preference wins", h2_h1, h1_h2, "h2");
    alpn_run("alpn, the one in common", h2_h1, h1, "http/1.1");
    alpn_run("alpn, none in common: the handshake goes on", h2, h1, NULL);
    alpn_run("alpn, only the client offers", NULL, h2, NULL);
    alpn_run("alpn, only the server accepts", h2, NULL, NULL);
    alpn_run("alpn, an empty list is none", empty, h2, NULL);
}

/* Client certificates and ALPN keep a simulated run reproducible: the client's signature
 * draws from the connection's seeded stream too. */
static void test_mtls_determinism(void) {
    const char *const alpn[] = {"h2", "http/1.1", NULL};
    weir_tls_ctx *ctx[2] = {mtls_server_ctx(WEIR_TLS_CERT_REQUIRED, alpn),
                            mtls_client_ctx("client", alpn)};
    uint64_t a = echo_run(7, false, ctx), b = echo_run(7, false, ctx);
    uint64_t c = echo_run(8, false, ctx);
    weir_tls_ctx_free(ctx[0]);
    weir_tls_ctx_free(ctx[1]);
    weir_tls_ctx *fresh[2] = {mtls_server_ctx(WEIR_TLS_CERT_REQUIRED, alpn),
                              mtls_client_ctx("client", alpn)};
    uint64_t d = echo_run(7, false, fresh);
    weir_tls_ctx_free(fresh[0]);
    weir_tls_ctx_free(fresh[1]);
    uint64_t plain = echo_run(7, false, NULL);
    ok(a == b && a == d,
       "determinism, mtls and alpn: the same seed gives the same trace (%016llx), with fresh "
       "contexts too",
       (unsigned long long)a);
    ok(a != c, "determinism, mtls and alpn: another seed gives another trace");
    ok(a != plain, "determinism, mtls and alpn: the client certificate is in the trace");
}

int main(void) {
    if (make_certs()) return 0;
    test_echo();
    test_determinism();
    test_verification();
    test_names();
    test_garbage_from_server();
    test_garbage_from_client();
    test_hangup();
    test_silent_server();
    test_silent_client();
    test_starttls();
    test_shutdown_timeout();
    test_flow_control();
    test_faults();
    test_close_while_receiving();
    test_task_deadline();
    test_cancel();
    test_mempipe();
    test_bad_record();
    test_mtls();
    test_alpn();
    test_mtls_determinism();
    remove_certs();
    return done_testing();
}
