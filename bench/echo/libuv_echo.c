/* bench/echo/libuv_echo.c - the echo benchmark's protocol written directly on libuv.
 *
 * The same two roles as build/bench/echo (see bench/echo.c for the protocol), as a plain
 * callback program, the way one would write it for speed on libuv:
 *
 *     libuv_echo server [--host H] [--port P]      prints "port N", serves until killed
 *     libuv_echo client --port P [--host H] [--conns N] [--size B] [--seconds S]
 *                                                  prints "rt R bytes B seconds S cpu C"
 *
 * Server: each read lands in the connection's 64 KiB buffer and is written back with
 * uv_try_write; only what the kernel does not take at once is copied and queued with
 * uv_write (the equivalent of a write buffer plus drain). Client: the message is written
 * from one static buffer; reads are counted until the whole echo is back. TCP_NODELAY on
 * every socket, as asyncio and weir do.
 *
 * Built by bench/echo/run.sh when `pkg-config --exists libuv`:
 *     cc -O2 bench/echo/libuv_echo.c $(pkg-config --cflags --libs libuv) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#define READ_MAX 65536

static void check(const char *what, int rc) {
    if (rc < 0) {
        fprintf(stderr, "libuv_echo: %s: %s\n", what, uv_strerror(rc));
        exit(1);
    }
}

static void on_closed(uv_handle_t *h) { free(h->data); }

/* --- server --------------------------------------------------------------------------- */

typedef struct sconn {
    uv_tcp_t tcp;
    char buf[READ_MAX];
} sconn;

typedef struct pending_write {
    uv_write_t req;
    char data[];
} pending_write;

static void srv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    sconn *c = h->data;
    *buf = uv_buf_init(c->buf, READ_MAX);
}

static void srv_written(uv_write_t *req, int status) {
    (void)status; /* an error shows up as a failed read, which closes the connection */
    free(req);
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    sconn *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    if (n == 0) return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    int done = uv_try_write(s, &b, 1);
    if (done == UV_EAGAIN) done = 0;
    if (done < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    if (done == n) return;
    size_t rest = (size_t)n - (size_t)done;
    pending_write *w = malloc(sizeof *w + rest);
    if (!w) abort();
    memcpy(w->data, buf->base + done, rest);
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
    check("uv_write", uv_write(&w->req, s, &wb, 1, srv_written));
}

static void on_connection(uv_stream_t *server, int status) {
    check("connection", status);
    sconn *c = malloc(sizeof *c);
    if (!c) abort();
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    check("uv_read_start", uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read));
}

static int run_server(const char *host, int port) {
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    check("address", uv_ip4_addr(host, port, &addr));
    uv_tcp_init(loop, &server);
    check("bind", uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
    check("listen", uv_listen((uv_stream_t *)&server, 1024, on_connection));
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- client --------------------------------------------------------------------------- */

typedef struct client {
    size_t conns, size;
    uint64_t duration_ns;
    char *msg;
    size_t connected, finished;
    uint64_t start, end, stop, rts;
    double cpu; /* CPU seconds from start until every connection finished */
} client;

typedef struct cconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    client *cl;
    size_t got;
    uint64_t rts;
    char buf[READ_MAX];
} cconn;

static void cli_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    cconn *c = h->data;
    *buf = uv_buf_init(c->buf, READ_MAX);
}

static void cli_written(uv_write_t *req, int status) {
    free(req);
    check("write", status);
}

