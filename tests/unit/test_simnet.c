/* tests/unit/test_simnet.c - the simulated network (sim/net.c and friends) end to end:
 * hosts and names, delivery order and exact virtual times under latency, jitter and
 * bandwidth, segmentation as the reader sees it, flow control through the window, every
 * fault kind under every trigger kind, refusals, determinism of the trace, and freeing with
 * bytes in flight. Connections are made with the public open_connection / start_server. */
#include <stdlib.h>
#include <string.h>

#include "sim/net_internal.h"
#include "tap.h"
#include "weir/weir.h"

#define MS WEIR_MS
#define US WEIR_US

/* --- harness ------------------------------------------------------------------------ */

static weir_sim *sim_new(uint64_t seed) {
    weir_sim_opts o = {.seed = seed, .keep_trace = true};
    weir_sim *s = NULL;
    if (weir_sim_new(&o, &s)) abort();
    return s;
}

static weir_sim *sim_with_draws(const uint8_t *d, size_t n) {
    weir_sim_opts o = {.decisions = d, .decisions_len = n, .keep_trace = true};
    weir_sim *s = NULL;
    if (weir_sim_new(&o, &s)) abort();
    return s;
}

/* The standard cast: a client host and a server host. */
static void two_hosts(weir_sim *s) {
    if (weir_sim_add_host(s, "cli", "10.0.0.1,fd00::1")) abort();
    if (weir_sim_add_host(s, "srv", "10.0.0.2,fd00::2")) abort();
}

/* Append the decision bytes that make a draw with `bound` choices come out as v. */
static void put_draw(uint8_t *buf, size_t *len, uint64_t v, uint64_t bound) {
    uint64_t max = bound - 1;
    while (max) {
        buf[(*len)++] = (uint8_t)(v & 0xff);
        v >>= 8;
        max >>= 8;
    }
}

/* The end of the trace, as TAP comments: what a failing run did last. */
static void dump_trace(weir_sim *s) {
    size_t n = weir_sim_trace_count(s);
    for (size_t i = n > 40 ? n - 40 : 0; i < n; i++) {
        const char *line = weir_sim_trace_line(s, i);
        if (line) printf("# %s\n", line);
    }
}

/* What one reader saw: each read's size and time, then how it ended. */
#define MAXREADS 64
typedef struct seen {
    uint8_t data[1 << 17];
    size_t len;
    size_t sizes[MAXREADS];
    int64_t times[MAXREADS];
    int nreads;
    int end; /* 0 for EOF, else the error */
    int64_t end_time;
    bool done;
} seen;

/* Read until EOF or an error, recording every read. */
static void read_all(weir_reader *r, seen *o) {
    for (;;) {
        weir_bytes b;
        int rc = weir_read(r, 4096, &b);
        if (rc || b.len == 0) {
            o->end = rc;
            o->end_time = weir_now();
            break;
        }
        if (o->nreads < MAXREADS) {
            o->sizes[o->nreads] = b.len;
            o->times[o->nreads] = weir_now();
        }
        o->nreads++;
        size_t room = sizeof o->data - o->len;
        size_t n = b.len < room ? b.len : room;
        memcpy(o->data + o->len, b.data, n);
        o->len += n;
    }
    o->done = true;
}

/* A server handler that reads everything (with a deadline) into the next free `seen`. */
typedef struct sink {
    seen *seen; /* an array */
    int nseen;
    int accepted;
    int64_t deadline;    /* relative; 0 = none */
    int64_t limit_sleep; /* sleep this long before reading */
} sink;

static int sink_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    sink *k = arg;
    if (k->accepted >= k->nseen) return -1;
    seen *o = &k->seen[k->accepted++];
    if (k->deadline) weir_deadline_set(weir_now() + k->deadline);
    if (k->limit_sleep) weir_sleep(k->limit_sleep);
    read_all(r, o);
    return 0;
}

static int echo_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes line;
    int rc;
    while ((rc = weir_reader_next_line(r, &line)) > 0) {
        if (weir_write(w, line.data, line.len)) break;
        if (weir_drain(w)) break;
    }
    return 0;
}

static weir_server *serve(weir_sim *s, const char *host, int port, weir_handler h, void *arg,
                          int backlog) {
    weir_server *srv = NULL;
    weir_server_opts o = {.backlog = backlog};
    int rc = weir_start_server(weir_sim_loop(s), h, arg, host, port, &o, &srv);
    if (rc) {
        printf("# start_server: %s\n", weir_strerror(rc));
        abort();
    }
    return srv;
}

/* A client task's script and what it saw. */
typedef struct client {
    const char *host;
    int port;
    int rc_connect;
    int64_t connected_at;
    const uint8_t *send;
    size_t send_len;
    bool write_eof;
    bool read_back;
    seen back;
    char sockname[80], peername[80];
} client;

