/* examples/echo_client.c - asyncio's "TCP echo client using streams", in C.
 *
 *     async def tcp_echo_client(message):
 *         reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
 *         print(f'Send: {message!r}')
 *         writer.write(message.encode())
 *         await writer.drain()
 *         data = await reader.read(100)
 *         print(f'Received: {data.decode()!r}')
 *         print('Close the connection')
 *         writer.close()
 *         await writer.wait_closed()
 *
 * Against real sockets (the poll backend), by default:
 *
 *     echo_client [--host H] [--port P | --unix PATH] [--timeout S]
 *                 [--tls [--cafile F] [--no-verify] [--servername N]] [MESSAGE]
 *
 * --timeout bounds the whole exchange (30 s by default; asyncio's example has none).
 *
 * Inside the simulator, together with a simulated echo server (asyncio's handle_echo):
 *
 *     echo_client --sim [--seed N] [--trace] [MESSAGE]
 *
 * tcp_echo_client() below is the same code in both cases: only the loop it runs on differs.
 * Exit status 0 when the exchange went through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/poll.h"
#include "weir/tls.h"
#include "weir/weir.h"

typedef struct client_cfg {
    const char *host; /* TCP, or NULL with path */
    int port;
    const char *path; /* a Unix socket, or NULL */
    weir_open_opts open;
    int64_t timeout; /* ns for the whole exchange */
    const char *message;
} client_cfg;

/* Print bytes the way Python's repr() prints a str: quoted, with escapes. */
static void print_repr(const char *label, const void *data, size_t len) {
    const unsigned char *p = data;
    /* Python quotes with ' unless the text holds a ' and no ". */
    char q = len && memchr(p, '\'', len) && !memchr(p, '"', len) ? '"' : '\'';
    printf("%s%c", label, q);
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
    printf("%c\n", q);
}

static void report(const char *what, int rc, bool unix_path) {
    /* WEIR_ENOENT from connecting: getaddrinfo found nothing, or no socket file. */
    const char *why = rc != WEIR_ENOENT ? weir_strerror(rc)
                      : unix_path       ? "no such socket file"
                                        : "the name does not resolve";
    fprintf(stderr, "echo_client: %s: %s", what, why);
    if (rc == WEIR_ETLS) fprintf(stderr, " (%s)", weir_tls_last_error());
    fputc('\n', stderr);
}

/* --- the client: the same on both backends ------------------------------------------- */

static int tcp_echo_client(void *arg) {
    const client_cfg *c = arg;
    weir_reader *r;
    weir_writer *w;
    weir_deadline_set(weir_now() + c->timeout); /* every blocking call below fails after it */
    int rc = c->path ? weir_open_unix_connection(c->path, &c->open, &r, &w)
                     : weir_open_connection(c->host, c->port, &c->open, &r, &w);
    if (rc) {
        report("connect", rc, c->path != NULL);
        return rc;
    }
    print_repr("Send: ", c->message, strlen(c->message));
    rc = weir_write(w, c->message, strlen(c->message));
    if (rc == 0) rc = weir_drain(w);
    weir_bytes data = {0};
    if (rc == 0) rc = weir_read(r, 100, &data);
    if (rc == 0)
        print_repr("Received: ", data.data, data.len);
    else
        report("exchange", rc, false);
    puts("Close the connection");
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    weir_writer_free(w);
    if (rc == 0 && closed) report("close", closed, false);
    return rc ? rc : closed;
}

/* --- the simulated counterpart: asyncio's handle_echo ----------------------------------- */

#define SIM_PORT 8888

typedef struct sim_run {
    client_cfg *client;
    int client_rc;
} sim_run;

static int sim_handle_echo(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes data;
    int rc = weir_read(r, 100, &data);
    if (rc == 0) {
        weir_extra peer = {0};
        (void)weir_get_extra_info(w, "peername", &peer);
        printf("[sim server] echo %zu bytes to %s\n", data.len,
               peer.kind == WEIR_EXTRA_STR ? peer.str : "?");
        rc = weir_write(w, data.data, data.len);
        if (rc == 0) rc = weir_drain(w);
    }
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    return rc ? rc : closed;
}

/* On the server host: listen, run the client on its host, stop listening when it is done. */
static int sim_director(void *arg) {
    sim_run *run = arg;
    weir_server *srv;
    int rc = weir_start_server(NULL, sim_handle_echo, NULL, NULL, SIM_PORT, NULL, &srv);
    if (rc) return rc;
    weir_task *t;
    rc = weir_sim_spawn(weir_sim_current(), "client", tcp_echo_client, run->client, NULL, &t);
    if (rc == 0) rc = weir_join(t, &run->client_rc);
    weir_server_close(srv);
    int closed = weir_server_wait_closed(srv);
    weir_server_free(srv);
    return rc ? rc : closed;
}

