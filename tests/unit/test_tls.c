/* tests/unit/test_tls.c - TLS on real sockets (the poll backend, 127.0.0.1): weir's client
 * and server together, against `openssl s_server` and `openssl s_client` (peers no one here
 * wrote), a peer that stops mid-handshake; and the context and argument errors.
 * Certificates come from tests/certs.sh, run into a fresh temporary directory. The openssl
 * processes talk to the test through a socketpair on their stdin and stdout, which the test
 * adopts as a weir stream; each is killed at the end of its test. alarm() bounds it all. */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sock_util.h"
#include "tap.h"
#include "tls_util.h"
#include "weir/poll.h"
#include "weir/tls.h"
#include "weir/weir.h"

#define MS WEIR_MS
#define LIMIT (20 * WEIR_SEC) /* per test body */

static weir_tls_ctx *server_ctx(void) {
    weir_tls_server_opts o = {.cert_file = cert("server-chain.pem"),
                              .key_file = cert("server.key")};
    return new_server_ctx(&o);
}

static weir_tls_ctx *client_ctx(void) {
    weir_tls_client_opts o = {.ca_file = cert("ca.pem")};
    return new_client_ctx(&o);
}

/* --- loops, tasks, processes -------------------------------------------------------- */

/* A port nobody listens on right now (bound, read, released). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        printf("Bail out! cannot find a free port\n");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Start `openssl argv...` with its stdin and stdout on a socketpair, stderr to a log file;
 * *fd is our end. Forked outside any task. */
static pid_t spawn_openssl(const char *const argv[], const char *log, int *fd) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        if (err >= 0) dup2(err, 2);
        close(sv[0]);
        close(sv[1]);
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

/* Stop and reap the process: it may have exited by itself already. */
static void reap(pid_t pid) {
    if (pid <= 0) return;
    int status;
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return;
        usleep(10000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
}

static void show_log(const char *log) {
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) printf("#   %s", line);
    fclose(f);
}

static int readline_into(weir_reader *r, char *buf, size_t n) {
    weir_bytes line;
    int rc = weir_readline(r, &line);
    if (rc == 0) snprintf(buf, n, "%.*s", (int)line.len, line.data);
    return rc;
}

/* --- contexts and arguments --------------------------------------------------------- */

static int nop_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r;
    (void)w;
    (void)arg;
    return 0;
}

static int in_task_errors(void *arg) {
    weir_tls_ctx **ctx = arg; /* [client, server] */
    weir_reader *r;
    weir_writer *w;
    weir_open_opts o = {.tls = ctx[1]};
    is_int(weir_open_connection("127.0.0.1", 9, &o, &r, &w), WEIR_EINVAL,
           "open_connection with a server context");
    weir_open_opts t = {.tls_handshake_timeout = WEIR_SEC};
    is_int(weir_open_connection("127.0.0.1", 9, &t, &r, &w), WEIR_EINVAL,
           "a handshake timeout without TLS");
    weir_open_opts h = {.server_hostname = "x"};
    is_int(weir_open_connection("127.0.0.1", 9, &h, &r, &w), WEIR_EINVAL,
           "a server_hostname without TLS");
    weir_open_opts n = {.tls = ctx[0], .tls_shutdown_timeout = -1};
    is_int(weir_open_connection("127.0.0.1", 9, &n, &r, &w), WEIR_EINVAL,
           "a negative shutdown timeout");
    weir_open_opts u = {.tls = ctx[0]};
    is_int(weir_open_unix_connection("/nonexistent", &u, &r, &w), WEIR_EINVAL,
           "TLS over a Unix socket needs a server_hostname");
    weir_server *s;
    weir_server_opts so = {.tls = ctx[0]};
    is_int(weir_start_server(NULL, NULL, NULL, "127.0.0.1", 0, &so, &s), WEIR_EINVAL,
           "start_server with a client context (or no handler)");
    is_int(weir_start_server(NULL, nop_handler, NULL, "127.0.0.1", 0, &so, &s), WEIR_EINVAL,
           "start_server with a client context");
    weir_server_opts st = {.tls_shutdown_timeout = WEIR_SEC};
    is_int(weir_start_server(NULL, nop_handler, NULL, "127.0.0.1", 0, &st, &s), WEIR_EINVAL,
           "a shutdown timeout without TLS");
    return 0;
}

/* rc is WEIR_EINVAL and weir_tls_last_error() has want. */
static void einval(int rc, const char *want, const char *what) {
    is_int(rc, WEIR_EINVAL, "%s", what);
    ok(contains(weir_tls_last_error(), want), "%s: %s", what, weir_tls_last_error());
}

