/* bench/echo.c - loopback echo on real sockets: weir's server and client roles.
 *
 * The protocol (the same for every peer in bench/echo/): a client opens CONNS connections,
 * and on each one sends a MSG-byte message and reads until the whole echo is back before it
 * sends the next (one round trip), until DURATION seconds have passed. The server echoes
 * bytes as they arrive: read whatever is there (up to 64 KiB), write it back, drain.
 *
 *     build/bench/echo server [--host H] [--port P]
 *         Serve until killed. Prints "port N" (the bound port; P 0 = ephemeral) once
 *         listening.
 *     build/bench/echo client --port P [--host H] [--conns N] [--size B] [--seconds S]
 *         Prints one line: "rt R bytes B seconds S cpu C" (round trips, payload bytes one
 *         way, the time they took from the first send to the last echo, and the CPU seconds
 *         the client process used meanwhile).
 *     build/bench/echo
 *         The whole comparison: runs bench/echo/run.sh (which uses the two roles above beside
 *         CPython asyncio, uvloop and the libuv/libevent peers) with its default, bounded
 *         settings. This is what `make bench` runs.
 *
 * The server uses asyncio's start_server shape (weir_start_server, one task per
 * connection); the client opens its connections from one task and then runs one task per
 * connection. Each connection checks its first echo byte for byte; after that only lengths
 * are counted, as the other peers do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir/weir.h"
#include "weir/poll.h"

#define READ_MAX 65536
#define TASK_STACK (64 * 1024)

static void die(const char *what, int rc) {
    fprintf(stderr, "echo: %s: %s (%s)\n", what, weir_strerror(rc), weir_errname(rc));
    exit(1);
}

/* --- server --------------------------------------------------------------------------- */

static int echo_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    for (;;) {
        weir_bytes b;
        int rc = weir_read(r, READ_MAX, &b);
        if (rc) return rc;
        if (b.len == 0) return 0; /* EOF: the server closes the writer */
        /* The view stays valid until the next read on r, so it can be written as it is. */
        rc = weir_write(w, b.data, b.len);
        if (rc == 0) rc = weir_drain(w);
        if (rc) return rc;
    }
}

static int run_server(const char *host, int port) {
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    if (rc) die("weir_loop_new_poll", rc);
    weir_server *srv;
    weir_server_opts so = {.backlog = 1024, .reuse_address = true};
    rc = weir_start_server(loop, echo_handler, NULL, host, port, &so, &srv);
    if (rc) die("weir_start_server", rc);
    printf("port %d\n", weir_server_port(srv));
    fflush(stdout);
    rc = weir_loop_run(loop); /* the listener keeps it running until we are killed */
    if (rc) die("weir_loop_run", rc);
    weir_server_free(srv);
    weir_loop_free(loop);
    return 0;
}

/* --- client --------------------------------------------------------------------------- */

typedef struct client_cfg {
    const char *host;
    int port;
    size_t conns, size;
    int64_t duration;
} client_cfg;

typedef struct conn {
    const client_cfg *cfg;
    weir_reader *r;
    weir_writer *w;
    const uint8_t *msg;
    int64_t end;      /* no new round trip starts at or after this */
    int64_t finished; /* when the last echo came back */
    uint64_t rts;
    int error;
} conn;

/* The echo of one message: MSG bytes, in as many reads as they take. */
static int one_round_trip(conn *c, bool check) {
    size_t size = c->cfg->size, got = 0;
    int rc = weir_write(c->w, c->msg, size);
    if (rc == 0) rc = weir_drain(c->w);
    if (rc) return rc;
    while (got < size) {
        weir_bytes b;
        rc = weir_read(c->r, READ_MAX, &b);
        if (rc) return rc;
        if (b.len == 0 || got + b.len > size) return WEIR_EMISMATCH; /* EOF, or too much */
        if (check && memcmp(b.data, c->msg + got, b.len) != 0) return WEIR_EMISMATCH;
        got += b.len;
    }
    return 0;
}

static int conn_task(void *arg) {
    conn *c = arg;
    while (weir_now() < c->end) {
        int rc = one_round_trip(c, c->rts == 0);
        if (rc) {
            c->error = rc;
            break;
        }
        c->rts++;
    }
    c->finished = weir_now();
    return c->error;
}

