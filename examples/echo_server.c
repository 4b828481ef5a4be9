/* examples/echo_server.c - asyncio's "TCP echo server using streams", in C.
 *
 *     async def handle_echo(reader, writer):
 *         data = await reader.read(100)
 *         message = data.decode()
 *         addr = writer.get_extra_info('peername')
 *         print(f"Received {message!r} from {addr!r}")
 *         print(f"Send: {message!r}")
 *         writer.write(data)
 *         await writer.drain()
 *         print("Close the connection")
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     async def main():
 *         server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
 *         addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
 *         print(f'Serving on {addrs}')
 *         async with server:
 *             await server.serve_forever()
 *
 * Against real sockets (the poll backend), by default; it serves until SIGINT or SIGTERM,
 * gives the connections being served 2 s to finish, cancels the others, and exits 0.
 * --port 0 listens on an ephemeral port: the "Serving on" line (the first line printed)
 * says which.
 *
 *     echo_server [--host H] [--port P | --unix PATH] [--tls --cert F [--key F]]
 *
 * Inside the simulator, together with three simulated clients (asyncio's tcp_echo_client),
 * started 100 ms apart; the server is closed, as if interrupted, once they are done:
 *
 *     echo_server --sim [--seed N] [--trace]
 *
 * main_task() and handle_echo() are the same code in both cases: only the loop and what
 * interrupts the server differ. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weir/poll.h"
#include "weir/tls.h"
#include "weir/weir.h"

typedef struct server_cfg server_cfg;
struct server_cfg {
    const char *host; /* TCP; NULL = every address */
    int port;
    const char *path; /* a Unix socket, or NULL */
    weir_server_opts opts;
    /* What will close the server: started once it is serving, stopped (if it has not
     * finished) before the server is freed. */
    int (*start_interrupter)(server_cfg *c, weir_server *srv);
    void (*stop_interrupter)(server_cfg *c);
    void *interrupter; /* its state */
};

/* After an interruption, how long connections being served may take to finish before
 * they are cancelled (asyncio's example cancels them at once: its KeyboardInterrupt ends
 * asyncio.run, which cancels every task). */
#define GRACE (2 * WEIR_SEC)

/* Print bytes the way Python's repr() prints a str: quoted, with escapes. */
static void print_repr(const char *before, const void *data, size_t len, const char *after) {
    const unsigned char *p = data;
    /* Python quotes with ' unless the text holds a ' and no ". */
    char q = len && memchr(p, '\'', len) && !memchr(p, '"', len) ? '"' : '\'';
    printf("%s%c", before, q);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' || p[i] == (unsigned char)q)
            printf("\\%c", p[i]);
        else if (p[i] == '\n')
            fputs("\\n", stdout);
        else if (p[i] == '\r')
            fputs("\\r", stdout);
        else if (p[i] == '\t')
            fputs("\\t", stdout);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
    printf("%c%s\n", q, after);
}

static void report(const char *who, const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s", who, what, weir_strerror(rc));
    if (rc == WEIR_ETLS) fprintf(stderr, " (%s)", weir_tls_last_error());
    fputc('\n', stderr);
}

/* --- the server: the same on both backends ------------------------------------------- */

static int handle_echo(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes data;
    int rc = weir_read(r, 100, &data);
    if (rc) {
        if (rc != WEIR_ECANCELED) report("echo_server", "read", rc); /* cancelled: we stop */
        return rc;
    }
    weir_extra peer = {0};
    (void)weir_get_extra_info(w, "peername", &peer);
    char from[128];
    snprintf(from, sizeof from, " from %s",
             peer.kind == WEIR_EXTRA_STR && *peer.str ? peer.str : "?");
    print_repr("Received ", data.data, data.len, from);
    print_repr("Send: ", data.data, data.len, "");
    rc = weir_write(w, data.data, data.len);
    if (rc == 0) rc = weir_drain(w);
    puts("Close the connection");
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    return rc ? rc : closed;
}