/* Client certificates and ALPN: bad options are WEIR_EINVAL with a message, never a crash. */
static void test_option_errors(void) {
    weir_tls_ctx *c = NULL;
    weir_tls_server_opts s = {.cert_file = cert("server.pem"), .key_file = cert("server.key")};

    weir_tls_server_opts o = s;
    o.verify_mode = WEIR_TLS_CERT_REQUIRED;
    einval(weir_tls_server_ctx_new(&o, &c), "ca_file or ca_dir",
           "verify_mode without the CAs to verify with");
    o.ca_file = "/nonexistent/ca.pem";
    einval(weir_tls_server_ctx_new(&o, &c), "/nonexistent/ca.pem",
           "a client CA file that is not there");
    o.ca_file = NULL;
    o.ca_dir = "/nonexistent/cadir";
    einval(weir_tls_server_ctx_new(&o, &c), "/nonexistent/cadir",
           "a client CA directory that is not there");
    o.ca_dir = cert("ca.pem");
    einval(weir_tls_server_ctx_new(&o, &c), "Not a directory",
           "a client CA directory that is a file");
    weir_tls_client_opts nodir = {.ca_dir = "/nonexistent/cadir"};
    einval(weir_tls_client_ctx_new(&nodir, &c), "/nonexistent/cadir",
           "client: a CA directory that is not there");
    o = s;
    o.verify_mode = (weir_tls_verify_mode)7;
    o.ca_file = cert("ca.pem");
    einval(weir_tls_server_ctx_new(&o, &c), "verify_mode", "a verify_mode that is none of them");
    o.verify_mode = WEIR_TLS_CERT_OPTIONAL;
    o.verify_time = -1;
    einval(weir_tls_server_ctx_new(&o, &c), "negative", "a negative verify_time");
    o = s;
    o.ca_file = cert("ca.pem");
    einval(weir_tls_server_ctx_new(&o, &c), "need a verify_mode", "ca_file without verify_mode");
    o = s;
    o.verify_time = 1;
    einval(weir_tls_server_ctx_new(&o, &c), "need a verify_mode",
           "verify_time without verify_mode");
    o = s;
    o.verify_mode = WEIR_TLS_CERT_REQUIRED;
    o.ca_dir = cert("cadir");
    is_int(weir_tls_server_ctx_new(&o, &c), 0, "client certificates checked against a CA dir");
    weir_tls_ctx_free(c);
    c = NULL;

    static char long_name[257];
    memset(long_name, 'a', 256);
    const char *const empty[] = {"h2", "", NULL};
    const char *const too_long[] = {long_name, NULL};
    const char *const longest[] = {long_name + 1, "h2", NULL};
    o = s;
    o.alpn_protocols = empty;
    einval(weir_tls_server_ctx_new(&o, &c), "ALPN protocol 1 is 0 bytes long",
           "server: an empty ALPN name");
    o.alpn_protocols = too_long;
    einval(weir_tls_server_ctx_new(&o, &c), "ALPN protocol 0 is 256 bytes long",
           "server: an ALPN name of 256 bytes");
    o.alpn_protocols = longest;
    is_int(weir_tls_server_ctx_new(&o, &c), 0, "server: an ALPN name of 255 bytes");
    weir_tls_ctx_free(c);
    c = NULL;
    weir_tls_client_opts co = {.ca_file = cert("ca.pem"), .alpn_protocols = empty};
    einval(weir_tls_client_ctx_new(&co, &c), "1 to 255 bytes", "client: an empty ALPN name");
    co.alpn_protocols = too_long;
    einval(weir_tls_client_ctx_new(&co, &c), "1 to 255 bytes", "client: an ALPN name of 256 bytes");
    static const char *many[300];
    for (int i = 0; i < 299; i++) many[i] = long_name + 1;
    co.alpn_protocols = many;
    einval(weir_tls_client_ctx_new(&co, &c), "65535", "client: more ALPN than fits");
    co.alpn_protocols = longest;
    is_int(weir_tls_client_ctx_new(&co, &c), 0, "client: an ALPN name of 255 bytes");
    weir_tls_ctx_free(c);
    c = NULL;
    co = (weir_tls_client_opts){.cert_file = cert("stranger.pem"), .key_file = cert("client.key")};
    einval(weir_tls_client_ctx_new(&co, &c), "mismatch", "client: a key of another certificate");
    co = (weir_tls_client_opts){.cert_file = "/nonexistent/client.pem"};
    einval(weir_tls_client_ctx_new(&co, &c), "/nonexistent/client.pem",
           "client: a certificate file that is not there");
    einval(weir_tls_client_ctx_new(NULL, NULL), "out is NULL", "client: no place for it");
    einval(weir_tls_server_ctx_new(&s, NULL), "out is NULL", "server: no place for it");
}