static int client_task(void *arg) {
    client *c = arg;
    weir_reader *r;
    weir_writer *w;
    c->rc_connect = weir_open_connection(c->host, c->port, NULL, &r, &w);
    c->connected_at = weir_now();
    if (c->rc_connect) return 0;
    weir_extra x;
    if (weir_get_extra_info(w, "sockname", &x) == 0) snprintf(c->sockname, 80, "%s", x.str);
    if (weir_get_extra_info(w, "peername", &x) == 0) snprintf(c->peername, 80, "%s", x.str);
    if (c->send_len) weir_write(w, c->send, c->send_len);
    weir_drain(w);
    if (c->write_eof) weir_write_eof(w);
    if (c->read_back) read_all(r, &c->back);
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static int nothing(void *arg) {
    (void)arg;
    return 0;
}

static void spawn_on(weir_sim *s, const char *host, weir_task_fn fn, void *arg) {
    int rc = weir_sim_spawn(s, host, fn, arg, NULL, NULL);
    if (rc) {
        printf("# spawn: %s\n", weir_strerror(rc));
        abort();
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

/* --- hosts -------------------------------------------------------------------------- */

static void test_hosts(void) {
    weir_sim *s = sim_new(1);
    is_int(weir_sim_add_host(s, "a", "10.0.0.1"), 0, "add a host");
    is_int(weir_sim_add_host(s, "b", "10.0.0.2, fd00::2"), 0, "spaces around literals");
    is_int(weir_sim_add_host(s, "c", NULL), 0, "a host reached by name only");
    is_int(weir_sim_add_host(s, "A", "10.0.0.9"), WEIR_EADDRINUSE, "names ignore case");
    is_int(weir_sim_add_host(s, "d", "10.0.0.1"), WEIR_EADDRINUSE, "address taken");
    is_int(weir_sim_add_host(s, "d", "fd00:0::2"), WEIR_EADDRINUSE, "IPv6 compared canonically");
    is_int(weir_sim_add_host(s, "d", "10.0.0.300"), WEIR_EINVAL, "bad IPv4 literal");
    is_int(weir_sim_add_host(s, "d", "fd00:::1"), WEIR_EINVAL, "bad IPv6 literal");
    is_int(weir_sim_add_host(s, "d", "10.0.0.4,"), WEIR_EINVAL, "trailing comma");
    is_int(weir_sim_add_host(s, "d", "127.0.0.2"), WEIR_EINVAL, "loopback is every host's");
    is_int(weir_sim_add_host(s, "d", "::1"), WEIR_EINVAL, "IPv6 loopback too");
    is_int(weir_sim_add_host(s, "localhost", "10.0.0.5"), WEIR_EADDRINUSE, "localhost exists");
    is_int(weir_sim_add_host(s, "10.0.0.7", NULL), WEIR_EINVAL, "a name is not a literal");
    is_int(weir_sim_add_host(s, "bad name", NULL), WEIR_EINVAL, "names are DNS-like");
    is_int(weir_sim_add_host(s, "*", NULL), WEIR_EINVAL, "* is not a name");
    is_int(weir_sim_add_host(s, "", NULL), WEIR_EINVAL, "empty name");
    is_int(weir_sim_add_host(s, "d", "10.0.0.4"), 0, "a failed add left nothing behind");
    weir_task *t = NULL;
    is_int(weir_sim_spawn(s, "nowhere", nothing, NULL, NULL, &t), WEIR_ENOENT,
           "spawn on an unknown host");
    is_int(weir_sim_spawn(s, "10.9.9.9", nothing, NULL, NULL, &t), WEIR_ENOENT,
           "spawn on an unknown address");
    weir_sim_free(s);
}

/* --- a connection end to end -------------------------------------------------------- */

static void test_echo_and_names(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    is_int(weir_server_port(srv), 80, "server port");
    ok(weir_server_address(srv, 0) && strcmp(weir_server_address(srv, 0), "10.0.0.2:80") == 0,
       "first address %s", weir_server_address(srv, 0));
    ok(weir_server_address(srv, 1) && strcmp(weir_server_address(srv, 1), "[fd00::2]:80") == 0,
       "second address %s", weir_server_address(srv, 1));
    static const uint8_t msg[] = "hello\nworld\n";
    client c4 = {.host = "srv",
                 .port = 80,
                 .send = msg,
                 .send_len = 12,
                 .write_eof = true,
                 .read_back = true};
    client c6 = {.host = "fd00::2",
                 .port = 80,
                 .send = msg,
                 .send_len = 6,
                 .write_eof = true,
                 .read_back = true};
    spawn_on(s, "cli", client_task, &c4);
    spawn_on(s, "cli", client_task, &c6);
    is_int(run(s), 0, "run");
    is_int(c4.rc_connect, 0, "connect by name");
    is_mem(c4.back.data, c4.back.len, msg, 12, "echoed");
    is_int(c4.back.end, 0, "then EOF");
    ok(strcmp(c4.sockname, "10.0.0.1:49152") == 0, "sockname %s", c4.sockname);
    ok(strcmp(c4.peername, "10.0.0.2:80") == 0, "peername %s", c4.peername);
    is_int(c6.rc_connect, 0, "connect by IPv6 literal");
    ok(strcmp(c6.sockname, "[fd00::1]:49153") == 0, "IPv6 sockname %s, next port", c6.sockname);
    ok(strcmp(c6.peername, "[fd00::2]:80") == 0, "IPv6 peername %s", c6.peername);
    is_mem(c6.back.data, c6.back.len, msg, 6, "echoed over IPv6");
    is_int(weir_server_accepted(srv), 2, "two accepted");
    ok(s->net->conns == NULL, "closed connections are freed during the run, not at the end");
    weir_server_free(srv);
    weir_sim_free(s);
}

static void test_refusals(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    client none = {.host = "srv", .port = 81};
    client unknown = {.host = "nosuch", .port = 80};
    client unreach = {.host = "10.1.2.3", .port = 80};
    client loop_other = {.host = "127.0.0.1", .port = 80};
    client loop_self = {.host = "localhost",
                        .port = 80,
                        .send = (const uint8_t *)"x\n",
                        .send_len = 2,
                        .write_eof = true,
                        .read_back = true};
    spawn_on(s, "cli", client_task, &none);
    spawn_on(s, "cli", client_task, &unknown);
    spawn_on(s, "cli", client_task, &unreach);
    spawn_on(s, "cli", client_task, &loop_other);
    spawn_on(s, "srv", client_task, &loop_self);
    is_int(run(s), 0, "run");
    is_int(none.rc_connect, WEIR_ECONNREFUSED, "nobody listens on that port");
    is_int(unknown.rc_connect, WEIR_ENOENT, "a name nobody has");
    is_int(unreach.rc_connect, WEIR_EHOSTUNREACH, "an address nobody has");
    is_int(loop_other.rc_connect, WEIR_ECONNREFUSED, "loopback is the client's own host");
    is_int(loop_self.rc_connect, 0, "loopback on the server's host reaches it");
    ok(strcmp(loop_self.peername, "127.0.0.1:80") == 0, "loopback peername %s", loop_self.peername);
    is_mem(loop_self.back.data, loop_self.back.len, "x\n", 2, "echo over loopback");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* --- timing ------------------------------------------------------------------------- */

/* 1000 bytes, 250-byte segments, 1 MB/s, 10 ms latency, 5 ms set-up: each segment takes
 * 250 us on the link, so they arrive at 5 + 0.25k + 10 ms; the FIN right after the last. */
static void test_latency_bandwidth(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_link l = {.latency = 10 * MS,
                       .bandwidth = 1000000,
                       .segment = {250, 250},
                       .connect_delay = {5 * MS, 5 * MS}};
    is_int(weir_sim_set_link(s, "cli", "srv", &l), 0, "set link");
    static seen got[1];
    sink k = {.seen = got, .nseen = 1};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    static uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    client c = {.host = "10.0.0.2", .port = 80, .send = data, .send_len = 1000, .write_eof = true};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run");
    is_int(c.connected_at, 5 * MS, "connected after the set-up delay");
    is_int(got[0].nreads, 4, "four reads, one per segment");
    static const int64_t want[4] = {15250 * US, 15500 * US, 15750 * US, 16000 * US};
    for (int i = 0; i < 4 && i < got[0].nreads; i++) {
        is_int(got[0].sizes[i], 250, "segment %d: 250 bytes", i + 1);
        is_int(got[0].times[i], want[i], "segment %d: at 5 + 0.25*%d + 10 ms", i + 1, i + 1);
    }
    is_mem(got[0].data, got[0].len, data, sizeof data, "bytes intact and in order");
    is_int(got[0].end, 0, "EOF");
    is_int(got[0].end_time, 16 * MS, "EOF right behind the last segment");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* Jitter drawn per segment (fed through the decision bytes), and segments never overtake:
 * 5, 2 and 8 ms of jitter on 10 ms latency arrive at 15, 15 and 18 ms. */
static void test_jitter_in_order(void) {
    uint8_t d[32];
    size_t n = 0;
    uint64_t bound = 9 * MS + 1; /* jitter {0, 9 ms} */
    put_draw(d, &n, 5 * MS, bound);
    put_draw(d, &n, 2 * MS, bound);
    put_draw(d, &n, 8 * MS, bound);
    put_draw(d, &n, 0, bound); /* the FIN */
    weir_sim *s = sim_with_draws(d, n);
    two_hosts(s);
    weir_sim_link l = {.latency = 10 * MS, .jitter = {0, 9 * MS}, .segment = {100, 100}};
    weir_sim_set_link(s, "cli", "srv", &l);
    static seen got[1];
    sink k = {.seen = got, .nseen = 1};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    static uint8_t data[300];
    memset(data, 'j', sizeof data);
    client c = {.host = "srv", .port = 80, .send = data, .send_len = 300, .write_eof = true};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run");
    is_int(got[0].nreads, 2, "two reads: the first two segments arrive together");
    is_int(got[0].sizes[0], 200, "200 bytes at once");
    is_int(got[0].times[0], 15 * MS, "at 15 ms (the second's 12 ms waits for the first)");
    is_int(got[0].sizes[1], 100, "then 100");
    is_int(got[0].times[1], 18 * MS, "at 18 ms");
    is_int(got[0].end_time, 18 * MS, "the FIN does not overtake either");
    is_int(weir_sim_draws(s), 4, "one draw per segment, FIN included");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* Segment sizes drawn from {1, 10} reach the reader as separate reads when each segment
 * arrives on its own (1 byte/us on the link). */
static void test_segmentation(void) {
    uint8_t d[8];
    size_t n = 0;
    put_draw(d, &n, 2, 10); /* 3 bytes */
    put_draw(d, &n, 6, 10); /* 7 bytes */
    put_draw(d, &n, 9, 10); /* 10 bytes: all that is left */
    weir_sim *s = sim_with_draws(d, n);
    two_hosts(s);
    weir_sim_link l = {.bandwidth = 1000000, .segment = {1, 10}};
    weir_sim_set_link(s, "cli", "srv", &l);
    static seen got[1];
    sink k = {.seen = got, .nseen = 1};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    client c = {.host = "srv",
                .port = 80,
                .send = (const uint8_t *)"abcdefghijklmnopqrst",
                .send_len = 20,
                .write_eof = true};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run");
    is_int(got[0].nreads, 3, "three reads");
    is_int(got[0].sizes[0], 3, "3 bytes");
    is_int(got[0].times[0], 3 * US, "at 3 us");
    is_int(got[0].sizes[1], 7, "7 bytes");
    is_int(got[0].times[1], 10 * US, "at 10 us");
    is_int(got[0].sizes[2], 10, "10 bytes");
    is_int(got[0].times[2], 20 * US, "at 20 us");
    is_mem(got[0].data, got[0].len, "abcdefghijklmnopqrst", 20, "intact");
    weir_server_free(srv);
    weir_sim_free(s);

    /* Seeded: whatever the draws, every segment is within the range and nothing is lost. */
    s = sim_new(42);
    two_hosts(s);
    weir_sim_set_link(s, "cli", "srv", &l);
    static seen many[1];
    memset(many, 0, sizeof many);
    k = (sink){.seen = many, .nseen = 1};
    srv = serve(s, "srv", 80, sink_handler, &k, 0);
    static uint8_t big[500];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 13 + 1);
    c = (client){.host = "srv", .port = 80, .send = big, .send_len = 500, .write_eof = true};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run (seeded)");
    bool in_range = many[0].nreads > 50 && many[0].nreads <= MAXREADS ? true : false;
    for (int i = 0; i < many[0].nreads && i < MAXREADS; i++)
        if (many[0].sizes[i] < 1 || many[0].sizes[i] > 10) in_range = false;
    ok(in_range || many[0].nreads > MAXREADS, "%d reads of 1..10 bytes", many[0].nreads);
    is_mem(many[0].data, many[0].len, big, sizeof big, "500 bytes intact");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* The most specific link rule wins. */
static void test_link_rules(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_add_host(s, "other", "10.0.0.3");
    weir_sim_link any = {.latency = 100 * MS}, from_cli = {.latency = 10 * MS},
                  exact = {.latency = 1 * MS};
    weir_sim_set_link(s, "*", "*", &any);
    weir_sim_set_link(s, "cli", "srv", &exact);
    weir_sim_set_link(s, "cli", "*", &from_cli);
    weir_sim_link bad = {.jitter = {5, 2}};
    is_int(weir_sim_set_link(s, "cli", "srv", &bad), WEIR_EINVAL, "jitter hi < lo");
    bad = (weir_sim_link){.latency = -1};
    is_int(weir_sim_set_link(s, "cli", "srv", &bad), WEIR_EINVAL, "negative latency");
    weir_sim_free(s);
    /* With servers on two hosts: cli -> srv takes 1 ms, cli -> other 10 ms. */
    s = sim_new(1);
    two_hosts(s);
    weir_sim_add_host(s, "other", "10.0.0.3");
    weir_sim_set_link(s, "*", "*", &any);
    weir_sim_set_link(s, "cli", "srv", &exact);
    weir_sim_set_link(s, "cli", "*", &from_cli);
    static seen got[1];
    static seen got2[1];
    memset(got2, 0, sizeof got2);
    sink k1 = {.seen = got, .nseen = 1}, k2 = {.seen = got2, .nseen = 1};
    weir_server *s1 = serve(s, "srv", 80, sink_handler, &k1, 0);
    weir_server *s2 = serve(s, "other", 80, sink_handler, &k2, 0);
    client c1 = {.host = "srv", .port = 80, .send = (const uint8_t *)"a", .send_len = 1};
    client c2 = {.host = "other", .port = 80, .send = (const uint8_t *)"b", .send_len = 1};
    spawn_on(s, "cli", client_task, &c1);
    spawn_on(s, "cli", client_task, &c2);
    is_int(run(s), 0, "run");
    is_int(got[0].times[0], 1 * MS, "exact pair: 1 ms");
    is_int(got2[0].times[0], 10 * MS, "one side *: 10 ms");
    weir_server_free(s1);
    weir_server_free(s2);
    weir_sim_free(s);
}

/* --- flow control ------------------------------------------------------------------- */

typedef struct flow_test {
    weir_writer *w; /* the client's */
    weir_reader *server_r;
    int64_t drained_at;
    size_t queued_mid, buffered_mid;
    bool reader_paused_mid;
    seen got;
} flow_test;

static flow_test ft;

static int flow_server(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    (void)arg;
    ft.server_r = r;
    weir_sleep(1 * WEIR_SEC); /* not reading: the window fills */
    read_all(r, &ft.got);
    return 0;
}

static int flow_probe(void *arg) {
    (void)arg;
    weir_sleep(500 * MS);
    ft.queued_mid = weir_writer_buffer_size(ft.w);
    ft.buffered_mid = weir_reader_buffered(ft.server_r);
    ft.reader_paused_mid = weir_reader_paused(ft.server_r);
    return 0;
}

static int flow_client(void *arg) {
    (void)arg;
    weir_reader *r;
    weir_open_opts o = {0};
    if (weir_open_connection("srv", 80, &o, &r, &ft.w)) return 1;
    static uint8_t chunk[10000];
    for (int i = 0; i < 10; i++) {
        for (size_t j = 0; j < sizeof chunk; j++) chunk[j] = (uint8_t)(i * 10000 + j);
        weir_write(ft.w, chunk, sizeof chunk);
    }
    weir_drain(ft.w);
    ft.drained_at = weir_now();
    weir_write_eof(ft.w);
    weir_writer_close(ft.w);
    weir_wait_closed(ft.w);
    weir_writer_free(ft.w);
    return 0;
}

static void test_flow_control(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_link l = {.window = 1000};
    weir_sim_set_link(s, "cli", "srv", &l);
    weir_server_opts so = {.limit = 100}; /* the reader pauses above 200 bytes */
    weir_server *srv = NULL;
    weir_start_server(weir_sim_loop(s), flow_server, NULL, "srv", 80, &so, &srv);
    memset(&ft, 0, sizeof ft);
    spawn_on(s, "cli", flow_client, NULL);
    spawn_on(s, "cli", flow_probe, NULL);
    is_int(run(s), 0, "run");
    is_int(ft.buffered_mid, 1000, "the receiver's reader holds one window's worth");
    ok(ft.reader_paused_mid, "and has paused reading");
    is_int(ft.queued_mid, 100000 - 2000, "one more window in flight, the rest queued");
    is_int(ft.drained_at, 1 * WEIR_SEC, "drain returned when the receiver read again");
    is_int(ft.got.len, 100000, "everything arrived");
    bool same = true;
    for (size_t i = 0; i < ft.got.len; i++)
        if (ft.got.data[i] != (uint8_t)i) same = false;
    ok(same, "in order");
    is_int(ft.got.end, 0, "EOF");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* --- faults: every kind under every trigger ------------------------------------------ */

/* The client sends "0123456789" at 0, "abcdefghij" at 100 ms and a FIN at 200 ms (times
 * from its connect), then reads until the server's side ends. The server reads everything
 * with a 2 s deadline. A fault from cli to srv fires at byte 10 (after_bytes 10, pattern
 * "789", at 50 ms) or before the first byte (the 2nd connection, a drawn chance). */
enum trigger { T_BYTES, T_PATTERN, T_AT, T_NTH, T_CHANCE, NTRIGGERS };
static const char *const trigger_names[] = {"after_bytes", "pattern", "at", "nth", "chance"};

typedef struct mclient {
    int nconn;
    int64_t connect_after;
    int rc[2];
    int64_t t0[2];
    seen back[2];
} mclient;

static int matrix_client(void *arg) {
    mclient *m = arg;
    if (m->connect_after) weir_sleep(m->connect_after);
    for (int i = 0; i < m->nconn; i++) {
        weir_reader *r;
        weir_writer *w;
        m->t0[i] = weir_now();
        m->rc[i] = weir_open_connection("srv", 80, NULL, &r, &w);
        if (m->rc[i]) continue;
        int64_t t0 = weir_now();
        weir_write(w, "0123456789", 10);
        weir_sleep_until(t0 + 100 * MS);
        weir_write(w, "abcdefghij", 10);
        weir_sleep_until(t0 + 200 * MS);
        weir_write_eof(w);
        int64_t old = weir_deadline_set(t0 + 3 * WEIR_SEC);
        read_all(r, &m->back[i]);
        weir_deadline_set(old);
        weir_writer_close(w);
        weir_wait_closed(w);
        weir_writer_free(w);
    }
    return 0;
}

static bool trace_has(weir_sim *s, const char *what) {
    for (size_t i = 0; i < weir_sim_trace_count(s); i++) {
        const char *line = weir_sim_trace_line(s, i);
        if (line && strstr(line, what)) return true;
    }
    return false;
}

static void fault_case(weir_sim_fault_kind kind, enum trigger trig) {
    static const uint8_t yes[4] = {0xff, 0xff, 0xff, 0xff}; /* a chance draw that says yes */
    weir_sim *s = trig == T_CHANCE ? sim_with_draws(yes, sizeof yes) : sim_new(7);
    two_hosts(s);
    const char *name = NULL;
    weir_sim_fault f = weir_sim_fault_init(kind);
    f.from = "cli";
    f.to = "srv";
    f.port = 80;
    f.duration = 300 * MS;
    switch (trig) {
        case T_BYTES:
            if (kind == WEIR_FAULT_LIMIT_DATA)
                f.bytes = 10;
            else
                f.after_bytes = 10;
            break;
        case T_PATTERN:
            f.pattern = weir_bytes_of("789", 3);
            break;
        case T_AT:
            f.at = 50 * MS;
            break;
        case T_NTH:
            f.nth = 2;
            break;
        case T_CHANCE:
            f.probability = 0.5;
            break;
        default:
            break;
    }
    static const char *const kinds[] = {"",     "EOF",        "RESET",      "REFUSE",
                                        "HOLD", "LIMIT_DATA", "SLOW_CLOSE", "STALL"};
    name = kinds[kind];
    const char *tn = trigger_names[trig];
    int rc = weir_sim_add_fault(s, &f);
    if (kind == WEIR_FAULT_REFUSE && (trig == T_BYTES || trig == T_PATTERN)) {
        is_int(rc, WEIR_EINVAL, "%s by %s: refused as a fault (nothing flows before it)", name, tn);
        weir_sim_free(s);
        return;
    }
    is_int(rc, 0, "%s by %s: added", name, tn);

    static seen got[2];
    memset(got, 0, sizeof got);
    sink k = {.seen = got, .nseen = 2, .deadline = 2 * WEIR_SEC};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    static mclient m;
    memset(&m, 0, sizeof m);
    m.nconn = trig == T_NTH ? 2 : 1;
    if (kind == WEIR_FAULT_REFUSE && trig == T_AT) m.connect_after = 60 * MS;
    spawn_on(s, "cli", matrix_client, &m);
    rc = run(s);
    is_int(rc, 0, "%s by %s: run", name, tn);
    int hit = m.nconn - 1; /* the faulted connection */
    if (trig == T_NTH) {
        is_int(got[0].len, 20, "%s by %s: the first connection is untouched", name, tn);
        is_int(got[0].end, 0, "%s by %s: and ends with EOF", name, tn);
    }
    size_t p = trig == T_NTH || trig == T_CHANCE ? 0 : 10; /* bytes before it fires */
    int64_t t0 = m.t0[hit];
    int64_t fire = trig == T_AT ? 50 * MS : 0;
    seen *o = &got[trig == T_NTH ? 1 : 0];
    static const char stream[] = "0123456789abcdefghij";
    switch (kind) {
        case WEIR_FAULT_REFUSE:
            is_int(m.rc[hit], WEIR_ECONNREFUSED, "%s by %s: connection refused", name, tn);
            ok(trace_has(s, "refused"), "%s by %s: traced", name, tn);
            break;
        case WEIR_FAULT_EOF:
        case WEIR_FAULT_LIMIT_DATA:
            is_mem(o->data, o->len, stream, p, "%s by %s: exactly %zu bytes", name, tn, p);
            is_int(o->end, 0, "%s by %s: then EOF", name, tn);
            is_int(o->end_time - t0, fire, "%s by %s: when it fired", name, tn);
            if (kind == WEIR_FAULT_LIMIT_DATA) {
                is_int(m.back[hit].end, 0, "%s by %s: the client sees EOF too", name, tn);
                is_int(m.back[hit].len, 0, "%s by %s: and no bytes", name, tn);
                is_int(m.back[hit].end_time - t0, 200 * MS,
                       "%s by %s: already there when it reads (200 ms)", name, tn);
            }
            break;
        case WEIR_FAULT_RESET:
            is_mem(o->data, o->len, stream, p, "%s by %s: exactly %zu bytes", name, tn, p);
            is_int(o->end, WEIR_ECONNRESET, "%s by %s: then a reset", name, tn);
            is_int(o->end_time - t0, fire, "%s by %s: when it fired", name, tn);
            is_int(m.back[hit].end, WEIR_ECONNRESET, "%s by %s: the sender is reset too", name, tn);
            break;
        case WEIR_FAULT_HOLD:
            is_mem(o->data, o->len, stream, 20, "%s by %s: everything, in the end", name, tn);
            is_int(o->end, 0, "%s by %s: and EOF", name, tn);
            if (p) {
                is_int(o->sizes[0], p, "%s by %s: %zu bytes first", name, tn, p);
                is_int(o->times[1] - t0, fire + 300 * MS, "%s by %s: the rest on release", name,
                       tn);
            } else {
                is_int(o->times[0] - t0, 300 * MS, "%s by %s: nothing before release", name, tn);
            }
            is_int(o->end_time - t0, fire + 300 * MS, "%s by %s: the FIN was held too", name, tn);
            break;
        case WEIR_FAULT_SLOW_CLOSE:
            is_mem(o->data, o->len, stream, 20, "%s by %s: all bytes", name, tn);
            is_int(o->end, 0, "%s by %s: and EOF", name, tn);
            is_int(o->end_time - t0, 500 * MS, "%s by %s: the FIN 300 ms late", name, tn);
            break;
        case WEIR_FAULT_STALL:
            is_mem(o->data, o->len, stream, p, "%s by %s: exactly %zu bytes", name, tn, p);
            is_int(o->end, WEIR_ETIMEDOUT, "%s by %s: then nothing, not even the FIN", name, tn);
            break;
    }
    if (kind != WEIR_FAULT_REFUSE) ok(trace_has(s, name), "%s by %s: traced", name, tn);
    weir_server_free(srv);
    weir_sim_free(s);
}

static void test_fault_matrix(void) {
    for (int kind = WEIR_FAULT_EOF; kind <= WEIR_FAULT_STALL; kind++)
        for (int t = 0; t < NTRIGGERS; t++) fault_case((weir_sim_fault_kind)kind, (enum trigger)t);
}

/* --- fault details ------------------------------------------------------------------ */

/* A pattern split over 2-byte segments still matches, and the cut is exact. */
static void test_pattern_across_segments(void) {
    weir_sim *s = sim_new(3);
    two_hosts(s);
    weir_sim_link l = {.segment = {2, 2}, .bandwidth = 1000000};
    weir_sim_set_link(s, "cli", "srv", &l);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_EOF);
    f.pattern = weir_bytes_of("STOP", 4);
    weir_sim_add_fault(s, &f);
    static seen got[1];
    memset(got, 0, sizeof got);
    sink k = {.seen = got, .nseen = 1, .deadline = WEIR_SEC};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    client c = {.host = "srv", .port = 80, .send = (const uint8_t *)"abSTSTOPdef", .send_len = 11};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run");
    is_mem(got[0].data, got[0].len, "abSTSTOP", 8, "up to the pattern's last byte");
    is_int(got[0].end, 0, "then EOF");
    ok(got[0].nreads >= 4, "it arrived in pieces (%d reads)", got[0].nreads);
    weir_server_free(srv);
    weir_sim_free(s);
}

/* A fault in the server -> client direction, and `at` already past when a connection is
 * made: it fires at set-up. */
static void test_fault_direction_and_late_conn(void) {
    weir_sim *s = sim_new(3);
    two_hosts(s);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_EOF);
    f.from = "srv";
    f.to = "cli";
    f.at = 50 * MS;
    weir_sim_add_fault(s, &f);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    static mclient m;
    memset(&m, 0, sizeof m);
    m.nconn = 1;
    m.connect_after = 100 * MS;
    spawn_on(s, "cli", matrix_client, &m);
    is_int(run(s), 0, "run");
    is_int(m.rc[0], 0, "connected");
    is_int(m.back[0].len, 0, "the echo never arrives");
    is_int(m.back[0].end, 0, "the client sees EOF");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* A chance per connection: over 40 connections about half are hit, the same ones for the
 * same seed. */
static uint64_t chance_run(uint64_t seed, int *hits) {
    weir_sim *s = sim_new(seed);
    two_hosts(s);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_REFUSE);
    f.probability = 0.5;
    weir_sim_add_fault(s, &f);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    static client c[40];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 40; i++) {
        c[i] = (client){.host = "srv", .port = 80};
        spawn_on(s, "cli", client_task, &c[i]);
    }
    if (run(s)) abort();
    *hits = 0;
    for (int i = 0; i < 40; i++) *hits += c[i].rc_connect == WEIR_ECONNREFUSED;
    uint64_t h = weir_sim_trace_hash(s);
    weir_server_free(srv);
    weir_sim_free(s);
    return h;
}

static void test_chance(void) {
    int a, b, c;
    uint64_t h1 = chance_run(11, &a), h2 = chance_run(11, &b), h3 = chance_run(12, &c);
    ok(a > 5 && a < 35, "about half refused (%d of 40)", a);
    is_int(a, b, "the same count for the same seed");
    ok(h1 == h2, "the same trace for the same seed");
    ok(h1 != h3, "another seed, another trace (%d refused)", c);
}

/* HOLD for ever: the window fills and the sender's drain blocks. */
typedef struct hold_test {
    int64_t drained;
    int drain_rc;
} hold_test;

static int hold_client(void *arg) {
    hold_test *h = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    static uint8_t buf[200000];
    weir_write(w, buf, sizeof buf);
    weir_deadline_set(weir_now() + 5 * WEIR_SEC);
    h->drain_rc = weir_drain(w);
    h->drained = weir_now();
    weir_writer_free(w);
    return 0;
}

static void test_hold_forever(void) {
    weir_sim *s = sim_new(3);
    two_hosts(s);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_HOLD);
    f.after_bytes = 1000;
    weir_sim_add_fault(s, &f);
    static seen got[1];
    memset(got, 0, sizeof got);
    sink k = {.seen = got, .nseen = 1, .deadline = 2 * WEIR_SEC};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    hold_test h = {0};
    spawn_on(s, "cli", hold_client, &h);
    is_int(run(s), 0, "run");
    is_int(got[0].len, 1000, "1000 bytes, then nothing");
    is_int(got[0].end, WEIR_ETIMEDOUT, "the reader waits for ever");
    is_int(h.drain_rc, WEIR_ETIMEDOUT, "the writer's drain blocks for ever too");
    weir_server_free(srv);
    weir_sim_free(s);
}

static void test_fault_args(void) {
    weir_sim *s = sim_new(3);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_EOF);
    is_int(f.at, -1, "init: at off");
    is_int(f.after_bytes, -1, "init: after_bytes off");
    f.kind = (weir_sim_fault_kind)0;
    is_int(weir_sim_add_fault(s, &f), WEIR_EINVAL, "no kind");
    f = weir_sim_fault_init(WEIR_FAULT_EOF);
    f.probability = 1.5;
    is_int(weir_sim_add_fault(s, &f), WEIR_EINVAL, "probability over 1");
    f = weir_sim_fault_init(WEIR_FAULT_EOF);
    f.port = 70000;
    is_int(weir_sim_add_fault(s, &f), WEIR_EINVAL, "bad port");
    f = weir_sim_fault_init(WEIR_FAULT_EOF);
    f.pattern.len = 3;
    is_int(weir_sim_add_fault(s, &f), WEIR_EINVAL, "pattern without bytes");
    weir_sim_free(s);
}

/* --- refusals, resets, closing ------------------------------------------------------ */

/* Three attempts arrive at once on a backlog of 2: the third is refused. */
static void test_backlog(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 2);
    static client c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++) {
        c[i] = (client){.host = "srv", .port = 80};
        spawn_on(s, "cli", client_task, &c[i]);
    }
    is_int(run(s), 0, "run");
    is_int(c[0].rc_connect, 0, "first queued");
    is_int(c[1].rc_connect, 0, "second queued");
    is_int(c[2].rc_connect, WEIR_ECONNREFUSED, "third refused: backlog full");
    ok(trace_has(s, "backlog full"), "traced");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* A listener closed with a connection still in its accept queue resets it. */
static weir_server *closing_srv;

static int connect_then_close_server(void *arg) {
    seen *o = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    weir_server_close(closing_srv); /* before the accept's tick */
    read_all(r, o);
    weir_writer_free(w);
    return 0;
}

static void test_listener_close_resets_queue(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    closing_srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    static seen o;
    memset(&o, 0, sizeof o);
    spawn_on(s, "cli", connect_then_close_server, &o);
    is_int(run(s), 0, "run");
    is_int(o.end, WEIR_ECONNRESET, "the queued connection was reset");
    is_int(weir_server_accepted(closing_srv), 0, "never accepted");
    weir_server_free(closing_srv);
    weir_sim_free(s);
}

/* TCP: bytes that reach a socket after it was closed are answered with an RST. The client
 * has read the server's FIN by then, so nothing watches its socket (reading stopped, nothing
 * queued): the RST waits until the next write, whose send fails with EPIPE (Linux: an RST in
 * CLOSE_WAIT). Reads before that still see the EOF. */
static int one_line_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes line;
    if (weir_readline(r, &line) == 0) weir_write(w, line.data, line.len);
    return 0; /* the server closes */
}