static int main_task(void *arg) {
    server_cfg *c = arg;
    weir_server *srv;
    int rc = c->path ? weir_start_unix_server(NULL, handle_echo, NULL, c->path, &c->opts, &srv)
                     : weir_start_server(NULL, handle_echo, NULL, c->host, c->port, &c->opts, &srv);
    if (rc == WEIR_ENOENT) {
        fprintf(stderr, "echo_server: listen: %s\n",
                c->path ? "no such directory for the socket" : "the name does not resolve");
        return rc;
    }
    if (rc) {
        report("echo_server", "listen", rc);
        return rc;
    }
    fputs("Serving on ", stdout);
    for (size_t i = 0; weir_server_address(srv, i); i++)
        printf("%s%s", i ? ", " : "", weir_server_address(srv, i));
    putchar('\n');
    rc = c->start_interrupter(c, srv);
    if (rc == 0) rc = weir_server_serve_forever(srv); /* until the server is closed */
    weir_server_close(srv);
    int64_t old = weir_deadline_set(weir_now() + GRACE);
    int closed = weir_server_wait_closed(srv); /* every handler has returned */
    weir_deadline_set(old);
    if (closed == WEIR_ETIMEDOUT) {
        fprintf(stderr, "echo_server: cancelling %zu connection(s) still open\n",
                weir_server_active(srv));
        closed = 0;
    }
    c->stop_interrupter(c);
    weir_server_free(srv); /* cancels the handlers still running */
    if (rc == 0) puts("Server closed");
    return rc ? rc : closed;
}

/* Cancel t (a no-op if it has returned) and wait for it to return. */
static void end_task(weir_task *t) {
    if (!t) return;
    weir_task_cancel(t);
    if (weir_join(t, NULL) != 0) weir_task_detach(t); /* we are being cancelled ourselves */
}

/* --- real sockets: SIGINT / SIGTERM close the server ------------------------------------ */

/* The self-pipe trick, with a socketpair so that the loop can watch it as a connection:
 * the signal handler writes a byte (write(2) is async-signal-safe), a task reading the other
 * end wakes up and closes the server. */
static int sig_fd[2] = {-1, -1};

static void on_signal(int sig) {
    int saved = errno;
    char b = (char)sig;
    (void)!write(sig_fd[1], &b, 1);
    errno = saved;
}

typedef struct watcher {
    weir_reader *r;
    weir_writer *w;
    weir_server *srv;
    weir_task *task;
} watcher;

static int watch_signals(void *arg) {
    watcher *wt = arg;
    weir_bytes b;
    int rc = weir_read(wt->r, 1, &b); /* a signal, or cancelled by stop_signal_watcher */
    if (rc == 0 && b.len == 1) {
        fprintf(stderr, "echo_server: signal %d, closing\n", b.data[0]);
        weir_server_close(wt->srv);
    }
    weir_writer_free(wt->w); /* the loop has nothing left to watch */
    return 0;
}

static int start_signal_watcher(server_cfg *c, weir_server *srv) {
    watcher *wt = c->interrupter;
    wt->srv = srv;
    int rc = weir_open_connection_fd(NULL, sig_fd[0], NULL, &wt->r, &wt->w);
    if (rc) return rc;
    sig_fd[0] = -1; /* the connection owns it now */
    rc = weir_spawn(weir_current_loop(), watch_signals, wt, NULL, &wt->task);
    if (rc) weir_writer_free(wt->w);
    return rc;
}

/* The server stopped (for a signal, or because serving failed): end the watcher. */
static void stop_signal_watcher(server_cfg *c) {
    watcher *wt = c->interrupter;
    end_task(wt->task);
    wt->task = NULL;
}

