/* tests/unit/test_sock.c - real sockets over loopback: TCP (IPv4, IPv6 when the machine has
 * it), Unix sockets in a fresh directory, and socketpairs adopted with
 * weir_open_connection_fd. Every exchange runs in a task with a time limit; alarm() kills
 * the process if something hangs anyway. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock_util.h"
#include "tap.h"
#include "weir/poll.h"
#include "weir/weir.h"

#define LIMIT (10 * WEIR_SEC) /* per test body */

static char tmpdir[64];

/* Run fn(arg) in a task on a fresh poll loop, at most LIMIT; WEIR_ETIMEDOUT if unfinished. */
static int run(weir_task_fn fn, void *arg) { return run_limited(fn, arg, LIMIT); }

/* --- echo with the bundled handlers ------------------------------------------------- */

typedef struct echo_case {
    const char *host; /* or NULL with path */
    const char *path;
    int listen_rc; /* what start_server said */
} echo_case;

static const weir_bytes echo_lines[] = {WEIR_LIT("hello"), WEIR_LIT("world"), WEIR_LIT(""),
                                        WEIR_LIT("a longer line with some more bytes in it")};
#define NLINES (sizeof echo_lines / sizeof echo_lines[0])

static int echo_body(void *arg) {
    echo_case *c = arg;
    weir_line_echo_stats stats = {0};
    weir_server *s;
    int rc = c->path ? weir_start_unix_server(NULL, weir_line_echo, &stats, c->path, NULL, &s)
                     : weir_start_server(NULL, weir_line_echo, &stats, c->host, 0, NULL, &s);
    c->listen_rc = rc;
    if (rc) return rc;
    weir_endpoint ep = {.host = c->host, .port = weir_server_port(s), .path = c->path};
    weir_line_client_result res = {0};
    weir_line_client_cfg cfg = {.lines = echo_lines, .nlines = NLINES, .result = &res};
    rc = weir_line_client(&ep, &cfg);
    if (rc == 0 && res.received != NLINES) rc = WEIR_EMISMATCH;
    stop_server(s);
    if (rc == 0 && (stats.lines != NLINES || stats.connections != 1)) rc = WEIR_EMISMATCH;
    return rc;
}

static void test_echo(void) {
    echo_case v4 = {.host = "127.0.0.1"};
    is_int(run(echo_body, &v4), 0, "line echo over TCP 127.0.0.1");
    echo_case name = {.host = "localhost"};
    is_int(run(echo_body, &name), 0, "line echo over TCP via the name localhost");
    echo_case v6 = {.host = "::1"};
    int rc = run(echo_body, &v6);
    if (v6.listen_rc)
        printf("ok %d - # SKIP no IPv6 loopback here (%s)\n", ++tap_count,
               weir_errname(v6.listen_rc));
    else
        is_int(rc, 0, "line echo over TCP ::1");
    char path[128];
    snprintf(path, sizeof path, "%s/echo.sock", tmpdir);
    echo_case un = {.path = path};
    is_int(run(echo_body, &un), 0, "line echo over a Unix socket");
    ok(access(path, F_OK) != 0, "the server removed its socket file when it closed");
}

/* --- ephemeral ports and several addresses ---------------------------------------------- */

