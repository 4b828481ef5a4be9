/* examples/wait_for_data.c - asyncio's "Register an open socket to wait for data using
 * streams", in C.
 *
 *     async def wait_for_data():
 *         loop = asyncio.get_running_loop()
 *         rsock, wsock = socket.socketpair()
 *         reader, writer = await asyncio.open_connection(sock=rsock)
 *         loop.call_soon(wsock.send, 'abc'.encode())
 *         data = await reader.read(100)
 *         print("Received:", data.decode())
 *         writer.close()
 *         await writer.wait_closed()
 *         wsock.close()
 *
 * On the poll backend, by default: a real socketpair(2), one end adopted with
 * weir_open_connection_fd (asyncio's sock=), the other written with send(2).
 *
 *     wait_for_data [MESSAGE]
 *
 * Inside the simulator there are no file descriptors to adopt (weir_open_connection_fd says
 * WEIR_ENOTSUP there), so the pair is an in-memory connection on the simulator's loop
 * (weir_stream_pair) and "wsock" is its other end. It draws nothing from the decision
 * stream, so every seed gives the same run; --trace shows the notes it leaves:
 *
 *     wait_for_data --sim [--seed N] [--trace] [MESSAGE]
 *
 * wait_for_data() is the same code in both cases: only the loop and the kind of pair
 * differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weir/poll.h"
#include "weir/weir.h"

/* A connected pair: our end as a reader/writer, and the other end ("wsock"). */
typedef struct pair_ops {
    /* Make the pair; *r and *w are our end. */
    int (*open)(void *impl, weir_reader **r, weir_writer **w);
    /* Send bytes from the other end (called from a loop callback). */
    void (*send)(void *impl, const char *data, size_t len);
    /* Close the other end. */
    void (*close)(void *impl);
} pair_ops;

typedef struct example {
    const pair_ops *pair;
    void *impl;
    const char *message;
} example;

static void send_message(void *arg) {
    example *e = arg;
    e->pair->send(e->impl, e->message, strlen(e->message));
}

/* --- the example: the same on both backends ------------------------------------------- */

static int wait_for_data(void *arg) {
    example *e = arg;
    weir_loop *loop = weir_current_loop();
    /* Create a pair of connected sockets and register the open one to wait for data. */
    weir_reader *r;
    weir_writer *w;
    int rc = e->pair->open(e->impl, &r, &w);
    if (rc) {
        fprintf(stderr, "wait_for_data: open: %s\n", weir_strerror(rc));
        return rc;
    }
    /* Simulate the reception of data from the network. */
    rc = weir_call_soon(loop, send_message, e);
    /* Wait for data. */
    weir_bytes data = {0};
    if (rc == 0) rc = weir_read(r, 100, &data);
    if (rc == 0)
        printf("Received: %.*s\n", (int)data.len, (const char *)data.data);
    else
        fprintf(stderr, "wait_for_data: read: %s\n", weir_strerror(rc));
    /* Got data, we are done: close the socket. */
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    weir_writer_free(w);
    /* Close the second socket. */
    e->pair->close(e->impl);
    return rc ? rc : closed;
}

/* --- real sockets: socketpair(2) --------------------------------------------------------- */

typedef struct sockpair {
    int wsock;
} sockpair;

static int sockpair_open(void *impl, weir_reader **r, weir_writer **w) {
    sockpair *sp = impl;
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return WEIR_EIO;
    int rc = weir_open_connection_fd(NULL, fds[0], NULL, r, w); /* asyncio's sock=rsock */
    if (rc) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    sp->wsock = fds[1];
    return 0;
}

static void sockpair_send(void *impl, const char *data, size_t len) {
    sockpair *sp = impl;
    /* A few bytes into an empty socket buffer: send(2) takes them all at once. */
    if (send(sp->wsock, data, len, 0) < 0) perror("wait_for_data: send");
}

static void sockpair_close(void *impl) {
    sockpair *sp = impl;
    close(sp->wsock);
    sp->wsock = -1;
}