static void send_msg(cconn *c) {
    uv_buf_t b = uv_buf_init(c->cl->msg, (unsigned)c->cl->size);
    int done = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (done == UV_EAGAIN) done = 0;
    check("uv_try_write", done);
    if ((size_t)done == c->cl->size) return;
    /* The rest waits in libuv's queue. Its request is allocated: the next message may be
     * sent (the echo is back) before libuv has called this one's callback. */
    uv_write_t *req = malloc(sizeof *req);
    if (!req) abort();
    b = uv_buf_init(c->cl->msg + done, (unsigned)(c->cl->size - (size_t)done));
    check("uv_write", uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, cli_written));
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    cconn *c = s->data;
    client *cl = c->cl;
    if (n < 0) check("read", (int)(n == UV_EOF ? UV_ECONNRESET : n));
    if (n == 0) return;
    if (c->rts == 0 && memcmp(buf->base, cl->msg + c->got, (size_t)n) != 0) {
        fprintf(stderr, "libuv_echo: the first echo differs\n");
        exit(1);
    }
    c->got += (size_t)n;
    if (c->got > cl->size) {
        fprintf(stderr, "libuv_echo: too many bytes\n");
        exit(1);
    }
    if (c->got < cl->size) return;
    c->got = 0;
    c->rts++;
    uint64_t now = uv_hrtime();
    if (now < cl->end) {
        send_msg(c);
        return;
    }
    cl->rts += c->rts;
    if (now > cl->stop) cl->stop = now;
    if (++cl->finished == cl->conns) cl->cpu += cpu_s();
    uv_read_stop(s);
    uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void cli_connected(uv_connect_t *req, int status) {
    check("connect", status);
    cconn *c = req->data;
    client *cl = c->cl;
    uv_tcp_nodelay(&c->tcp, 1);
    if (++cl->connected < cl->conns) return;
    /* Everyone is connected: the clock starts. */
    cl->start = uv_hrtime();
    cl->cpu = -cpu_s();
    cl->end = cl->start + cl->duration_ns;
    cconn **all = req->handle->loop->data;
    for (size_t i = 0; i < cl->conns; i++) {
        check("uv_read_start", uv_read_start((uv_stream_t *)&all[i]->tcp, cli_alloc, cli_read));
        send_msg(all[i]);
    }
}

static int run_client(const char *host, int port, size_t conns, size_t size, double secs) {
    uv_loop_t *loop = uv_default_loop();
    client cl = {.conns = conns, .size = size, .duration_ns = (uint64_t)(secs * 1e9)};
    cl.msg = malloc(size);
    cconn **all = calloc(conns, sizeof *all);
    if (!cl.msg || !all) abort();
    for (size_t i = 0; i < size; i++) cl.msg[i] = (char)('a' + i % 26);
    loop->data = all;
    struct sockaddr_in addr;
    check("address", uv_ip4_addr(host, port, &addr));
    for (size_t i = 0; i < conns; i++) {
        cconn *c = calloc(1, sizeof *c);
        if (!c) abort();
        all[i] = c;
        c->cl = &cl;
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        check("connect",
              uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, cli_connected));
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (cl.finished != conns) {
        fprintf(stderr, "libuv_echo: %zu of %zu connections finished\n", cl.finished, conns);
        return 1;
    }
    printf("rt %llu bytes %llu seconds %.6f cpu %.6f\n", (unsigned long long)cl.rts,
           (unsigned long long)(cl.rts * size), (double)(cl.stop - cl.start) / 1e9, cl.cpu);
    for (size_t i = 0; i < conns; i++) free(all[i]);
    free(all);
    free(cl.msg);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: libuv_echo server|client [--host H] [--port P] [--conns N] "
                    "[--size B] [--seconds S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    bool server = strcmp(argv[1], "server") == 0;
    if (!server && strcmp(argv[1], "client") != 0) usage();
    const char *host = "127.0.0.1";
    int port = 0;
    size_t conns = 1, size = 64;
    double secs = 2;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--host") == 0)
            host = val;
        else if (strcmp(opt, "--port") == 0)
            port = atoi(val);
        else if (strcmp(opt, "--conns") == 0)
            conns = (size_t)atol(val);
        else if (strcmp(opt, "--size") == 0)
            size = (size_t)atol(val);
        else if (strcmp(opt, "--seconds") == 0)
            secs = atof(val);
        else
            usage();
    }
    if (server) return run_server(host, port);
    if (port <= 0 || conns == 0 || size == 0 || secs <= 0) usage();
    return run_client(host, port, conns, size, secs);
}