typedef struct client_run {
    const client_cfg *cfg;
    conn *conns;
    int64_t start, stop;
    double cpu; /* the process's CPU seconds from start until every connection finished */
    int error;
} client_run;

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int client_main(void *arg) {
    client_run *run = arg;
    const client_cfg *cfg = run->cfg;
    uint8_t *msg = malloc(cfg->size);
    if (!msg) return run->error = WEIR_ENOMEM;
    for (size_t i = 0; i < cfg->size; i++) msg[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < cfg->conns; i++) {
        conn *c = &run->conns[i];
        c->cfg = cfg;
        c->msg = msg;
        int rc = weir_open_connection(cfg->host, cfg->port, NULL, &c->r, &c->w);
        if (rc) {
            fprintf(stderr, "echo: connection %zu: %s\n", i, weir_strerror(rc));
            run->error = rc;
            goto out;
        }
    }
    run->start = weir_now();
    run->cpu = -cpu_s();
    weir_task **tasks = calloc(cfg->conns, sizeof *tasks);
    if (!tasks) {
        run->error = WEIR_ENOMEM;
        goto out;
    }
    weir_task_opts to = {.stack_size = TASK_STACK};
    for (size_t i = 0; i < cfg->conns; i++) {
        run->conns[i].end = run->start + cfg->duration;
        int rc = weir_spawn(weir_current_loop(), conn_task, &run->conns[i], &to, &tasks[i]);
        if (rc) die("weir_spawn", rc);
    }
    run->stop = run->start;
    for (size_t i = 0; i < cfg->conns; i++) {
        weir_join(tasks[i], NULL);
        conn *c = &run->conns[i];
        if (c->error && !run->error) run->error = c->error;
        if (c->finished > run->stop) run->stop = c->finished;
    }
    run->cpu += cpu_s();
    free(tasks);
out:
    for (size_t i = 0; i < cfg->conns; i++) {
        weir_writer *w = run->conns[i].w;
        if (!w) continue;
        weir_writer_close(w);
        weir_wait_closed(w);
        weir_writer_free(w);
    }
    free(msg);
    return run->error;
}

static int run_client(const client_cfg *cfg) {
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    if (rc) die("weir_loop_new_poll", rc);
    client_run run = {.cfg = cfg, .conns = calloc(cfg->conns, sizeof(conn))};
    if (!run.conns) die("calloc", WEIR_ENOMEM);
    weir_task *t;
    rc = weir_spawn(loop, client_main, &run, NULL, &t);
    if (rc) die("weir_spawn", rc);
    rc = weir_loop_run(loop);
    if (rc) die("weir_loop_run", rc);
    weir_join(t, NULL);
    if (run.error) die("client", run.error);
    uint64_t rts = 0;
    for (size_t i = 0; i < cfg->conns; i++) rts += run.conns[i].rts;
    double secs = (double)(run.stop - run.start) / 1e9;
    printf("rt %llu bytes %llu seconds %.6f cpu %.6f\n", (unsigned long long)rts,
           (unsigned long long)(rts * cfg->size), secs, run.cpu);
    free(run.conns);
    weir_loop_free(loop);
    return 0;
}

/* --- no arguments: the whole comparison ------------------------------------------------ */

/* bench/echo/run.sh, found from the working directory (make runs at the top of the tree) or
 * from this binary's place (build/bench/echo -> ../../bench/echo/run.sh). */
static int run_script(const char *argv0) {
    char self[4096], script[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
    } else {
        snprintf(self, sizeof self, "%s", argv0);
    }
    const char *candidates[2] = {"bench/echo/run.sh", NULL};
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = '\0';
        snprintf(script, sizeof script, "%s/../../bench/echo/run.sh", self);
        candidates[1] = script;
        *slash = '/';
    }
    for (int i = 0; i < 2; i++) {
        if (!candidates[i] || access(candidates[i], R_OK) != 0) continue;
        setenv("WEIR_ECHO", self, 1);
        execl("/bin/sh", "sh", candidates[i], (char *)NULL);
        fprintf(stderr, "echo: cannot run %s: %s\n", candidates[i], strerror(errno));
        return 1;
    }
    fprintf(stderr, "echo: bench/echo/run.sh not found (run from the top of the tree)\n");
    return 1;
}

static void usage(void) {
    fprintf(stderr, "usage: echo server [--host H] [--port P]\n"
                    "       echo client --port P [--host H] [--conns N] [--size B] "
                    "[--seconds S]\n"
                    "       echo            (the whole comparison: bench/echo/run.sh)\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) return run_script(argv[0]);
    bool server = strcmp(argv[1], "server") == 0;
    if (!server && strcmp(argv[1], "client") != 0) usage();
    client_cfg cfg = {
        .host = "127.0.0.1", .port = 0, .conns = 1, .size = 64, .duration = 2 * WEIR_SEC};
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--host") == 0) {
            cfg.host = val;
        } else if (strcmp(opt, "--port") == 0) {
            cfg.port = atoi(val);
        } else if (strcmp(opt, "--conns") == 0) {
            cfg.conns = (size_t)atol(val);
        } else if (strcmp(opt, "--size") == 0) {
            cfg.size = (size_t)atol(val);
        } else if (strcmp(opt, "--seconds") == 0) {
            cfg.duration = (int64_t)(atof(val) * 1e9);
        } else {
            usage();
        }
    }
    if (server) return run_server(cfg.host, cfg.port);
    if (cfg.port <= 0 || cfg.conns == 0 || cfg.size == 0 || cfg.duration <= 0) usage();
    return run_client(&cfg);
}