static int run_sim(client_cfg *c, uint64_t seed, int trace) {
    weir_sim_opts so = {.seed = seed, .keep_trace = trace != 0};
    weir_sim *s;
    int rc = weir_sim_new(&so, &s);
    if (rc) return rc;
    /* Loopback-like conditions: whole writes, a small delay that varies with the seed. */
    weir_sim_link link = {.latency = 200 * WEIR_US,
                          .jitter = {0, 800 * WEIR_US},
                          .connect_delay = {100 * WEIR_US, 2 * WEIR_MS}};
    if ((rc = weir_sim_add_host(s, "client", "10.0.0.1")) ||
        (rc = weir_sim_add_host(s, "server", "10.0.0.2")) ||
        (rc = weir_sim_set_link(s, "*", "*", &link)))
        goto out;
    c->host = "server";
    c->port = SIM_PORT;
    c->path = NULL;
    sim_run run = {.client = c, .client_rc = -1};
    weir_task *director;
    if ((rc = weir_sim_spawn(s, "server", sim_director, &run, NULL, &director))) goto out;
    rc = weir_sim_run(s);
    int drc = -1;
    if (weir_join(director, &drc) != 0) {
        weir_task_detach(director); /* still blocked: weir_sim_free cancels it */
        drc = WEIR_EDEADLOCK;
    }
    if (rc)
        fprintf(stderr, "echo_client: simulation: %s\n%s", weir_strerror(rc), weir_sim_report(s));
    if (trace) weir_sim_trace_write(s, stderr);
    fprintf(stderr, "sim: seed %llu, %.6f ms virtual, %llu draws, trace hash %016llx\n",
            (unsigned long long)seed, (double)weir_loop_now(weir_sim_loop(s)) / WEIR_MS,
            (unsigned long long)weir_sim_draws(s), (unsigned long long)weir_sim_trace_hash(s));
    if (rc == 0) rc = drc ? drc : run.client_rc;
out:
    weir_sim_free(s);
    return rc;
}

/* --- real sockets -------------------------------------------------------------------- */

static int run_real(client_cfg *c) {
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    if (rc) return rc;
    weir_task *t;
    int trc = -1;
    if ((rc = weir_spawn(loop, tcp_echo_client, c, NULL, &t)) == 0) {
        rc = weir_loop_run(loop);
        if (weir_join(t, &trc) != 0) {
            weir_task_detach(t);
            trc = WEIR_EDEADLOCK;
        }
    }
    weir_loop_free(loop);
    return rc ? rc : trc;
}

/* --- command line -------------------------------------------------------------------- */

static int usage(void) {
    fputs("usage: echo_client [--host H] [--port P | --unix PATH] [--timeout S]\n"
          "                   [--tls [--cafile F] [--no-verify] [--servername N]] [MESSAGE]\n"
          "       echo_client --sim [--seed N] [--trace] [MESSAGE]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv) {
    client_cfg c = {
        .host = "127.0.0.1", .port = 8888, .message = "Hello World!", .timeout = 30 * WEIR_SEC};
    int sim = 0, trace = 0, tls = 0;
    uint64_t seed = 1;
    weir_tls_client_opts topts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sim") == 0)
            sim = 1;
        else if (strcmp(a, "--trace") == 0)
            trace = 1;
        else if (strcmp(a, "--tls") == 0)
            tls = 1;
        else if (strcmp(a, "--no-verify") == 0)
            topts.no_verify = true;
        else if (!v && a[0] == '-' && a[1] == '-')
            return usage();
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(a, "--timeout") == 0)
            c.timeout = atoi(argv[++i]) * WEIR_SEC;
        else if (strcmp(a, "--host") == 0)
            c.host = argv[++i];
        else if (strcmp(a, "--port") == 0)
            c.port = atoi(argv[++i]);
        else if (strcmp(a, "--unix") == 0)
            c.path = argv[++i];
        else if (strcmp(a, "--cafile") == 0)
            topts.ca_file = argv[++i];
        else if (strcmp(a, "--servername") == 0)
            c.open.server_hostname = argv[++i];
        else if (a[0] == '-' && a[1] == '-')
            return usage();
        else
            c.message = a;
    }
    if (c.port < 0 || c.port > 65535 || c.timeout <= 0 || (sim && (tls || c.path))) return usage();
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr, also into a pipe */

    weir_tls_ctx *ctx = NULL;
    if (tls) {
        int rc = weir_tls_client_ctx_new(&topts, &ctx);
        if (rc) {
            fprintf(stderr, "echo_client: TLS context: %s\n", weir_tls_last_error());
            return 1;
        }
        c.open.tls = ctx;
    }
    int rc = sim ? run_sim(&c, seed, trace) : run_real(&c);
    weir_tls_ctx_free(ctx);
    return rc ? 1 : 0;
}