static void test_errors(void) {
    weir_tls_ctx *c = NULL;
    weir_tls_server_opts missing = {.cert_file = "/nonexistent/cert.pem"};
    is_int(weir_tls_server_ctx_new(&missing, &c), WEIR_EINVAL,
           "a certificate file that is not there");
    ok(strstr(weir_tls_last_error(), "/nonexistent/cert.pem") &&
           strstr(weir_tls_last_error(), "No such file"),
       "the error names the file and why: %s", weir_tls_last_error());
    weir_tls_server_opts mismatch = {.cert_file = cert("server.pem"),
                                     .key_file = cert("wrong.key")};
    is_int(weir_tls_server_ctx_new(&mismatch, &c), WEIR_EINVAL, "a key of another certificate");
    ok(strstr(weir_tls_last_error(), "wrong.key") && strstr(weir_tls_last_error(), "mismatch"),
       "%s", weir_tls_last_error());
    weir_tls_server_opts notpem = {.cert_file = cert("openssl.cnf")};
    is_int(weir_tls_server_ctx_new(&notpem, &c), WEIR_EINVAL, "a file that is not PEM");
    ok(weir_tls_last_error()[0], "%s", weir_tls_last_error());
    is_int(weir_tls_server_ctx_new(NULL, &c), WEIR_EINVAL, "a server context needs options");
    weir_tls_client_opts badca = {.ca_file = "/nonexistent/ca.pem"};
    is_int(weir_tls_client_ctx_new(&badca, &c), WEIR_EINVAL, "a CA file that is not there");
    weir_tls_client_opts keyonly = {.key_file = cert("client.key")};
    is_int(weir_tls_client_ctx_new(&keyonly, &c), WEIR_EINVAL, "a key without a certificate");
    is_int(weir_tls_client_ctx_new(NULL, &c), 0, "a client context on the system's CAs");
    weir_tls_ctx_free(c);
    weir_tls_ctx_free(NULL);
    weir_tls_client_opts withcert = {
        .ca_file = cert("ca.pem"), .cert_file = cert("client.pem"), .key_file = cert("client.key")};
    is_int(weir_tls_client_ctx_new(&withcert, &c), 0, "a client context with a certificate");
    weir_tls_ctx_free(c);

    test_option_errors();

    weir_tls_ctx *ctx[2] = {client_ctx(), server_ctx()};
    is_int(weir_start_tls(NULL, ctx[0], "x", 0, 0), WEIR_EINVAL, "start_tls without a writer");
    weir_loop *loop = new_loop();
    is_int(run_on(loop, in_task_errors, ctx, LIMIT), 0, "argument checks in a task");
    weir_reader *r[2];
    weir_writer *w[2];
    weir_stream_pair(loop, NULL, r, w);
    is_int(weir_start_tls(w[0], ctx[0], "x", 0, 0), WEIR_ENOTASK, "start_tls outside a task");
    is_int(weir_start_tls(w[0], ctx[0], NULL, 0, 0), WEIR_EINVAL,
           "start_tls: a verifying client needs a server_hostname");
    is_int(weir_start_tls(w[0], ctx[0], "", 0, 0), WEIR_EINVAL, "start_tls: \"\" is none");
    is_int(weir_start_tls(w[0], ctx[0], "x", -1, 0), WEIR_EINVAL, "start_tls: a negative timeout");
    weir_writer_free(w[0]);
    weir_writer_free(w[1]);
    weir_loop_free(loop);
    weir_tls_ctx_free(ctx[0]);
    weir_tls_ctx_free(ctx[1]);
}

/* --- weir with weir ----------------------------------------------------------------- */

typedef struct loopback {
    weir_tls_ctx *sctx, *cctx;
    int64_t got;
    int handler_end;
    char reply[64], version[32], peer[64];
    int64_t sock_fd;
} loopback;

static int sink_handler(weir_reader *r, weir_writer *w, void *arg) {
    loopback *l = arg;
    weir_bytes line;
    for (;;) {
        int rc = weir_readuntil(r, "\n", 1, &line);
        if (rc) {
            l->handler_end = rc;
            break;
        }
        if (line.len == 4 && memcmp(line.data, "end\n", 4) == 0) break;
        l->got += (int64_t)line.len;
    }
    char reply[64];
    int n = snprintf(reply, sizeof reply, "got %lld\n", (long long)l->got);
    weir_write(w, reply, (size_t)n);
    weir_drain(w);
    return 0;
}

static int loopback_body(void *arg) {
    loopback *l = arg;
    weir_server_opts so = {.tls = l->sctx};
    weir_server *s;
    int rc = weir_start_server(NULL, sink_handler, l, "127.0.0.1", 0, &so, &s);
    if (rc) return rc;
    weir_open_opts o = {.tls = l->cctx, .server_hostname = "localhost"};
    weir_reader *r;
    weir_writer *w;
    rc = weir_open_connection("127.0.0.1", weir_server_port(s), &o, &r, &w);
    if (rc) {
        printf("# %s\n", weir_tls_last_error());
        goto out;
    }
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(l->version, 32, "%s", x.str);
    if (weir_get_extra_info(w, "peer_certificate", &x) == 0) snprintf(l->peer, 64, "%s", x.str);
    if (weir_get_extra_info(w, "socket", &x) == 0 && x.kind == WEIR_EXTRA_INT) l->sock_fd = x.num;
    /* 4 MiB in 1 KiB lines, draining as asyncio code does: flow control on real sockets. */
    static char lineb[1024];
    memset(lineb, 'x', sizeof lineb - 1);
    lineb[sizeof lineb - 1] = '\n';
    for (int i = 0; i < 4096 && rc == 0; i++) {
        rc = weir_write(w, lineb, sizeof lineb);
        if (rc == 0) rc = weir_drain(w);
    }
    if (rc == 0) rc = weir_write(w, "end\n", 4);
    if (rc == 0) rc = readline_into(r, l->reply, sizeof l->reply);
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    if (rc == 0) rc = closed;
    weir_writer_free(w);
out:
    weir_server_close(s);
    weir_server_wait_closed(s);
    weir_server_free(s);
    return rc;
}