typedef struct late {
    int first_rc, second_rc, third_write_rc, drain_rc, third_rc;
    size_t second_len;
    char firstbuf[16];
} late;

static int late_writer(void *arg) {
    late *l = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    weir_write(w, "a\n", 2);
    weir_bytes b;
    l->first_rc = weir_readline(r, &b);
    if (l->first_rc == 0) memcpy(l->firstbuf, b.data, b.len < 16 ? b.len : 16);
    weir_sleep(10 * MS); /* the server has closed by now */
    weir_write(w, "b\n", 2);
    weir_sleep(10 * MS); /* the RST has come back */
    l->second_rc = weir_read(r, 100, &b);
    l->second_len = b.len;
    l->third_write_rc = weir_write(w, "c\n", 2);
    l->drain_rc = weir_drain(w);
    l->third_rc = weir_read(r, 100, &b);
    weir_writer_free(w);
    return 0;
}

static void test_rst_after_close(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_link l = {.latency = 1 * MS};
    weir_sim_set_link(s, "*", "*", &l);
    weir_server *srv = serve(s, "srv", 80, one_line_handler, NULL, 0);
    late lt = {0};
    spawn_on(s, "cli", late_writer, &lt);
    is_int(run(s), 0, "run");
    is_int(lt.first_rc, 0, "the answer arrived");
    ok(memcmp(lt.firstbuf, "a\n", 2) == 0, "echoed");
    is_int(lt.second_rc, 0, "the RST waits: a read still sees the EOF");
    is_int(lt.second_len, 0, "(empty)");
    is_int(lt.third_write_rc, 0, "the next write succeeds, as asyncio's does");
    is_int(lt.drain_rc, WEIR_ECONNLOST, "drain fails");
    is_int(lt.third_rc, WEIR_EPIPE, "its send noticed the RST: EPIPE");
    ok(trace_has(s, "receiver closed"), "the late bytes were dropped");
    ok(trace_has(s, "s->c reset"), "the RST was traced when noticed");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* abort: the peer gets ECONNRESET; an RST throws away what the reader had not read. */
typedef struct aborter {
    bool abort_now;
    int wait_rc;
} aborter;

static int abort_client(void *arg) {
    aborter *a = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    weir_write(w, "unread bytes", 12);
    weir_sleep(10 * MS);
    weir_transport *t = weir_writer_transport(w);
    t->ops->abort(t);
    a->wait_rc = weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static void test_abort(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    static seen got[1];
    memset(got, 0, sizeof got);
    sink k = {.seen = got, .nseen = 1, .limit_sleep = 50 * MS}; /* reads only at 50 ms */
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    aborter a = {0};
    spawn_on(s, "cli", abort_client, &a);
    is_int(run(s), 0, "run");
    is_int(a.wait_rc, 0, "the aborting end closes cleanly");
    is_int(got[0].len, 0, "the 12 bytes it had not read are gone");
    is_int(got[0].end, WEIR_ECONNRESET, "the peer sees a reset");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* --- TCP's finer points ------------------------------------------------------------- */

/* A server whose reader paused (limit 10: it pauses above 20 bytes) and which closes
 * with bytes left in its socket buffer: its FIN becomes an RST, and the client loses the
 * reply it had not read yet. */
static int pause_then_close(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_sleep(10 * MS); /* the client's 100 bytes arrive; the reader pauses */
    weir_write(w, "reply\n", 6);
    (void)r;
    return 0; /* the server closes with bytes unread */
}

typedef struct unread_client {
    int read_rc;
    int64_t read_at;
} unread_client;

static int unread_client_task(void *arg) {
    unread_client *u = arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    static uint8_t junk[100];
    weir_write(w, junk, sizeof junk); /* read by the server's transport: its reader pauses */
    weir_sleep(1 * MS);
    weir_write(w, junk, sizeof junk); /* these stay in the socket buffer, unread */
    weir_sleep(50 * MS);              /* the reply and the RST arrive while we sleep */
    weir_bytes b;
    u->read_rc = weir_read(r, 100, &b);
    u->read_at = weir_now();
    weir_writer_free(w);
    return 0;
}

static void test_close_with_unread_bytes(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_server_opts so = {.limit = 10};
    weir_server *srv = NULL;
    weir_start_server(weir_sim_loop(s), pause_then_close, NULL, "srv", 80, &so, &srv);
    unread_client u = {0};
    spawn_on(s, "cli", unread_client_task, &u);
    is_int(run(s), 0, "run");
    is_int(u.read_rc, WEIR_ECONNRESET, "closing with unread bytes sends an RST, not a FIN");
    ok(trace_has(s, "rst, arrives"), "traced as an RST");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* A RESET fault in the server -> client direction with no trigger resets the server end
 * before it is even accepted: the handler still learns of it. */
static int first_read(weir_reader *r, weir_writer *w, void *arg) {
    (void)w;
    int *rc = arg;
    weir_bytes b;
    *rc = weir_read(r, 10, &b);
    return 0;
}

static void test_reset_before_accept(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_RESET);
    f.from = "srv";
    f.to = "cli";
    weir_sim_add_fault(s, &f);
    int handler_rc = 1;
    weir_server *srv = serve(s, "srv", 80, first_read, &handler_rc, 0);
    static client c;
    memset(&c, 0, sizeof c);
    c = (client){.host = "srv", .port = 80, .read_back = true};
    spawn_on(s, "cli", client_task, &c);
    is_int(run(s), 0, "run");
    is_int(handler_rc, WEIR_ECONNRESET, "the handler's first read sees the reset");
    is_int(c.back.end, WEIR_ECONNRESET, "the client is reset by the RST");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* write_eof then abort at once: the peer reads the EOF, which stops its reading, so the RST
 * waits for its next write; reads until then see the EOF again. */
typedef struct fin_rst {
    int first_rc, second_rc, write_rc, drain_rc, third_rc;
    size_t first_len, second_len;
} fin_rst;

static int fin_then_rst_reader(weir_reader *r, weir_writer *w, void *arg) {
    fin_rst *x = arg;
    weir_bytes b;
    x->first_rc = weir_read(r, 10, &b);
    x->first_len = b.len;
    weir_sleep(1 * MS); /* the RST comes a tick after the FIN */
    x->second_rc = weir_read(r, 10, &b);
    x->second_len = b.len;
    x->write_rc = weir_write(w, "late", 4);
    x->drain_rc = weir_drain(w);
    x->third_rc = weir_read(r, 10, &b);
    return 0;
}

static int fin_then_rst_client(void *arg) {
    (void)arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    weir_sleep(1 * MS); /* the server is reading */
    weir_write_eof(w);
    weir_transport *t = weir_writer_transport(w);
    t->ops->abort(t);
    weir_writer_free(w);
    return 0;
}

static void test_fin_then_rst(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    fin_rst x = {1, 1, 1, 1, 1, 99, 99};
    weir_server *srv = serve(s, "srv", 80, fin_then_rst_reader, &x, 0);
    spawn_on(s, "cli", fin_then_rst_client, NULL);
    is_int(run(s), 0, "run");
    is_int(x.first_rc, 0, "the first read sees EOF");
    is_int(x.first_len, 0, "(empty)");
    is_int(x.second_rc, 0, "the next one the EOF again: nothing watched for the RST");
    is_int(x.second_len, 0, "(empty)");
    is_int(x.write_rc, 0, "a write succeeds");
    is_int(x.drain_rc, WEIR_ECONNLOST, "its send noticed the RST: drain fails");
    is_int(x.third_rc, WEIR_EPIPE, "and reads fail with EPIPE (after the FIN: CLOSE_WAIT)");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* An RST that reaches a reader that paused with nothing queued to send waits, as in the
 * kernel, since nothing polls the socket: once it reads again (resuming), it gets every
 * byte that waited, then the reset. If it writes first, the send notices the RST and the
 * bytes that waited are never read. And with bytes queued (polled for writing) the RST is
 * noticed when it arrives. */
typedef struct paused_rst {
    int mode; /* 0: read everything; 1: write first; 2: write a lot, then drain */
    int rc, write_rc;
    size_t buffered_before, total;
    int64_t lost_at;
} paused_rst;

static int paused_reader(weir_reader *r, weir_writer *w, void *arg) {
    paused_rst *p = arg;
    if (p->mode == 2) {
        /* 1 MB through a 64-byte window: the queue stays long, and drain waits. */
        static uint8_t big[1 << 20];
        p->write_rc = weir_write(w, big, sizeof big);
        p->rc = weir_drain(w);
        p->lost_at = weir_now();
        return 0;
    }
    weir_sleep(100 * MS); /* 30 bytes buffered (paused above 20), 70 wait on the link */
    p->buffered_before = weir_reader_buffered(r);
    if (p->mode == 1) p->write_rc = weir_write(w, "x", 1);
    weir_bytes b;
    while ((p->rc = weir_read(r, 10, &b)) == 0 && b.len > 0) p->total += b.len;
    return 0;
}

static int flood_then_abort(void *arg) {
    (void)arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    for (int i = 0; i < 10; i++) {
        weir_write(w, "0123456789", 10);
        weir_sleep(1 * MS);
    }
    weir_sleep(10 * MS);
    weir_transport *t = weir_writer_transport(w);
    t->ops->abort(t);
    weir_writer_free(w);
    return 0;
}

static weir_sim *paused_run(paused_rst *p) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_link l = {.window = 64};
    weir_sim_set_link(s, "srv", "cli", &l);
    weir_server_opts so = {.limit = 10};
    weir_server *srv = NULL;
    weir_start_server(weir_sim_loop(s), paused_reader, p, "srv", 80, &so, &srv);
    spawn_on(s, "cli", flood_then_abort, NULL);
    is_int(run(s), 0, "run");
    weir_server_free(srv);
    return s;
}

static void test_rst_waits_for_paused_reader(void) {
    paused_rst p = {.mode = 0};
    weir_sim *s = paused_run(&p);
    is_int(p.buffered_before, 30, "the reader had paused with 30 bytes");
    is_int(p.total, 100, "resuming, it read all 100 bytes, those that waited too");
    is_int(p.rc, WEIR_ECONNRESET, "then the reset");
    ok(!trace_has(s, "unread"), "nothing was thrown away");
    weir_sim_free(s);

    p = (paused_rst){.mode = 1};
    s = paused_run(&p);
    is_int(p.write_rc, 0, "a paused reader that writes: the write succeeds");
    is_int(p.total, 30, "it still reads what its reader had buffered");
    is_int(p.rc, WEIR_ECONNRESET, "then the reset its send noticed");
    ok(trace_has(s, "drop 70 unread"), "the 70 bytes behind the pause were thrown away");
    weir_sim_free(s);

    p = (paused_rst){.mode = 2};
    s = paused_run(&p);
    is_int(p.write_rc, 0, "a paused reader with a long queue");
    is_int(p.rc, WEIR_ECONNRESET, "is polled for writing: drain fails with the reset");
    is_int(p.lost_at, 20 * MS, "as soon as it arrives");
    weir_sim_free(s);
}

/* --- Unix sockets ------------------------------------------------------------------- */

typedef struct unix_test {
    weir_server *srv;
    int listen_rc, again_rc;
    int missing_rc, rc;
    char peer[80], sock[80];
    seen back;
} unix_test;

static unix_test ut;

static int unix_server_task(void *arg) {
    (void)arg;
    ut.listen_rc = weir_start_unix_server(NULL, echo_handler, NULL, "/run/app.sock", NULL, &ut.srv);
    weir_server *dup = NULL;
    ut.again_rc = weir_start_unix_server(NULL, echo_handler, NULL, "/run/app.sock", NULL, &dup);
    return 0;
}

static int unix_client_task(void *arg) {
    (void)arg;
    weir_sleep(1 * MS);
    weir_reader *r;
    weir_writer *w;
    ut.missing_rc = weir_open_unix_connection("/run/none.sock", NULL, &r, &w);
    ut.rc = weir_open_unix_connection("/run/app.sock", NULL, &r, &w);
    if (ut.rc) return 1;
    weir_extra x;
    if (weir_get_extra_info(w, "peername", &x) == 0) snprintf(ut.peer, 80, "%s", x.str);
    if (weir_get_extra_info(w, "sockname", &x) == 0) snprintf(ut.sock, 80, "%s", x.str);
    weir_write(w, "over unix\n", 10);
    weir_write_eof(w);
    read_all(r, &ut.back);
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static void test_unix(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_sim_link l = {.latency = 2 * MS};
    weir_sim_set_link(s, "cli", "srv", &l);
    memset(&ut, 0, sizeof ut);
    spawn_on(s, "srv", unix_server_task, NULL);
    spawn_on(s, "cli", unix_client_task, NULL);
    is_int(run(s), 0, "run");
    is_int(ut.listen_rc, 0, "listen on a path");
    is_int(ut.again_rc, WEIR_EADDRINUSE, "the path is taken");
    is_int(ut.missing_rc, WEIR_ENOENT, "no socket at that path");
    is_int(ut.rc, 0, "connected");
    ok(strcmp(ut.peer, "/run/app.sock") == 0, "peername %s", ut.peer);
    ok(strcmp(ut.sock, "") == 0, "an unnamed client socket");
    is_mem(ut.back.data, ut.back.len, "over unix\n", 10, "echoed");
    is_int(ut.back.times[0], 3 * MS, "links apply to Unix sockets too (sent at 1 ms)");
    ok(weir_server_address(ut.srv, 0) &&
           strcmp(weir_server_address(ut.srv, 0), "/run/app.sock") == 0,
       "server address is the path");
    is_int(weir_server_port(ut.srv), -1, "no port");
    weir_server_free(ut.srv);
    weir_sim_free(s);
}

/* --- listening ---------------------------------------------------------------------- */

static int task_host_probe(void *arg) {
    weir_sim *s = arg;
    const char *h = weir__simnet_task_host(s, weir_task_current());
    return h && strcmp(h, "srv") == 0 ? 7 : 8;
}

static void test_listen_and_hosts(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    weir_server *a = serve(s, "srv", 0, echo_handler, NULL, 0);
    is_int(weir_server_port(a), 49152, "port 0: the first ephemeral port");
    weir_server *b = NULL;
    is_int(weir_start_server(weir_sim_loop(s), echo_handler, NULL, "10.0.0.2", 49152, NULL, &b),
           WEIR_EADDRINUSE, "taken: one address of a host bound to all");
    is_int(weir_start_server(weir_sim_loop(s), echo_handler, NULL, "10.0.0.1", 49152, NULL, &b), 0,
           "free on another host");
    weir_server *c = NULL;
    is_int(weir_start_server(weir_sim_loop(s), echo_handler, NULL, "10.7.7.7", 80, NULL, &c),
           WEIR_ENOENT, "nobody has that address");
    weir_task *t = NULL;
    weir_sim_spawn(s, "srv", task_host_probe, s, NULL, &t);
    is_int(run(s), 0, "run");
    int rc = 0;
    weir_join(t, &rc);
    is_int(rc, 7, "weir__simnet_task_host names the task's host");
    weir_server_free(a);
    weir_server_free(b);
    weir_sim_free(s);
}

/* Listening on localhost from a host binds that host's loopback only. */
typedef struct lo_test {
    weir_server *srv;
    char addr[80];
    client via_lo, via_name;
} lo_test;

static int lo_server_then_clients(void *arg) {
    lo_test *t = arg;
    if (weir_start_server(NULL, echo_handler, NULL, "localhost", 8080, NULL, &t->srv)) return 1;
    snprintf(t->addr, sizeof t->addr, "%s", weir_server_address(t->srv, 0));
    client_task(&t->via_lo);
    client_task(&t->via_name);
    return 0;
}

static void test_listen_loopback(void) {
    weir_sim *s = sim_new(1);
    two_hosts(s);
    static lo_test t;
    memset(&t, 0, sizeof t);
    t.via_lo = (client){.host = "127.0.0.1", .port = 8080};
    t.via_name = (client){.host = "srv", .port = 8080};
    spawn_on(s, "srv", lo_server_then_clients, &t);
    is_int(run(s), 0, "run");
    ok(strcmp(t.addr, "127.0.0.1:8080") == 0, "bound to %s", t.addr);
    is_int(t.via_lo.rc_connect, 0, "reached over loopback");
    is_int(t.via_name.rc_connect, WEIR_ECONNREFUSED, "not over the host's own address");
    weir_server_free(t.srv);
    weir_sim_free(s);
}

/* --- determinism -------------------------------------------------------------------- */

static uint64_t random_run(uint64_t seed, size_t *records) {
    weir_sim *s = sim_new(seed);
    two_hosts(s);
    weir_sim_link l = {.latency = 1 * MS,
                       .jitter = {0, 5 * MS},
                       .segment = {1, 7},
                       .bandwidth = 100000,
                       .connect_delay = {1 * MS, 3 * MS}};
    weir_sim_set_link(s, "*", "*", &l);
    weir_server *srv = serve(s, "srv", 80, echo_handler, NULL, 0);
    static const uint8_t msg[] = "one\ntwo two\nthree three three\n";
    static client c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++) {
        c[i] = (client){.host = "srv",
                        .port = 80,
                        .send = msg,
                        .send_len = sizeof msg - 1,
                        .write_eof = true,
                        .read_back = true};
        spawn_on(s, "cli", client_task, &c[i]);
    }
    if (run(s)) abort();
    for (int i = 0; i < 3; i++)
        if (c[i].back.len != sizeof msg - 1) abort();
    uint64_t h = weir_sim_trace_hash(s);
    *records = weir_sim_trace_count(s);
    if (s->net->conns) abort(); /* every connection closed and freed */
    weir_server_free(srv);
    weir_sim_free(s);
    return h;
}

static void test_determinism(void) {
    size_t n1, n2, n3;
    uint64_t a = random_run(5, &n1), b = random_run(5, &n2), c = random_run(6, &n3);
    ok(a == b, "seed 5 twice: the same trace hash");
    is_int(n1, n2, "and the same number of records");
    ok(a != c, "seed 6: another hash");
}

/* --- freeing with everything in flight ---------------------------------------------- */

static int busy_client(void *arg) {
    (void)arg;
    weir_reader *r;
    weir_writer *w;
    if (weir_open_connection("srv", 80, NULL, &r, &w)) return 1;
    static uint8_t buf[300000];
    for (;;) {
        if (weir_write(w, buf, sizeof buf)) break;
        if (weir_drain(w)) break;
    }
    weir_writer_free(w);
    return 0;
}

static void test_free_midway(void) {
    weir_sim *s = sim_new(9);
    two_hosts(s);
    weir_sim_link l = {.latency = 10 * MS, .segment = {100, 5000}, .bandwidth = 1000000};
    weir_sim_set_link(s, "*", "*", &l);
    weir_sim_fault f = weir_sim_fault_init(WEIR_FAULT_HOLD);
    f.at = 30 * MS;
    f.duration = 1 * WEIR_SEC;
    weir_sim_add_fault(s, &f);
    static seen got[4];
    memset(got, 0, sizeof got);
    sink k = {.seen = got, .nseen = 4, .limit_sleep = 20 * MS};
    weir_server *srv = serve(s, "srv", 80, sink_handler, &k, 0);
    for (int i = 0; i < 4; i++) spawn_on(s, "cli", busy_client, NULL);
    is_int(weir_loop_run_until(weir_sim_loop(s), 50 * MS), 0, "ran for 50 ms");
    ok(got[0].len > 0, "bytes were moving (%zu)", got[0].len);
    /* The server goes first (as a program's cleanup would), then the whole simulation with
     * tasks blocked, segments in flight and timers armed: ASan checks nothing leaks. */
    weir_server_free(srv);
    weir_sim_free(s);
    ok(1, "freed with connections open");
}

int main(void) {
    test_hosts();
    test_echo_and_names();
    test_refusals();
    test_latency_bandwidth();
    test_jitter_in_order();
    test_segmentation();
    test_link_rules();
    test_flow_control();
    test_fault_matrix();
    test_pattern_across_segments();
    test_fault_direction_and_late_conn();
    test_chance();
    test_hold_forever();
    test_fault_args();
    test_backlog();
    test_listener_close_resets_queue();
    test_rst_after_close();
    test_abort();
    test_close_with_unread_bytes();
    test_reset_before_accept();
    test_fin_then_rst();
    test_rst_waits_for_paused_reader();
    test_unix();
    test_listen_and_hosts();
    test_listen_loopback();
    test_determinism();
    test_free_midway();
    return done_testing();
}