static int ephemeral_body(void *arg) {
    (void)arg;
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, NULL, 0, NULL, &s);
    is_int(rc, 0, "listen on every address, port 0");
    if (rc) return rc;
    int port = weir_server_port(s);
    ok(port > 0 && port <= 65535, "an ephemeral port (%d)", port);
    size_t n = 0;
    bool same = true, v4 = false, v6 = false;
    for (const char *a; (a = weir_server_address(s, n)) != NULL; n++) {
        char want[64];
        const char *colon = strrchr(a, ':');
        same = same && colon && atoi(colon + 1) == port;
        snprintf(want, sizeof want, "0.0.0.0:%d", port);
        v4 = v4 || strcmp(a, want) == 0;
        snprintf(want, sizeof want, "[::]:%d", port);
        v6 = v6 || strcmp(a, want) == 0;
    }
    ok(n >= 1 && n <= 2, "one or two bound addresses (%zu)", n);
    ok(v4, "0.0.0.0 is one of them");
    ok(same, "all on the same port");
    weir_endpoint ep4 = {.host = "127.0.0.1", .port = port};
    is_int(weir_line_client(&ep4, NULL), 0, "reachable over 127.0.0.1");
    if (v6) {
        weir_endpoint ep6 = {.host = "::1", .port = port};
        is_int(weir_line_client(&ep6, NULL), 0, "reachable over ::1 (the IPV6_V6ONLY socket)");
    } else {
        printf("ok %d - # SKIP no IPv6 wildcard socket\n", ++tap_count);
    }
    /* A second server on the same port: SO_REUSEADDR does not allow two listeners. */
    weir_server *s2 = NULL;
    is_int(weir_start_server(NULL, weir_line_echo, NULL, "127.0.0.1", port, NULL, &s2),
           WEIR_EADDRINUSE, "a second listener on the same port: WEIR_EADDRINUSE");
    ok(s2 == NULL, "and no server");
    stop_server(s);
    return 0;
}

static void test_ephemeral(void) { is_int(run(ephemeral_body, NULL), 0, "ephemeral run"); }

/* --- many connections ------------------------------------------------------------------ */

enum { CLIENTS = 48, CLIENT_LINES = 20 };

typedef struct many_client {
    weir_endpoint ep;
    weir_bytes lines[CLIENT_LINES];
    char text[CLIENT_LINES][32];
    weir_line_client_result res;
} many_client;

static int many_client_main(void *arg) {
    many_client *c = arg;
    weir_line_client_cfg cfg = {
        .lines = c->lines, .nlines = CLIENT_LINES, .window = 4, .result = &c->res};
    return weir_line_client(&c->ep, &cfg);
}

static int many_body(void *arg) {
    (void)arg;
    weir_line_echo_stats stats = {0};
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, &stats, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    many_client *cs = calloc(CLIENTS, sizeof *cs);
    weir_task *ts[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cs[i].ep = (weir_endpoint){.host = "127.0.0.1", .port = weir_server_port(s)};
        for (int k = 0; k < CLIENT_LINES; k++) {
            int len = snprintf(cs[i].text[k], sizeof cs[i].text[k], "client %d line %d", i, k);
            cs[i].lines[k] = weir_bytes_of(cs[i].text[k], (size_t)len);
        }
        ts[i] = spawn(many_client_main, &cs[i]);
    }
    int failed = 0;
    size_t received = 0;
    for (int i = 0; i < CLIENTS; i++) {
        if (join(ts[i]) != 0) failed++;
        received += cs[i].res.received;
    }
    is_int(failed, 0, "%d concurrent clients all succeeded", CLIENTS);
    is_int(received, CLIENTS * CLIENT_LINES, "every line came back");
    is_int(weir_server_accepted(s), CLIENTS, "the server accepted each connection");
    stop_server(s);
    is_int(stats.lines, CLIENTS * CLIENT_LINES, "the handlers echoed every line");
    free(cs);
    return 0;
}

static void test_many(void) { is_int(run(many_body, NULL), 0, "many connections run"); }

/* --- half-close in both directions --------------------------------------------------- */

typedef struct half {
    int lines;       /* lines the server read before EOF */
    char last[32];   /* the last of them */
    int write_after; /* weir_write after write_eof */
} half;

/* Reads lines until EOF, then answers with their count: the client half-closed. */
static int count_then_reply(weir_reader *r, weir_writer *w, void *arg) {
    half *h = arg;
    weir_bytes line;
    int rc;
    while ((rc = weir_readline(r, &line)) == 0 && line.len > 0) h->lines++;
    if (rc) return rc;
    char reply[32];
    int n = snprintf(reply, sizeof reply, "got %d\n", h->lines);
    weir_write(w, reply, (size_t)n);
    return weir_drain(w);
}