static void test_loopback(void) {
    loopback l = {.sctx = server_ctx(), .cctx = client_ctx(), .sock_fd = -1};
    weir_loop *loop = new_loop();
    is_int(run_on(loop, loopback_body, &l, LIMIT), 0, "loopback: weir client and server, 4 MiB");
    weir_loop_free(loop);
    ok(strcmp(l.version, "TLSv1.3") == 0, "loopback: %s", l.version);
    ok(strcmp(l.peer, "CN=localhost") == 0, "loopback: peer_certificate %s", l.peer);
    ok(l.sock_fd >= 0, "loopback: \"socket\" passes through to the socket transport");
    ok(strcmp(l.reply, "got 4194304\n") == 0, "loopback: every byte arrived (%s)", shown(l.reply));
    weir_tls_ctx_free(l.sctx);
    weir_tls_ctx_free(l.cctx);
}

/* --- adopted sockets: opts.tls on weir_open_connection_fd ----------------------------- */

typedef struct adopted {
    weir_tls_ctx *sctx, *cctx;
    int fds[2];
    int srv_rc, cli_rc, nohost_rc;
    char line[32];
} adopted;

static int adopted_server(void *arg) {
    adopted *a = arg;
    weir_reader *r;
    weir_writer *w;
    a->srv_rc = weir_open_connection_fd(NULL, a->fds[1], NULL, &r, &w);
    if (a->srv_rc) return 0;
    a->srv_rc = weir_start_tls(w, a->sctx, NULL, 0, 0);
    weir_bytes line;
    if (a->srv_rc == 0 && weir_readline(r, &line) == 0) weir_write(w, line.data, line.len);
    if (a->srv_rc == 0) weir_readline(r, &line); /* the client's close_notify */
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static int adopted_body(void *arg) {
    adopted *a = arg;
    weir_task *t = spawn(adopted_server, a);
    weir_reader *r;
    weir_writer *w;
    weir_open_opts nohost = {.tls = a->cctx};
    a->nohost_rc = weir_open_connection_fd(NULL, a->fds[0], &nohost, &r, &w);
    weir_open_opts o = {.tls = a->cctx, .server_hostname = "localhost"};
    a->cli_rc = weir_open_connection_fd(NULL, a->fds[0], &o, &r, &w);
    if (a->cli_rc == 0) {
        weir_write(w, "adopted\n", 8);
        readline_into(r, a->line, sizeof a->line);
        weir_writer_close(w);
        weir_wait_closed(w);
        weir_writer_free(w);
    }
    int rc;
    weir_join(t, &rc);
    return 0;
}

static void test_adopted(void) {
    adopted a = {.sctx = server_ctx(), .cctx = client_ctx()};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a.fds) != 0) abort();
    weir_loop *loop = new_loop();
    is_int(run_on(loop, adopted_body, &a, LIMIT), 0, "adopted: run");
    weir_loop_free(loop);
    is_int(a.nohost_rc, WEIR_EINVAL, "adopted: TLS on an fd needs a server_hostname");
    is_int(a.cli_rc, 0, "adopted: handshake on an adopted socketpair end");
    is_int(a.srv_rc, 0, "adopted: start_tls on the other end");
    ok(strcmp(a.line, "adopted\n") == 0, "adopted: echo (%s)", shown(a.line));
    weir_tls_ctx_free(a.sctx);
    weir_tls_ctx_free(a.cctx);
}

/* --- weir's client against openssl s_server ---------------------------------------- */

typedef struct interop {
    weir_tls_ctx *ctx;
    int port, stdio_fd;
    bool refused; /* s_server refuses us: connect, then read its verdict */
    char from_peer[64], from_weir[64], version[32], alpn[32];
    int connect_rc, closed_rc, read_rc;
    char err[320]; /* weir_tls_last_error() after connecting, or the read's tls_error */
} interop;

/* What weir's client learns from a server that refuses its certificate: over TLS 1.2 the
 * handshake fails, over TLS 1.3 the first read does. */
static void hear_refusal(interop *t, weir_reader *r, weir_writer *w) {
    weir_bytes line;
    t->read_rc = weir_readline(r, &line);
    weir_extra x;
    if (weir_get_extra_info(w, "tls_error", &x) == 0) snprintf(t->err, sizeof t->err, "%s", x.str);
}

static int s_server_body(void *arg) {
    interop *t = arg;
    weir_reader *pr, *r;
    weir_writer *pw, *w;
    int rc = weir_open_connection_fd(NULL, t->stdio_fd, NULL, &pr, &pw);
    if (rc) return rc;
    weir_open_opts o = {
        .tls = t->ctx, .server_hostname = "localhost", .tls_shutdown_timeout = 2 * WEIR_SEC};
    /* s_server may not be listening yet: retry for up to 5 s. */
    for (int i = 0; i < 100; i++) {
        t->connect_rc = weir_open_connection("127.0.0.1", t->port, &o, &r, &w);
        if (t->connect_rc != WEIR_ECONNREFUSED) break;
        weir_sleep(50 * MS);
    }
    snprintf(t->err, sizeof t->err, "%s", weir_tls_last_error());
    if ((rc = t->connect_rc) != 0) {
        if (!t->refused) printf("# %s\n", weir_tls_last_error());
        goto out;
    }
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(t->version, 32, "%s", x.str);
    if (weir_get_extra_info(w, "alpn_protocol", &x) == 0)
        snprintf(t->alpn, 32, "%.*s", (int)x.len, x.str);
    if (t->refused) {
        hear_refusal(t, r, w);
    } else {
        weir_write(w, "hello from weir\n", 16);
        rc = readline_into(pr, t->from_weir, sizeof t->from_weir); /* s_server's stdout */
        if (rc == 0) {
            weir_write(pw, "hello from s_server\n", 20); /* its stdin, sent to us */
            rc = readline_into(r, t->from_peer, sizeof t->from_peer);
        }
    }
    weir_writer_close(w);
    t->closed_rc = weir_wait_closed(w);
    weir_writer_free(w);
out:
    weir_writer_close(pw);
    weir_wait_closed(pw);
    weir_writer_free(pw);
    return rc;
}