static const pair_ops sockpair_ops = {sockpair_open, sockpair_send, sockpair_close};

static int run_real(example *e) {
    sockpair sp = {.wsock = -1};
    e->pair = &sockpair_ops;
    e->impl = &sp;
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    if (rc) return rc;
    weir_task *t;
    int trc = -1;
    if ((rc = weir_spawn(loop, wait_for_data, e, NULL, &t)) == 0) {
        rc = weir_loop_run(loop);
        if (weir_join(t, &trc) != 0) {
            weir_task_detach(t);
            trc = WEIR_EDEADLOCK;
        }
    }
    weir_loop_free(loop);
    if (sp.wsock >= 0) close(sp.wsock);
    return rc ? rc : trc;
}

/* --- the simulator: an in-memory pair on the simulator's loop ---------------------------- */

typedef struct mempair {
    weir_sim *sim;
    weir_writer *other; /* "wsock" */
} mempair;

static int mempair_open(void *impl, weir_reader **r, weir_writer **w) {
    mempair *mp = impl;
    weir_reader *rs[2];
    weir_writer *ws[2];
    int rc = weir_stream_pair(weir_current_loop(), NULL, rs, ws);
    if (rc) return rc;
    *r = rs[0];
    *w = ws[0];
    mp->other = ws[1];
    return 0;
}

static void mempair_send(void *impl, const char *data, size_t len) {
    mempair *mp = impl;
    weir_sim_note(mp->sim, "wsock sends %zu bytes", len); /* shows in --trace */
    int rc = weir_write(mp->other, data, len);
    if (rc) fprintf(stderr, "wait_for_data: send: %s\n", weir_strerror(rc));
}

static void mempair_close(void *impl) {
    mempair *mp = impl;
    weir_sim_note(mp->sim, "wsock closed");
    weir_writer_free(mp->other); /* closes it at once, as close(2) would */
    mp->other = NULL;
}

static const pair_ops mempair_ops = {mempair_open, mempair_send, mempair_close};

static int run_sim(example *e, uint64_t seed, int trace) {
    weir_sim_opts so = {.seed = seed, .keep_trace = trace != 0};
    weir_sim *s;
    int rc = weir_sim_new(&so, &s);
    if (rc) return rc;
    mempair mp = {.sim = s};
    e->pair = &mempair_ops;
    e->impl = &mp;
    weir_task *t;
    int trc = -1;
    if ((rc = weir_spawn(weir_sim_loop(s), wait_for_data, e, NULL, &t)) == 0) {
        rc = weir_sim_run(s);
        if (weir_join(t, &trc) != 0) {
            weir_task_detach(t);
            trc = WEIR_EDEADLOCK;
        }
    }
    if (rc)
        fprintf(stderr, "wait_for_data: simulation: %s\n%s", weir_strerror(rc), weir_sim_report(s));
    if (trace) weir_sim_trace_write(s, stderr);
    fprintf(stderr, "sim: seed %llu, %.6f ms virtual, %llu draws, trace hash %016llx\n",
            (unsigned long long)seed, (double)weir_loop_now(weir_sim_loop(s)) / WEIR_MS,
            (unsigned long long)weir_sim_draws(s), (unsigned long long)weir_sim_trace_hash(s));
    if (mp.other) weir_writer_free(mp.other);
    weir_sim_free(s);
    return rc ? rc : trc;
}

/* --- command line -------------------------------------------------------------------- */

int main(int argc, char **argv) {
    example e = {.message = "abc"};
    int sim = 0, trace = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sim") == 0)
            sim = 1;
        else if (strcmp(argv[i], "--trace") == 0)
            trace = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (argv[i][0] != '-')
            e.message = argv[i];
        else {
            fputs("usage: wait_for_data [MESSAGE]\n"
                  "       wait_for_data --sim [--seed N] [--trace] [MESSAGE]\n",
                  stderr);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = sim ? run_sim(&e, seed, trace) : run_real(&e);
    return rc ? 1 : 0;
}
