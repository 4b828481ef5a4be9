/* bench/sim.c - lines per wall-clock second through the simulated network.
 *
 * CONNS clients each exchange LINES lines (32 bytes each, a window of 16 lines in flight)
 * with the bundled line-echo server, over a link with 1 ms latency and segmentation, then
 * the same with 0..100 us of jitter drawn for every segment. Without jitter, the segments
 * of one burst arrive together and are delivered in one timer event; with it, every segment
 * arrives at its own time, so each is its own event on a connection whose memory has gone
 * cold in between (the cost per line roughly doubles at a thousand connections).
 * Reports simulated lines per wall second, virtual seconds per wall second, and the trace
 * hash (the same on every run: the benchmark is deterministic too). The baseline printed
 * beside it is the same exchange over the in-memory pair (weir_stream_pair) on the plain
 * virtual loop: no links, no segmentation, no trace.
 *
 *     build/bench/sim [CONNS [LINES [ROW]]]
 *
 * ROW picks one setup (whole, 16..64, 1..16, the same with "+jitter", or pair; default:
 * all), which is how a profiler
 * (valgrind --tool=callgrind) looks at one of them. Wall time is what the issue asks for;
 * CPU time is printed beside it because the bench machines are shared and noisy, and CPU
 * time is what a busy neighbour distorts least. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir/weir.h"

#define LINE_LEN 31 /* plus "\n" */

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

typedef struct timing {
    double wall, cpu;
} timing;

static timing start_timing(void) { return (timing){now_s(), cpu_s()}; }
static timing since(timing t0) { return (timing){now_s() - t0.wall, cpu_s() - t0.cpu}; }

static weir_bytes *make_lines(size_t n) {
    static char text[LINE_LEN + 1];
    memset(text, 'x', LINE_LEN);
    weir_bytes *lines = malloc(n * sizeof *lines);
    for (size_t i = 0; i < n; i++) lines[i] = weir_bytes_of(text, LINE_LEN);
    return lines;
}

typedef struct client {
    weir_line_client_cfg cfg;
    weir_line_client_result result;
    weir_endpoint target;
} client;

static int run_client(void *arg) {
    client *c = arg;
    return weir_line_client(&c->target, &c->cfg);
}

static void sim_run(size_t conns, size_t lines, const weir_sim_range segment, bool jitter,
                    timing *took, double *virt, uint64_t *hash) {
    weir_sim *s;
    weir_sim_opts o = {.seed = 1, .max_time = 3600 * WEIR_SEC};
    if (weir_sim_new(&o, &s)) abort();
    weir_sim_add_host(s, "server", "10.0.0.1");
    weir_sim_add_host(s, "client", "10.0.0.2");
    weir_sim_link l = {.latency = 1 * WEIR_MS, .segment = segment};
    if (jitter) l.jitter = (weir_sim_range){0, 100 * WEIR_US};
    weir_sim_set_link(s, "*", "*", &l);
    weir_server *srv;
    weir_server_opts so = {.backlog = (int)conns};
    if (weir_start_server(weir_sim_loop(s), weir_line_echo, NULL, "10.0.0.1", 7, &so, &srv))
        abort();
    weir_bytes *text = make_lines(lines);
    client *cs = calloc(conns, sizeof *cs);
    for (size_t i = 0; i < conns; i++) {
        cs[i].target = (weir_endpoint){.host = "server", .port = 7};
        cs[i].cfg = (weir_line_client_cfg){
            .lines = text, .nlines = lines, .window = 16, .result = &cs[i].result};
        weir_task *t;
        weir_task_opts to = {.stack_size = 64 * 1024};
        if (weir_sim_spawn(s, "client", run_client, &cs[i], &to, &t)) abort();
        weir_task_detach(t);
    }
    timing t0 = start_timing();
    /* The clients finish; the server stays: run until only it is left. */
    weir_loop *loop = weir_sim_loop(s);
    while (weir_server_accepted(srv) < conns || weir_server_active(srv) > 0 ||
           weir_loop_live_tasks(loop) > weir_server_active(srv)) {
        int rc = weir_loop_run_until(loop, weir_loop_now(loop) + 100 * WEIR_MS);
        if (rc && rc != WEIR_EDEADLOCK) abort();
        if (rc == WEIR_EDEADLOCK) break;
    }
    *took = since(t0);
    *virt = (double)weir_loop_now(loop) / 1e9;
    *hash = weir_sim_trace_hash(s);
    for (size_t i = 0; i < conns; i++)
        if (cs[i].result.received != lines) {
            fprintf(stderr, "client %zu: %zu of %zu lines, error %d\n", i, cs[i].result.received,
                    lines, cs[i].result.error);
            exit(1);
        }
    weir_server_free(srv);
    weir_sim_free(s);
    free(cs);
    free(text);
}