/* Run `openssl s_server` with our server certificate, -quiet, for one connection, and the
 * arguments in extra (NULL-terminated), against s_server_body. Its result; t->ctx is the
 * client's context. */
static int s_server_go(interop *t, const char *const *extra) {
    t->port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", t->port);
    const char *log = cert("s_server.log");
    const char *argv[32] = {
        "openssl", "s_server",         "-accept",  accept, "-cert", cert("server.pem"),
        "-key",    cert("server.key"), "-naccept", "1",    "-quiet"};
    size_t n = 11;
    for (size_t i = 0; extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = spawn_openssl(argv, log, &t->stdio_fd);
    if (pid <= 0) return WEIR_EINVAL;
    weir_loop *loop = new_loop();
    int rc = run_on(loop, s_server_body, t, LIMIT);
    weir_loop_free(loop);
    reap(pid);
    if (rc && !t->refused) show_log(log);
    return rc;
}

/* version: "-tls1_3" or "-tls1_2", forced on s_server. */
static void s_server_run(const char *version, const char *want) {
    interop t = {.ctx = client_ctx()};
    const char *extra[] = {version, NULL};
    int rc = s_server_go(&t, extra);
    is_int(rc, 0, "s_server %s: weir's client talked to openssl s_server", version);
    ok(strcmp(t.version, want) == 0, "s_server %s: %s", version, t.version);
    ok(strcmp(t.from_weir, "hello from weir\n") == 0, "s_server %s: it got our line", version);
    ok(strcmp(t.from_peer, "hello from s_server\n") == 0, "s_server %s: we got its line", version);
    is_int(t.closed_rc, 0, "s_server %s: it answered our close_notify", version);
    weir_tls_ctx_free(t.ctx);
}

static void test_s_server(void) {
    s_server_run("-tls1_3", "TLSv1.3");
    s_server_run("-tls1_2", "TLSv1.2");
}

/* weir's client with a certificate and ALPN, against s_server -Verify (which requires a
 * client certificate from ca.pem) -alpn. */
static void s_server_mtls(const char *version, const char *want) {
    const char *const alpn[] = {"http/1.1", "h2", NULL};
    weir_tls_client_opts co = {.ca_file = cert("ca.pem"),
                               .cert_file = cert("client-chain.pem"),
                               .key_file = cert("client.key"),
                               .alpn_protocols = alpn};
    interop t = {.ctx = new_client_ctx(&co)};
    const char *extra[] = {
        "-Verify",     "1",     "-CAfile", cert("ca.pem"), "-verify_return_error", "-alpn",
        "h2,http/1.1", version, NULL};
    int rc = s_server_go(&t, extra);
    is_int(rc, 0, "s_server -Verify %s: weir's client, with its certificate, talked to it",
           version);
    ok(strcmp(t.version, want) == 0, "s_server -Verify %s: %s", version, t.version);
    ok(strcmp(t.alpn, "h2") == 0, "s_server -alpn %s: its choice, h2 (%s)", version, t.alpn);
    ok(strcmp(t.from_weir, "hello from weir\n") == 0 &&
           strcmp(t.from_peer, "hello from s_server\n") == 0,
       "s_server -Verify %s: a line each way", version);
    is_int(t.closed_rc, 0, "s_server -Verify %s: clean close", version);
    weir_tls_ctx_free(t.ctx);
}

/* s_server -Verify refuses weir's client: without a certificate, or with one from a CA it
 * does not trust. Over TLS 1.2 open_connection fails; over TLS 1.3 the first read. */
static void s_server_refuses(const char *version, const char *client, const char *expect) {
    weir_tls_client_opts co = {.ca_file = cert("ca.pem")};
    char c[64], k[64];
    if (client) {
        snprintf(c, sizeof c, "%s.pem", client);
        snprintf(k, sizeof k, "%s.key", client);
        co.cert_file = cert(c);
        co.key_file = cert(k);
    }
    interop t = {.ctx = new_client_ctx(&co), .refused = true};
    const char *extra[] = {"-Verify", "1", "-CAfile", cert("ca.pem"), "-verify_return_error",
                           version,   NULL};
    const char *who = client ? "an untrusted certificate" : "no certificate";
    (void)s_server_go(&t, extra);
    if (strcmp(version, "-tls1_2") == 0) {
        is_int(t.connect_rc, WEIR_ETLS, "s_server -Verify %s, %s: the handshake fails", version,
               who);
    } else {
        is_int(t.connect_rc, 0, "s_server -Verify %s, %s: the client's handshake is over first",
               version, who);
        is_int(t.read_rc, WEIR_ETLS, "s_server -Verify %s, %s: then the first read fails", version,
               who);
    }
    ok(contains(t.err, expect), "s_server -Verify %s, %s: %s", version, who, t.err);
    weir_tls_ctx_free(t.ctx);
}

static void test_s_server_mtls(void) {
    s_server_mtls("-tls1_3", "TLSv1.3");
    s_server_mtls("-tls1_2", "TLSv1.2");
    s_server_refuses("-tls1_3", NULL, "tlsv13 alert certificate required");
    s_server_refuses("-tls1_2", NULL, "alert handshake failure");
    s_server_refuses("-tls1_3", "stranger", "alert unknown ca");
    s_server_refuses("-tls1_2", "stranger", "alert unknown ca");
}

/* --- openssl s_client against weir's server ---------------------------------------- */

typedef struct echo_srv {
    int calls, lines, end;
    char version[32], peer[64], alpn[32];
    int peer_rc, alpn_rc;
} echo_srv;

static int echo_handler(weir_reader *r, weir_writer *w, void *arg) {
    echo_srv *e = arg;
    e->calls++;
    weir_extra x;
    if (weir_get_extra_info(w, "tls_version", &x) == 0) snprintf(e->version, 32, "%s", x.str);
    if ((e->peer_rc = weir_get_extra_info(w, "peer_certificate", &x)) == 0)
        snprintf(e->peer, 64, "%s", x.str);
    if ((e->alpn_rc = weir_get_extra_info(w, "alpn_protocol", &x)) == 0)
        snprintf(e->alpn, 32, "%.*s", (int)x.len, x.str);
    weir_bytes line;
    int rc;
    while ((rc = weir_reader_next_line(r, &line)) > 0) {
        e->lines++;
        if (weir_write(w, line.data, line.len) || weir_drain(w)) break;
    }
    e->end = rc;
    return 0;
}

typedef struct client_side {
    weir_server *srv;
    int stdio_fd;
    char echoed[64];
} client_side;

static int s_client_body(void *arg) {
    client_side *t = arg;
    weir_reader *pr;
    weir_writer *pw;
    int rc = weir_open_connection_fd(NULL, t->stdio_fd, NULL, &pr, &pw);
    if (rc) return rc;
    weir_write(pw, "hello from s_client\n", 20);
    rc = readline_into(pr, t->echoed, sizeof t->echoed);
    /* EOF on its stdin: s_client (-no_ign_eof) sends close_notify and exits. */
    weir_writer_close(pw);
    weir_wait_closed(pw);
    weir_writer_free(pw);
    /* Wait for the handler to see the close_notify and return. */
    for (int i = 0; i < 200 && weir_server_active(t->srv) > 0; i++) weir_sleep(10 * MS);
    return rc;
}

/* Run `openssl s_client` (verifying weir's certificate, -quiet, version forced, then the
 * arguments in extra) against weir's server with sctx and echo_handler(e), through
 * s_client_body(t), whose result goes to *rc. false when the server did not start (said as
 * a test). */
static bool s_client_go(const char *label, weir_tls_ctx *sctx, const char *version,
                        const char *const *extra, echo_srv *e, client_side *t, int *result) {
    weir_loop *loop = new_loop();
    weir_server_opts so = {.tls = sctx};
    weir_server *srv = NULL;
    int rc = weir_start_server(loop, echo_handler, e, "127.0.0.1", 0, &so, &srv);
    is_int(rc, 0, "%s %s: weir's TLS server listens", label, version);
    if (rc) {
        weir_loop_free(loop);
        return false;
    }
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", weir_server_port(srv));
    const char *log = cert("s_client.log");
    const char *argv[32] = {"openssl",
                            "s_client",
                            "-connect",
                            connect,
                            "-CAfile",
                            cert("ca.pem"),
                            "-verify_return_error",
                            "-verify_hostname",
                            "localhost",
                            "-servername",
                            "localhost",
                            "-quiet",
                            "-no_ign_eof",
                            version};
    size_t n = 14;
    for (size_t i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    t->srv = srv;
    pid_t pid = spawn_openssl(argv, log, &t->stdio_fd);
    ok(pid > 0, "%s %s: started", label, version);
    rc = run_on(loop, s_client_body, t, LIMIT);
    reap(pid);
    if (rc && e->calls) show_log(log);
    weir_server_free(srv);
    weir_loop_free(loop);
    *result = rc;
    return true;
}

/* version: "-tls1_3" or "-tls1_2", forced on s_client. */
static void s_client_run(const char *version, const char *want) {
    weir_tls_ctx *sctx = server_ctx();
    echo_srv e = {0};
    client_side t = {0};
    int rc;
    if (s_client_go("s_client", sctx, version, NULL, &e, &t, &rc)) {
        is_int(rc, 0, "s_client %s: openssl s_client talked to weir's server", version);
        ok(strcmp(t.echoed, "hello from s_client\n") == 0,
           "s_client %s: verified our certificate and got its line back (%s)", version,
           shown(t.echoed));
        is_int(e.calls, 1, "s_client %s: one handler run", version);
        ok(strcmp(e.version, want) == 0, "s_client %s: %s", version, e.version);
        is_int(e.end, 0, "s_client %s: its close_notify is our EOF", version);
    }
    weir_tls_ctx_free(sctx);
}

static void test_s_client(void) {
    s_client_run("-tls1_3", "TLSv1.3");
    s_client_run("-tls1_2", "TLSv1.2");
}

/* weir's server requiring a client certificate from ca.pem and speaking ALPN. */
static weir_tls_ctx *mtls_server_ctx(void) {
    const char *const alpn[] = {"h2", "http/1.1", NULL};
    weir_tls_server_opts o = {.cert_file = cert("server-chain.pem"),
                              .key_file = cert("server.key"),
                              .verify_mode = WEIR_TLS_CERT_REQUIRED,
                              .ca_file = cert("ca.pem"),
                              .alpn_protocols = alpn};
    return new_server_ctx(&o);
}

/* s_client -cert -key -alpn against it: the handler sees the client's certificate and the
 * protocol. */
static void s_client_mtls(const char *version) {
    weir_tls_ctx *sctx = mtls_server_ctx();
    echo_srv e = {0};
    client_side t = {0};
    const char *extra[] = {"-cert", cert("client.pem"), "-key", cert("client.key"),
                           "-alpn", "http/1.1,h2",      NULL};
    int rc;
    if (s_client_go("s_client -cert", sctx, version, extra, &e, &t, &rc)) {
        is_int(rc, 0, "s_client -cert %s: it talked to weir's server", version);
        ok(strcmp(t.echoed, "hello from s_client\n") == 0, "s_client -cert %s: its line back",
           version);
        is_int(e.calls, 1, "s_client -cert %s: one handler run", version);
        ok(e.peer_rc == 0 && strcmp(e.peer, "CN=weir client") == 0,
           "s_client -cert %s: the handler sees its certificate (%s)", version, e.peer);
        ok(e.alpn_rc == 0 && strcmp(e.alpn, "h2") == 0, "s_client -alpn %s: our choice, h2 (%s)",
           version, e.alpn);
        is_int(e.end, 0, "s_client -cert %s: its close_notify is our EOF", version);
    }
    weir_tls_ctx_free(sctx);
}

/* s_client without a certificate, or with an untrusted one, or offering only protocols we
 * do not speak. */
static void s_client_refused(const char *version, const char *client, const char *expect) {
    weir_tls_ctx *sctx = mtls_server_ctx();
    echo_srv e = {0};
    client_side t = {0};
    char c[64], k[64];
    snprintf(c, sizeof c, "%s.pem", client ? client : "");
    snprintf(k, sizeof k, "%s.key", client ? client : "");
    const char *with[] = {"-cert", cert(c), "-key", cert(k), NULL};
    const char *who = client ? "an untrusted certificate" : "no certificate";
    /* The server's error is read from the thread's last one: put another one there first. */
    weir_tls_client_opts reset = {.verify_time = -1};
    weir_tls_ctx *none;
    (void)weir_tls_client_ctx_new(&reset, &none);
    int rc;
    if (s_client_go("s_client refused", sctx, version, client ? with : NULL, &e, &t, &rc)) {
        is_int(e.calls, 0, "s_client %s, %s: the handler never ran", version, who);
        ok(t.echoed[0] == '\0', "s_client %s, %s: nothing came back", version, who);
        ok(contains(weir_tls_last_error(), expect), "s_client %s, %s: weir's server says: %s",
           version, who, weir_tls_last_error());
    }
    weir_tls_ctx_free(sctx);
}

/* ALPN with nothing in common: no protocol, and the connection goes on. */
static void s_client_alpn_mismatch(void) {
    weir_tls_ctx *sctx = mtls_server_ctx();
    echo_srv e = {0};
    client_side t = {0};
    const char *extra[] = {"-cert", cert("client.pem"), "-key", cert("client.key"),
                           "-alpn", "spdy/3",           NULL};
    int rc;
    if (s_client_go("s_client -alpn spdy/3", sctx, "-tls1_3", extra, &e, &t, &rc)) {
        is_int(rc, 0, "s_client -alpn spdy/3: the connection goes on");
        is_int(e.calls, 1, "s_client -alpn spdy/3: the handler ran");
        is_int(e.alpn_rc, WEIR_ENOENT, "s_client -alpn spdy/3: no protocol selected");
        ok(strcmp(t.echoed, "hello from s_client\n") == 0, "s_client -alpn spdy/3: echo");
    }
    weir_tls_ctx_free(sctx);
}

static void test_s_client_mtls(void) {
    s_client_mtls("-tls1_3");
    s_client_mtls("-tls1_2");
    s_client_refused("-tls1_3", NULL, "peer did not return a certificate");
    s_client_refused("-tls1_2", NULL, "peer did not return a certificate");
    s_client_refused("-tls1_3", "stranger", "client certificate verify failed");
    s_client_refused("-tls1_2", "stranger", "client certificate verify failed");
    s_client_alpn_mismatch();
}

/* --- weir with weir, mutual TLS -------------------------------------------------------- */

typedef struct mtls_pair {
    weir_tls_ctx *cctx;
    weir_server *srv;
    int rc;
    char alpn[32], line[32];
} mtls_pair;

static int mtls_body(void *arg) {
    mtls_pair *m = arg;
    weir_open_opts o = {.tls = m->cctx, .server_hostname = "localhost"};
    weir_reader *r;
    weir_writer *w;
    m->rc = weir_open_connection("127.0.0.1", weir_server_port(m->srv), &o, &r, &w);
    if (m->rc) {
        printf("# %s\n", weir_tls_last_error());
        return 0;
    }
    weir_extra x;
    if (weir_get_extra_info(w, "alpn_protocol", &x) == 0)
        snprintf(m->alpn, sizeof m->alpn, "%.*s", (int)x.len, x.str);
    weir_write(w, "mutual\n", 7);
    readline_into(r, m->line, sizeof m->line);
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    for (int i = 0; i < 200 && weir_server_active(m->srv) > 0; i++) weir_sleep(10 * MS);
    return 0;
}

/* weir's client with a chain file (leaf and CA) and ALPN; weir's server verifying it against
 * a hashed CA directory. */
static void test_mtls_loopback(void) {
    const char *const srv_alpn[] = {"http/1.1", NULL}, *const cli_alpn[] = {"h2", "http/1.1", NULL};
    weir_tls_server_opts so = {.cert_file = cert("server-chain.pem"),
                               .key_file = cert("server.key"),
                               .verify_mode = WEIR_TLS_CERT_REQUIRED,
                               .ca_dir = cert("cadir"),
                               .alpn_protocols = srv_alpn};
    weir_tls_client_opts co = {.ca_file = cert("ca.pem"),
                               .cert_file = cert("client-chain.pem"),
                               .key_file = cert("client.key"),
                               .alpn_protocols = cli_alpn};
    weir_tls_ctx *sctx = new_server_ctx(&so);
    mtls_pair m = {.cctx = new_client_ctx(&co)};
    weir_loop *loop = new_loop();
    echo_srv e = {0};
    weir_server_opts sv = {.tls = sctx};
    is_int(weir_start_server(loop, echo_handler, &e, "127.0.0.1", 0, &sv, &m.srv), 0,
           "mtls loopback: the server listens");
    is_int(run_on(loop, mtls_body, &m, LIMIT), 0, "mtls loopback: run");
    is_int(m.rc, 0, "mtls loopback: handshake");
    ok(strcmp(m.line, "mutual\n") == 0, "mtls loopback: echo (%s)", shown(m.line));
    ok(e.peer_rc == 0 && strcmp(e.peer, "CN=weir client") == 0,
       "mtls loopback: the server sees the client's certificate (%s)", e.peer);
    ok(strcmp(m.alpn, "http/1.1") == 0 && strcmp(e.alpn, "http/1.1") == 0,
       "mtls loopback: ALPN http/1.1 on both sides (%s, %s)", m.alpn, e.alpn);
    weir_server_free(m.srv);
    weir_loop_free(loop);
    weir_tls_ctx_free(sctx);
    weir_tls_ctx_free(m.cctx);
}

/* --- a peer that stops mid-handshake -------------------------------------------------- */

static int mute_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    (void)arg;
    weir_bytes b;
    while (weir_read(r, 4096, &b) == 0 && b.len > 0) {
    }
    return 0;
}

typedef struct stall {
    weir_tls_ctx *ctx;
    int rc;
    int64_t took;
} stall;

static int stall_body(void *arg) {
    stall *t = arg;
    weir_server *s;
    int rc = weir_start_server(NULL, mute_handler, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    weir_open_opts o = {
        .tls = t->ctx, .server_hostname = "localhost", .tls_handshake_timeout = 300 * MS};
    weir_reader *r;
    weir_writer *w;
    int64_t t0 = weir_now();
    t->rc = weir_open_connection("127.0.0.1", weir_server_port(s), &o, &r, &w);
    t->took = weir_now() - t0;
    if (t->rc == 0) weir_writer_free(w);
    weir_server_close(s);
    weir_server_wait_closed(s);
    weir_server_free(s);
    return 0;
}

static void test_stall(void) {
    stall t = {.ctx = client_ctx()};
    weir_loop *loop = new_loop();
    is_int(run_on(loop, stall_body, &t, LIMIT), 0, "stall: run");
    weir_loop_free(loop);
    is_int(t.rc, WEIR_ETIMEDOUT, "stall: a server that never answers the ClientHello");
    ok(t.took >= 300 * MS && t.took < 2 * WEIR_SEC, "stall: after the 300 ms timeout (%lld ms)",
       (long long)(t.took / MS));
    ok(strstr(weir_tls_last_error(), "timed out"), "stall: %s", weir_tls_last_error());
    weir_tls_ctx_free(t.ctx);
}

int main(void) {
    if (make_certs()) return 0;
    alarm(120);
    signal(SIGPIPE, SIG_IGN); /* a peer process gone before we write to its stdin */
    test_errors();
    test_loopback();
    test_adopted();
    test_s_server();
    test_s_client();
    test_s_server_mtls();
    test_s_client_mtls();
    test_mtls_loopback();
    test_stall();
    remove_certs();
    return done_testing();
}