static int run_real(server_cfg *c) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sig_fd) != 0) {
        perror("echo_server: socketpair");
        return WEIR_EIO;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    watcher wt = {0};
    c->start_interrupter = start_signal_watcher;
    c->stop_interrupter = stop_signal_watcher;
    c->interrupter = &wt;
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    weir_task *t = NULL;
    int trc = -1;
    if (rc == 0 && (rc = weir_spawn(loop, main_task, c, NULL, &t)) == 0) {
        rc = weir_loop_run(loop);
        if (weir_join(t, &trc) != 0) {
            weir_task_detach(t);
            trc = WEIR_EDEADLOCK;
        }
    }
    /* From here on a signal has nothing left to stop: keep it pending (it dies with the
     * process) rather than run the handler into a descriptor about to be closed, and
     * perhaps reused. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    weir_loop_free(loop);
    if (sig_fd[0] >= 0) close(sig_fd[0]);
    close(sig_fd[1]);
    return rc ? rc : trc;
}

/* --- the simulator: three simulated clients, then the server is closed ------------------ */

#define SIM_PORT 8888
#define SIM_CLIENTS 3

static const char *const sim_hosts[SIM_CLIENTS] = {"alice", "bob", "carol"};
static const char *const sim_messages[SIM_CLIENTS] = {"Hello World!", "Bonjour le monde",
                                                      "tab\tand 'quotes'"};

typedef struct sim_client {
    int index;
    int rc;
} sim_client;

/* asyncio's tcp_echo_client, prefixed with who is talking. */
static int sim_echo_client(void *arg) {
    sim_client *sc = arg;
    const char *who = sim_hosts[sc->index], *msg = sim_messages[sc->index];
    char label[64];
    int rc = weir_sleep(sc->index * 100 * WEIR_MS);
    weir_reader *r;
    weir_writer *w;
    if (rc == 0) rc = weir_open_connection("server", SIM_PORT, NULL, &r, &w);
    if (rc) return sc->rc = rc;
    snprintf(label, sizeof label, "[sim %s] Send: ", who);
    print_repr(label, msg, strlen(msg), "");
    rc = weir_write(w, msg, strlen(msg));
    if (rc == 0) rc = weir_drain(w);
    weir_bytes data;
    if (rc == 0) rc = weir_read(r, 100, &data);
    if (rc == 0) {
        snprintf(label, sizeof label, "[sim %s] Received: ", who);
        print_repr(label, data.data, data.len, "");
    }
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    weir_writer_free(w);
    return sc->rc = rc ? rc : closed;
}

typedef struct sim_clients {
    sim_client clients[SIM_CLIENTS];
    weir_task *tasks[SIM_CLIENTS];
    weir_task *closer;
    weir_server *srv;
} sim_clients;

/* Wait for every client, then close the server: what SIGINT does on real sockets. */
static int sim_close_after_clients(void *arg) {
    sim_clients *sc = arg;
    for (int i = 0; i < SIM_CLIENTS; i++) {
        if (weir_join(sc->tasks[i], NULL) != 0) { /* cancelled: the server stopped early */
            for (int j = i; j < SIM_CLIENTS; j++) weir_task_detach(sc->tasks[j]);
            return WEIR_ECANCELED;
        }
    }
    puts("[sim] every client is done: interrupting the server");
    weir_server_close(sc->srv);
    return 0;
}

static int start_sim_clients(server_cfg *c, weir_server *srv) {
    sim_clients *sc = c->interrupter;
    sc->srv = srv;
    weir_sim *s = weir_sim_current();
    for (int i = 0; i < SIM_CLIENTS; i++) {
        sc->clients[i] = (sim_client){.index = i, .rc = -1};
        int rc =
            weir_sim_spawn(s, sim_hosts[i], sim_echo_client, &sc->clients[i], NULL, &sc->tasks[i]);
        if (rc) {
            while (i-- > 0) weir_task_detach(sc->tasks[i]);
            return rc;
        }
    }
    return weir_spawn(weir_current_loop(), sim_close_after_clients, sc, NULL, &sc->closer);
}

static void stop_sim_clients(server_cfg *c) {
    sim_clients *sc = c->interrupter;
    end_task(sc->closer);
    sc->closer = NULL;
}

static int run_sim(server_cfg *c, uint64_t seed, int trace) {
    weir_sim_opts so = {.seed = seed, .keep_trace = trace != 0};
    weir_sim *s;
    int rc = weir_sim_new(&so, &s);
    if (rc) return rc;
    sim_clients sc = {0};
    c->start_interrupter = start_sim_clients;
    c->stop_interrupter = stop_sim_clients;
    c->interrupter = &sc;
    c->host = NULL;
    c->port = SIM_PORT;
    /* Loopback-like conditions: whole writes, a small delay that varies with the seed. */
    weir_sim_link link = {.latency = 200 * WEIR_US,
                          .jitter = {0, 800 * WEIR_US},
                          .connect_delay = {100 * WEIR_US, 2 * WEIR_MS}};
    weir_task *t = NULL;
    if ((rc = weir_sim_add_host(s, "server", "10.0.0.2")) ||
        (rc = weir_sim_add_host(s, "alice", "10.0.0.11")) ||
        (rc = weir_sim_add_host(s, "bob", "10.0.0.12")) ||
        (rc = weir_sim_add_host(s, "carol", "10.0.0.13")) ||
        (rc = weir_sim_set_link(s, "*", "*", &link)) ||
        (rc = weir_sim_spawn(s, "server", main_task, c, NULL, &t)))
        goto out;
    rc = weir_sim_run(s);
    int trc = -1;
    if (weir_join(t, &trc) != 0) {
        weir_task_detach(t);
        trc = WEIR_EDEADLOCK;
    }
    if (rc)
        fprintf(stderr, "echo_server: simulation: %s\n%s", weir_strerror(rc), weir_sim_report(s));
    if (trace) weir_sim_trace_write(s, stderr);
    fprintf(stderr, "sim: seed %llu, %.6f ms virtual, %llu draws, trace hash %016llx\n",
            (unsigned long long)seed, (double)weir_loop_now(weir_sim_loop(s)) / WEIR_MS,
            (unsigned long long)weir_sim_draws(s), (unsigned long long)weir_sim_trace_hash(s));
    if (rc == 0) rc = trc;
    for (int i = 0; rc == 0 && i < SIM_CLIENTS; i++) rc = sc.clients[i].rc;
out:
    weir_sim_free(s);
    return rc;
}

/* --- command line -------------------------------------------------------------------- */

static int usage(void) {
    fputs("usage: echo_server [--host H] [--port P | --unix PATH] [--tls --cert F [--key F]]\n"
          "       echo_server --sim [--seed N] [--trace]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv) {
    server_cfg c = {.host = "127.0.0.1", .port = 8888};
    int sim = 0, trace = 0, tls = 0;
    uint64_t seed = 1;
    weir_tls_server_opts topts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sim") == 0)
            sim = 1;
        else if (strcmp(a, "--trace") == 0)
            trace = 1;
        else if (strcmp(a, "--tls") == 0)
            tls = 1;
        else if (!v)
            return usage();
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(a, "--host") == 0)
            c.host = argv[++i];
        else if (strcmp(a, "--port") == 0)
            c.port = atoi(argv[++i]);
        else if (strcmp(a, "--unix") == 0)
            c.path = argv[++i];
        else if (strcmp(a, "--cert") == 0)
            topts.cert_file = argv[++i];
        else if (strcmp(a, "--key") == 0)
            topts.key_file = argv[++i];
        else
            return usage();
    }
    if (c.port < 0 || c.port > 65535 || (tls && !topts.cert_file) || (sim && (tls || c.path)))
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0); /* the "Serving on" line must reach a pipe at once */

    weir_tls_ctx *ctx = NULL;
    if (tls) {
        int rc = weir_tls_server_ctx_new(&topts, &ctx);
        if (rc) {
            fprintf(stderr, "echo_server: TLS context: %s\n", weir_tls_last_error());
            return 1;
        }
        c.opts.tls = ctx;
    }
    int rc = sim ? run_sim(&c, seed, trace) : run_real(&c);
    weir_tls_ctx_free(ctx);
    return rc ? 1 : 0;
}
