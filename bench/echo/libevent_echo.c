/* bench/echo/libevent_echo.c - the echo benchmark's protocol written directly on libevent.
 *
 * The same two roles as build/bench/echo (see bench/echo.c for the protocol), with
 * libevent's bufferevents, the way its documentation writes an echo server:
 *
 *     libevent_echo server [--host H] [--port P]      prints "port N", serves until killed
 *     libevent_echo client --port P [--host H] [--conns N] [--size B] [--seconds S]
 *                                                     prints "rt R bytes B seconds S cpu C"
 *
 * Server: each read callback moves the input buffer to the output buffer
 * (evbuffer_add_buffer, no copy); reads and writes of up to 64 KiB at a time, like the
 * other peers (libevent's default is 4 KiB reads). Client: counts and drains what arrives until the
 * whole echo is back. TCP_NODELAY on every socket, as asyncio and weir do.
 *
 * Built by bench/echo/run.sh when `pkg-config --exists libevent`:
 *     cc -O2 bench/echo/libevent_echo.c $(pkg-config --cflags --libs libevent) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void die(const char *what) {
    fprintf(stderr, "libevent_echo: %s\n", what);
    exit(1);
}

static void nodelay(evutil_socket_t fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* libevent reads 4 KiB at a time by default; the others read up to 64 KiB. */
static void big_reads(struct bufferevent *bev) {
    bufferevent_set_max_single_read(bev, 65536);
    bufferevent_set_max_single_write(bev, 65536);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- server --------------------------------------------------------------------------- */

static void srv_read(struct bufferevent *bev, void *arg) {
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void srv_event(struct bufferevent *bev, short what, void *arg) {
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg) {
    (void)sa;
    (void)len;
    (void)arg;
    struct event_base *base = evconnlistener_get_base(l);
    nodelay(fd);
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) die("bufferevent_socket_new");
    big_reads(bev);
    bufferevent_setcb(bev, srv_read, NULL, srv_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int run_server(const char *host, int port) {
    struct event_base *base = event_base_new();
    if (!base) die("event_base_new");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) die("bad host (an IPv4 literal)");
    struct evconnlistener *l =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&sin, sizeof sin);
    if (!l) die("listen");
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen);
    printf("port %d\n", ntohs(bound.sin_port));
    fflush(stdout);
    return event_base_dispatch(base);
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
    struct bufferevent **bevs;
} client;

typedef struct cconn {
    client *cl;
    size_t got;
    uint64_t rts;
} cconn;

static void cli_read(struct bufferevent *bev, void *arg) {
    cconn *c = arg;
    client *cl = c->cl;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    if (c->rts == 0) {
        char *p = (char *)evbuffer_pullup(in, (ssize_t)n);
        if (memcmp(p, cl->msg + c->got, n) != 0) die("the first echo differs");
    }
    evbuffer_drain(in, n);
    c->got += n;
    if (c->got > cl->size) die("too many bytes");
    if (c->got < cl->size) return;
    c->got = 0;
    c->rts++;
    uint64_t now = now_ns();
    if (now < cl->end) {
        bufferevent_write(bev, cl->msg, cl->size);
        return;
    }
    cl->rts += c->rts;
    if (now > cl->stop) cl->stop = now;
    bufferevent_free(bev);
    free(c);
    if (++cl->finished == cl->conns) {
        cl->cpu += cpu_s();
        event_base_loopbreak(bufferevent_get_base(bev));
    }
}

static void cli_event(struct bufferevent *bev, short what, void *arg) {
    cconn *c = arg;
    client *cl = c->cl;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) die("connection lost");
    if (!(what & BEV_EVENT_CONNECTED)) return;
    nodelay(bufferevent_getfd(bev));
    if (++cl->connected < cl->conns) return;
    /* Everyone is connected: the clock starts. */
    cl->start = now_ns();
    cl->cpu = -cpu_s();
    cl->end = cl->start + cl->duration_ns;
    for (size_t i = 0; i < cl->conns; i++) bufferevent_write(cl->bevs[i], cl->msg, cl->size);
}

static int run_client(const char *host, int port, size_t conns, size_t size, double secs) {
    struct event_base *base = event_base_new();
    if (!base) die("event_base_new");
    client cl = {.conns = conns, .size = size, .duration_ns = (uint64_t)(secs * 1e9)};
    cl.msg = malloc(size);
    cl.bevs = calloc(conns, sizeof *cl.bevs);
    if (!cl.msg || !cl.bevs) die("out of memory");
    for (size_t i = 0; i < size; i++) cl.msg[i] = (char)('a' + i % 26);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) die("bad host (an IPv4 literal)");
    for (size_t i = 0; i < conns; i++) {
        cconn *c = calloc(1, sizeof *c);
        if (!c) die("out of memory");
        c->cl = &cl;
        struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev) die("bufferevent_socket_new");
        cl.bevs[i] = bev;
        big_reads(bev);
        bufferevent_setcb(bev, cli_read, NULL, cli_event, c);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) != 0)
            die("connect");
    }
    event_base_dispatch(base);
    if (cl.finished != conns) die("not every connection finished");
    printf("rt %llu bytes %llu seconds %.6f cpu %.6f\n", (unsigned long long)cl.rts,
           (unsigned long long)(cl.rts * size), (double)(cl.stop - cl.start) / 1e9, cl.cpu);
    free(cl.bevs);
    free(cl.msg);
    event_base_free(base);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: libevent_echo server|client [--host H] [--port P] [--conns N] "
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