/* Greets, shuts its write side, then reads until the client's EOF. */
static int greet_then_eof(weir_reader *r, weir_writer *w, void *arg) {
    half *h = arg;
    weir_write(w, "hi\n", 3);
    int rc = weir_write_eof(w);
    if (rc) return rc;
    h->write_after = weir_write(w, "x", 1);
    weir_bytes line;
    while ((rc = weir_readline(r, &line)) == 0 && line.len > 0) {
        h->lines++;
        snprintf(h->last, sizeof h->last, "%.*s", (int)line.len, (const char *)line.data);
    }
    return rc;
}

static int half_client_eof_body(void *arg) {
    (void)arg;
    half h = {0};
    weir_server *s;
    int rc = weir_start_server(NULL, count_then_reply, &h, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    weir_reader *r;
    weir_writer *w;
    rc = weir_open_connection("127.0.0.1", weir_server_port(s), NULL, &r, &w);
    is_int(rc, 0, "client half-close: connected");
    if (rc) return rc;
    ok(weir_can_write_eof(w), "a socket can write EOF");
    weir_write(w, "a\nb\nc\n", 6);
    is_int(weir_write_eof(w), 0, "write_eof");
    is_int(weir_write(w, "d\n", 2), WEIR_ECLOSED, "writing after write_eof: WEIR_ECLOSED");
    ok(!weir_writer_is_closing(w), "write_eof does not close the transport");
    weir_bytes line;
    rc = weir_readline(r, &line);
    is_int(rc, 0, "the server still answers after our EOF");
    is_bytes(line, "got 3\n", "it saw the three lines, then EOF");
    rc = weir_readline(r, &line);
    ok(rc == 0 && line.len == 0, "then the server's EOF");
    ok(weir_reader_at_eof(r), "at_eof");
    weir_writer_close(w);
    is_int(weir_wait_closed(w), 0, "wait_closed: clean");
    weir_writer_free(w);
    stop_server(s);
    return 0;
}

static int half_server_eof_body(void *arg) {
    (void)arg;
    half h = {0};
    weir_server *s;
    weir_reader *r;
    weir_writer *w;
    int rc = serve_and_connect(greet_then_eof, &h, &s, &r, &w);
    if (rc) return rc;
    weir_bytes line;
    rc = weir_readline(r, &line);
    is_bytes(line, "hi\n", "server half-close: its greeting");
    rc = weir_readline(r, &line);
    ok(rc == 0 && line.len == 0, "then its EOF");
    /* Our side is still open: answer after the server's EOF. */
    is_int(weir_write(w, "bye\n", 4), 0, "we write after the peer's EOF");
    is_int(weir_drain(w), 0, "drain");
    weir_writer_close(w);
    is_int(weir_wait_closed(w), 0, "close after the peer's EOF: clean");
    weir_writer_free(w);
    stop_server(s);
    is_int(h.lines, 1, "the half-closed server read our line");
    ok(strcmp(h.last, "bye\n") == 0, "... which was bye");
    is_int(h.write_after, WEIR_ECLOSED, "the server's write after its write_eof: WEIR_ECLOSED");
    return 0;
}

static void test_half_close(void) {
    is_int(run(half_client_eof_body, NULL), 0, "client half-close run");
    is_int(run(half_server_eof_body, NULL), 0, "server half-close run");
}

/* --- a bulk transfer: partial writes, the queue, EOF ----------------------------------- */

#define BULK (8u * 1024 * 1024)

static uint8_t pattern(size_t i) { return (uint8_t)(i * 31 + i / 4093 + 7); }

static int bulk_server(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    size_t pos = 0;
    size_t bad = SIZE_MAX;
    weir_bytes b;
    int rc;
    while ((rc = weir_read(r, 65536, &b)) == 0 && b.len > 0) {
        for (size_t i = 0; i < b.len && bad == SIZE_MAX; i++)
            if (b.data[i] != pattern(pos + i)) bad = pos + i;
        pos += b.len;
    }
    if (rc) return rc;
    char reply[64];
    int n = bad == SIZE_MAX ? snprintf(reply, sizeof reply, "ok %zu\n", pos)
                            : snprintf(reply, sizeof reply, "bad at %zu\n", bad);
    weir_write(w, reply, (size_t)n);
    return weir_drain(w);
}

static int bulk_body(void *arg) {
    (void)arg;
    weir_server *s;
    weir_reader *r;
    weir_writer *w;
    int rc = serve_and_connect(bulk_server, NULL, &s, &r, &w);
    if (rc) return rc;
    uint8_t *chunk = malloc(100000);
    size_t sent = 0, max_queued = 0;
    while (sent < BULK && rc == 0) {
        size_t n = BULK - sent < 100000 ? BULK - sent : 100000;
        for (size_t i = 0; i < n; i++) chunk[i] = pattern(sent + i);
        rc = weir_write(w, chunk, n);
        sent += n;
        size_t q = weir_writer_buffer_size(w);
        if (q > max_queued) max_queued = q;
        if (rc == 0) rc = weir_drain(w);
    }
    free(chunk);
    is_int(rc, 0, "8 MiB written with drain");
    ok(max_queued > 0, "some writes were partial and queued (max %zu bytes)", max_queued);
    weir_write_eof(w);
    weir_bytes line;
    rc = weir_readline(r, &line);
    is_int(rc, 0, "the server's verdict");
    char want[32];
    int wn = snprintf(want, sizeof want, "ok %u\n", BULK);
    is_mem(line.data, line.len, want, (size_t)wn, "every byte arrived, in order");
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    stop_server(s);
    return 0;
}

static void test_bulk(void) { is_int(run(bulk_body, NULL), 0, "bulk run"); }

/* --- get_extra_info ------------------------------------------------------------------- */

typedef struct names {
    char sock[128], peer[128];
    int64_t fd, family;
} names;

static void get_names(weir_writer *w, names *n) {
    weir_extra e;
    if (weir_get_extra_info(w, "sockname", &e) == 0) snprintf(n->sock, sizeof n->sock, "%s", e.str);
    if (weir_get_extra_info(w, "peername", &e) == 0) snprintf(n->peer, sizeof n->peer, "%s", e.str);
    n->fd = weir_get_extra_info(w, "socket", &e) == 0 && e.kind == WEIR_EXTRA_INT ? e.num : -1;
    n->family = weir_get_extra_info(w, "family", &e) == 0 ? e.num : -1;
}

static int names_server(weir_reader *r, weir_writer *w, void *arg) {
    (void)r;
    get_names(w, arg);
    return 0;
}

static int names_body(void *arg) {
    const char *path = arg;
    names srv = {0}, cli = {0};
    weir_server *s;
    int rc = path ? weir_start_unix_server(NULL, names_server, &srv, path, NULL, &s)
                  : weir_start_server(NULL, names_server, &srv, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    int port = weir_server_port(s);
    weir_reader *r;
    weir_writer *w;
    rc = path ? weir_open_unix_connection(path, NULL, &r, &w)
              : weir_open_connection("127.0.0.1", port, NULL, &r, &w);
    if (rc) return rc;
    get_names(w, &cli);
    weir_extra e;
    is_int(weir_get_extra_info(w, "no such key", &e), WEIR_ENOENT, "an unknown key: WEIR_ENOENT");
    /* The server's handler ran and closed: our read sees its EOF. */
    weir_bytes b;
    weir_read(r, 10, &b);
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    stop_server(s);
    ok(cli.fd >= 0 && srv.fd >= 0, "\"socket\" is the descriptor");
    if (path) {
        is_int(cli.family, AF_UNIX, "family AF_UNIX");
        ok(strcmp(cli.peer, path) == 0, "client peername is the path (%s)", cli.peer);
        ok(strcmp(cli.sock, "") == 0, "client sockname is empty (unnamed)");
        ok(strcmp(srv.sock, path) == 0, "server sockname is the path");
    } else {
        char want[64];
        snprintf(want, sizeof want, "127.0.0.1:%d", port);
        is_int(cli.family, AF_INET, "family AF_INET");
        ok(strcmp(cli.peer, want) == 0, "client peername %s", cli.peer);
        ok(strcmp(srv.sock, want) == 0, "server sockname %s", srv.sock);
        ok(strcmp(cli.sock, srv.peer) == 0 && strncmp(cli.sock, "127.0.0.1:", 10) == 0,
           "client sockname = server peername (%s)", cli.sock);
    }
    return 0;
}

static void test_extra_info(void) {
    is_int(run(names_body, NULL), 0, "extra info over TCP");
    char path[128];
    snprintf(path, sizeof path, "%s/names.sock", tmpdir);
    is_int(run(names_body, path), 0, "extra info over a Unix socket");
}

/* --- socketpairs and weir_open_connection_fd -------------------------------------------- */

typedef struct pair_case {
    weir_reader *r;
    weir_writer *w;
    int raw; /* the other end, used with plain send/close */
} pair_case;

static void send_abc(void *arg) {
    pair_case *c = arg;
    ssize_t n = send(c->raw, "abc", 3, 0);
    (void)n;
}

/* asyncio's "wait for data on an open socket": the data arrives on a later tick. */
static int wait_for_data_body(void *arg) {
    pair_case *c = arg;
    weir_call_soon(weir_current_loop(), send_abc, c);
    weir_bytes b;
    int rc = weir_read(c->r, 100, &b);
    is_int(rc, 0, "read on the adopted end");
    is_bytes(b, "abc", "received the data sent on the other end");
    weir_write(c->w, "pong", 4);
    weir_drain(c->w);
    char got[8] = {0};
    /* Sent at once: a socketpair's send lands in the peer's receive queue. (Read it before
     * closing: a Unix socket closed with unread data resets its peer.) */
    ssize_t n = recv(c->raw, got, sizeof got, MSG_DONTWAIT);
    ok(n == 4 && memcmp(got, "pong", 4) == 0, "the other end received our write");
    close(c->raw);
    rc = weir_read(c->r, 100, &b);
    ok(rc == 0 && b.len == 0, "the other end closed: EOF (%s)", weir_errname(rc));
    weir_writer_close(c->w);
    return weir_wait_closed(c->w);
}

static int pair_echo_server(void *arg) {
    pair_case *c = arg;
    int rc = weir_line_echo(c->r, c->w, NULL);
    weir_wait_closed(c->w);
    return rc;
}

static int pair_both_body(void *arg) {
    pair_case *c = arg;
    weir_task *srv = spawn(pair_echo_server, &c[0]);
    weir_line_client_result res = {0};
    weir_line_client_cfg cfg = {.lines = echo_lines, .nlines = NLINES, .result = &res};
    int rc = weir_line_exchange(c[1].r, c[1].w, &cfg, &res);
    is_int(rc, 0, "line exchange across a socketpair adopted at both ends");
    is_int(res.received, NLINES, "every line echoed");
    weir_writer_close(c[1].w);
    weir_wait_closed(c[1].w);
    is_int(join(srv), 0, "the echo end saw a clean EOF");
    return rc;
}

static void test_socketpair(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return;
    weir_loop *loop = new_loop();
    pair_case c = {.raw = sv[1]};
    is_int(weir_open_connection_fd(loop, sv[0], NULL, &c.r, &c.w), 0,
           "open_connection_fd outside a task, with the loop given");
    ok(fcntl(sv[0], F_GETFL) & O_NONBLOCK, "the adopted socket is non-blocking");
    ok(run_on(loop, wait_for_data_body, &c, LIMIT) == 0, "wait for data on an open socket");
    weir_writer_free(c.w);
    ok(fcntl(sv[0], F_GETFD) < 0 && errno == EBADF, "freeing the writer closed the socket");
    weir_loop_free(loop);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return;
    loop = new_loop();
    pair_case both[2] = {{0}};
    int rc0 = weir_open_connection_fd(loop, sv[0], NULL, &both[0].r, &both[0].w);
    int rc1 = weir_open_connection_fd(loop, sv[1], NULL, &both[1].r, &both[1].w);
    ok(rc0 == 0 && rc1 == 0, "both ends adopted");
    ok(run_on(loop, pair_both_body, both, LIMIT) == 0, "socketpair echo run");
    weir_writer_free(both[0].w);
    weir_writer_free(both[1].w);
    weir_loop_free(loop);
}

static void test_adopt_errors(void) {
    weir_loop *loop = new_loop();
    weir_reader *r = (weir_reader *)1;
    weir_writer *w = (weir_writer *)1;
    is_int(weir_open_connection_fd(loop, -1, NULL, &r, &w), WEIR_EINVAL, "fd -1: WEIR_EINVAL");
    ok(r == NULL && w == NULL, "outputs cleared");
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    is_int(weir_open_connection_fd(loop, udp, NULL, &r, &w), WEIR_EINVAL,
           "a datagram socket: WEIR_EINVAL");
    ok(fcntl(udp, F_GETFD) >= 0, "and it is left open, still the caller's");
    close(udp);
    int fds[2];
    if (pipe(fds) == 0) {
        is_int(weir_open_connection_fd(loop, fds[0], NULL, &r, &w), WEIR_EINVAL,
               "a pipe: WEIR_EINVAL");
        close(fds[0]);
        close(fds[1]);
    }
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    is_int(weir_open_connection_fd(NULL, sv[0], NULL, &r, &w), WEIR_ENOTASK,
           "no loop and no task: WEIR_ENOTASK");
    weir_open_opts bad = {.limit = -1};
    is_int(weir_open_connection_fd(loop, sv[0], &bad, &r, &w), WEIR_EINVAL,
           "a negative limit: WEIR_EINVAL");
    weir_loop *v;
    weir_loop_new_virtual(&v);
    is_int(weir_open_connection_fd(v, sv[0], NULL, &r, &w), WEIR_ENOTSUP,
           "a virtual loop cannot adopt: WEIR_ENOTSUP");
    weir_loop_free(v);
    weir_open_opts small = {.limit = 10};
    is_int(weir_open_connection_fd(loop, sv[0], &small, &r, &w), 0, "a limit of 10 is fine");
    is_int(weir_reader_limit(r), 10, "and the reader has it");
    weir_writer_free(w);
    close(sv[1]);
    weir_loop_free(loop);
}

/* --- serve_forever, close, wait_closed ------------------------------------------------ */

static int forever_main(void *arg) { return weir_server_serve_forever(arg); }

static int slow_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    (void)arg;
    weir_bytes line;
    return weir_readline(r, &line);
}

static int lifecycle_body(void *arg) {
    (void)arg;
    weir_server *s;
    int rc = weir_start_server(NULL, slow_handler, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    weir_task *f = spawn(forever_main, s);
    weir_yield();
    ok(weir_server_is_serving(s), "serving");
    weir_reader *r;
    weir_writer *w;
    rc = weir_open_connection("127.0.0.1", weir_server_port(s), NULL, &r, &w);
    is_int(rc, 0, "connected");
    /* Let the server accept and start the handler. */
    for (int i = 0; i < 200 && weir_server_active(s) == 0; i++) weir_sleep(WEIR_MS);
    is_int(weir_server_active(s), 1, "one handler running");
    weir_server_close(s);
    is_int(join(f), 0, "serve_forever returns when the server closes");
    ok(!weir_server_is_serving(s), "not serving");
    /* wait_closed waits for the handler, which waits for our line. */
    weir_write(w, "done\n", 5);
    int64_t t0 = weir_now();
    is_int(weir_server_wait_closed(s), 0, "wait_closed after the last handler");
    ok(weir_now() - t0 < 5 * WEIR_SEC, "promptly");
    weir_bytes b;
    rc = weir_read(r, 10, &b);
    ok(rc == 0 && b.len == 0, "the server closed our connection after its handler returned");
    weir_writer_free(w);
    weir_server_free(s);
    return 0;
}

static void test_lifecycle(void) { is_int(run(lifecycle_body, NULL), 0, "server life cycle"); }

int main(void) {
    alarm(120); /* a hang is a failure, not a stuck CI job */
    make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/weir-sock-XXXXXX");
    test_echo();
    test_ephemeral();
    test_many();
    test_half_close();
    test_bulk();
    test_extra_info();
    test_socketpair();
    test_adopt_errors();
    test_lifecycle();
    rmdir(tmpdir);
    return done_testing();
}