/* The same exchange over weir_stream_pair: the cost of tasks and streams alone. */
typedef struct pair_client {
    weir_writer *w;
    weir_line_client_cfg cfg;
    weir_line_client_result result;
} pair_client;

static int pair_client_task(void *arg) {
    pair_client *c = arg;
    int rc = weir_line_exchange(weir_writer_reader(c->w), c->w, &c->cfg, &c->result);
    weir_writer_close(c->w);
    return rc;
}

static int pair_server_task(void *arg) {
    weir_writer *w = arg;
    return weir_line_echo(weir_writer_reader(w), w, NULL);
}

static timing pair_run(size_t conns, size_t lines) {
    weir_loop *loop;
    weir_loop_new_virtual(&loop);
    weir_bytes *text = make_lines(lines);
    pair_client *cs = calloc(conns, sizeof *cs);
    weir_writer **ws = calloc(conns * 2, sizeof *ws);
    for (size_t i = 0; i < conns; i++) {
        weir_reader *r[2];
        weir_writer *w[2];
        if (weir_stream_pair(loop, NULL, r, w)) abort();
        ws[2 * i] = w[0];
        ws[2 * i + 1] = w[1];
        cs[i].w = w[0];
        cs[i].cfg = (weir_line_client_cfg){.lines = text, .nlines = lines, .window = 16};
        weir_task *t;
        weir_task_opts to = {.stack_size = 64 * 1024};
        weir_spawn(loop, pair_client_task, &cs[i], &to, &t);
        weir_task_detach(t);
        weir_spawn(loop, pair_server_task, w[1], &to, &t);
        weir_task_detach(t);
    }
    timing t0 = start_timing();
    if (weir_loop_run(loop)) abort();
    timing took = since(t0);
    for (size_t i = 0; i < conns * 2; i++) weir_writer_free(ws[i]);
    weir_loop_free(loop);
    free(ws);
    free(cs);
    free(text);
    return took;
}

int main(int argc, char **argv) {
    size_t conns = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    size_t lines = argc > 2 ? (size_t)atol(argv[2]) : 1000;
    const char *only = argc > 3 ? argv[3] : NULL;
    double total = (double)conns * (double)lines;
    printf("%zu connections x %zu lines of %d bytes, echoed (window 16 lines)\n\n", conns, lines,
           LINE_LEN + 1);
    printf("| setup | wall s | lines/s | CPU s | lines per CPU s | virtual s / wall s | "
           "trace hash |\n");
    printf("|---|---:|---:|---:|---:|---:|---|\n");
    struct {
        const char *key, *name;
        weir_sim_range seg;
        bool jitter;
    } rows[] = {
        {"whole", "sim, whole writes", {0, 0}, false},
        {"16..64", "sim, segments 16..64 B", {16, 64}, false},
        {"1..16", "sim, segments 1..16 B", {1, 16}, false},
        {"whole+jitter", "sim, whole writes, jitter", {0, 0}, true},
        {"16..64+jitter", "sim, segments 16..64 B, jitter", {16, 64}, true},
        {"1..16+jitter", "sim, segments 1..16 B, jitter", {1, 16}, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (only && strcmp(only, rows[i].key) != 0) continue;
        timing t;
        double virt;
        uint64_t hash;
        sim_run(conns, lines, rows[i].seg, rows[i].jitter, &t, &virt, &hash);
        printf("| %s | %.2f | %.0f | %.2f | %.0f | %.3f | %016llx |\n", rows[i].name, t.wall,
               total / t.wall, t.cpu, total / t.cpu, virt / t.wall, (unsigned long long)hash);
    }
    if (!only || strcmp(only, "pair") == 0) {
        timing t = pair_run(conns, lines);
        printf("| baseline: weir_stream_pair, virtual loop | %.2f | %.0f | %.2f | %.0f | - | - |\n",
               t.wall, total / t.wall, t.cpu, total / t.cpu);
    }
    return 0;
}
