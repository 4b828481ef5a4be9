/* examples/http_head.c - asyncio's "Get HTTP headers" example, in C, over HTTP or HTTPS.
 *
 *     async def print_http_headers(url):
 *         url = urllib.parse.urlsplit(url)
 *         if url.scheme == 'https':
 *             reader, writer = await asyncio.open_connection(url.hostname, 443, ssl=True)
 *         else:
 *             reader, writer = await asyncio.open_connection(url.hostname, 80)
 *         query = (f"HEAD {url.path or '/'} HTTP/1.0\r\n"
 *                  f"Host: {url.hostname}\r\n"
 *                  f"\r\n")
 *         writer.write(query.encode('latin-1'))
 *         while True:
 *             line = await reader.readline()
 *             if not line:
 *                 break
 *             line = line.decode('latin1').rstrip()
 *             if line:
 *                 print(f'HTTP header> {line}')
 *         # Ignore the body, close the socket
 *         writer.close()
 *         await writer.wait_closed()
 *
 * One difference: the loop also ends at the blank line that ends the head, so a server that
 * answers HEAD with a body anyway (openssl s_server -www does) does not get its body printed
 * as headers.
 *
 * Against real sockets (the poll backend), by default:
 *
 *     http_head [--host H] [--port P] [--path P] [--method M] [--timeout S]
 *               [--tls [--cafile F] [--no-verify] [--servername N]] [URL]
 *
 * --timeout bounds the whole exchange (30 s by default; asyncio's example has none).
 * URL is http://HOST[:PORT][/PATH] or https://...; https means --tls and port 443. The
 * options given after URL override it. Inside the simulator, against a scripted HTTP server
 * on the simulated host www.example.com, over a link that cuts every write into pieces of
 * 1 to 7 bytes:
 *
 *     http_head --sim [--seed N] [--trace] [--tls --cert F [--key F] --cafile F] [URL]
 *
 * print_http_headers() is the same code in both cases: only the loop differs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/poll.h"
#include "weir/tls.h"
#include "weir/weir.h"

typedef struct head_cfg {
    char host[256];
    int port; /* 0: 80, or 443 with TLS */
    char path[1024];
    const char *method;
    weir_open_opts open;
    int64_t timeout; /* ns for the whole exchange */
} head_cfg;

static void report(const char *who, const char *what, int rc) {
    /* WEIR_ENOENT from open_connection / start_server: getaddrinfo found nothing. */
    const char *why = rc == WEIR_ENOENT ? "the name does not resolve" : weir_strerror(rc);
    fprintf(stderr, "%s: %s: %s", who, what, why);
    if (rc == WEIR_ETLS) fprintf(stderr, " (%s)", weir_tls_last_error());
    fputc('\n', stderr);
}

/* --- the client: the same on both backends ------------------------------------------- */

static int print_http_headers(void *arg) {
    const head_cfg *c = arg;
    weir_reader *r;
    weir_writer *w;
    weir_deadline_set(weir_now() + c->timeout); /* every blocking call below fails after it */
    int rc = weir_open_connection(c->host, c->port, &c->open, &r, &w);
    if (rc) {
        report("http_head", "connect", rc);
        return rc;
    }
    char query[1400];
    int n = snprintf(query, sizeof query, "%s %s HTTP/1.0\r\nHost: %s\r\n\r\n", c->method, c->path,
                     c->host);
    if (n < 0 || (size_t)n >= sizeof query) {
        fprintf(stderr, "http_head: the request line is too long\n");
        rc = WEIR_EINVAL;
    } else {
        rc = weir_write(w, query, (size_t)n);
    }
    while (rc == 0) {
        weir_bytes line;
        rc = weir_readline(r, &line);
        if (rc) {
            report("http_head", "readline", rc);
            break;
        }
        if (line.len == 0) break; /* EOF */
        size_t len = line.len;
        while (len > 0 && isspace(line.data[len - 1])) len--; /* rstrip() */
        if (len == 0) break;                                  /* the blank line: the head is over */
        printf("HTTP header> %.*s\n", (int)len, (const char *)line.data);
    }
    /* Ignore the body, close the socket. */
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    weir_writer_free(w);
    return rc ? rc : closed;
}

/* --- the simulator: a scripted HTTP server on www.example.com -------------------------- */

static const char sim_response[] = "HTTP/1.0 200 OK\r\n"
                                   "Content-Type: text/html; charset=UTF-8\r\n"
                                   "Content-Length: 1256\r\n"
                                   "Server: weir-sim\r\n"
                                   "\r\n";
static const char sim_body[] = "<!doctype html>\n<title>not for HEAD</title>\n";

/* Read one request head, answer with a fixed head (and a body unless the method is HEAD),
 * close. */
static int sim_http_server(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes head;
    int rc = weir_readuntil(r, "\r\n\r\n", 4, &head);
    if (rc) return rc;
    const char *eol = memchr(head.data, '\r', head.len);
    int first = (int)(eol - (const char *)head.data);
    printf("[sim server] request: %.*s (%zu bytes)\n", first, (const char *)head.data, head.len);
    rc = weir_write(w, sim_response, sizeof sim_response - 1);
    if (rc == 0 && !(head.len >= 5 && memcmp(head.data, "HEAD ", 5) == 0))
        rc = weir_write(w, sim_body, sizeof sim_body - 1);
    if (rc == 0) rc = weir_drain(w);
    weir_writer_close(w);
    int closed = weir_wait_closed(w);
    return rc ? rc : closed;
}

typedef struct sim_run {
    head_cfg *client;
    weir_tls_ctx *server_tls;
    int client_rc;
} sim_run;

/* On the server host: listen, run the client on its host, stop listening when it is done. */
static int sim_director(void *arg) {
    sim_run *run = arg;
    weir_server_opts so = {.tls = run->server_tls};
    weir_server *srv;
    int rc = weir_start_server(NULL, sim_http_server, NULL, NULL, run->client->port, &so, &srv);
    if (rc) return rc;
    weir_task *t;
    rc = weir_sim_spawn(weir_sim_current(), "client", print_http_headers, run->client, NULL, &t);
    if (rc == 0) rc = weir_join(t, &run->client_rc);
    weir_server_close(srv);
    int closed = weir_server_wait_closed(srv);
    weir_server_free(srv);
    return rc ? rc : closed;
}

static int run_sim(head_cfg *c, weir_tls_ctx *server_tls, uint64_t seed, int trace) {
    weir_sim_opts so = {.seed = seed, .keep_trace = trace != 0};
    weir_sim *s;
    int rc = weir_sim_new(&so, &s);
    if (rc) return rc;
    /* A slow, choppy network: every line reaches readline() in several pieces. */
    weir_sim_link link = {.latency = 5 * WEIR_MS,
                          .jitter = {0, 2 * WEIR_MS},
                          .segment = {1, 7},
                          .connect_delay = {1 * WEIR_MS, 20 * WEIR_MS}};
    sim_run run = {.client = c, .server_tls = server_tls, .client_rc = -1};
    weir_task *director = NULL;
    if ((rc = weir_sim_add_host(s, "client", "10.0.0.1")) ||
        (rc = weir_sim_add_host(s, "www.example.com", "93.184.216.34")) ||
        (rc = weir_sim_set_link(s, "*", "*", &link)) ||
        (rc = weir_sim_spawn(s, "www.example.com", sim_director, &run, NULL, &director)))
        goto out;
    rc = weir_sim_run(s);
    int drc = -1;
    if (weir_join(director, &drc) != 0) {
        weir_task_detach(director);
        drc = WEIR_EDEADLOCK;
    }
    if (rc) fprintf(stderr, "http_head: simulation: %s\n%s", weir_strerror(rc), weir_sim_report(s));
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

static int run_real(head_cfg *c) {
    weir_loop *loop;
    int rc = weir_loop_new_poll(&loop);
    if (rc) return rc;
    weir_task *t;
    int trc = -1;
    if ((rc = weir_spawn(loop, print_http_headers, c, NULL, &t)) == 0) {
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
    fputs("usage: http_head [--host H] [--port P] [--path P] [--method M] [--timeout S]\n"
          "                 [--tls [--cafile F] [--no-verify] [--servername N]] [URL]\n"
          "       http_head --sim [--seed N] [--trace] [--tls --cert F [--key F] --cafile F]"
          " [URL]\n"
          "URL: http://HOST[:PORT][/PATH] or https://...\n",
          stderr);
    return 2;
}

static int copy(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap) return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* urllib.parse.urlsplit, the little of it this needs: scheme, host ([v6] too), port, path.
 * The query string stays part of the path. */
static int parse_url(const char *url, head_cfg *c, int *tls) {
    const char *p;
    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
        *tls = 0;
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
        *tls = 1;
    } else {
        return -1;
    }
    const char *end = p + strcspn(p, "/?#");
    const char *host = p, *host_end, *colon = NULL;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end) return -1;
        if (host_end + 1 < end) {
            if (host_end[1] != ':') return -1;
            colon = host_end + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    if (host_end == host || copy(c->host, sizeof c->host, host, (size_t)(host_end - host)))
        return -1;
    c->port = 0;
    if (colon) {
        char *stop;
        long port = strtol(colon + 1, &stop, 10);
        if (stop != end || port < 1 || port > 65535) return -1;
        c->port = (int)port;
    }
    const char *path = *end == '/' ? end : "/";
    size_t plen = *end == '/' ? strcspn(end, "#") : 1;
    return copy(c->path, sizeof c->path, path, plen);
}

int main(int argc, char **argv) {
    head_cfg c = {.host = "127.0.0.1", .path = "/", .method = "HEAD", .timeout = 30 * WEIR_SEC};
    int sim = 0, trace = 0, tls = 0, url_given = 0;
    uint64_t seed = 1;
    weir_tls_client_opts topts = {0};
    weir_tls_server_opts sopts = {0};
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
        else if (a[0] != '-') {
            if (parse_url(a, &c, &tls)) {
                fprintf(stderr, "http_head: cannot parse the URL %s\n", a);
                return usage();
            }
            url_given = 1;
        } else if (!v)
            return usage();
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(a, "--timeout") == 0)
            c.timeout = atoi(argv[++i]) * WEIR_SEC;
        else if (strcmp(a, "--host") == 0) {
            if (copy(c.host, sizeof c.host, v, strlen(v))) return usage();
            i++;
        } else if (strcmp(a, "--port") == 0)
            c.port = atoi(argv[++i]);
        else if (strcmp(a, "--path") == 0) {
            if (copy(c.path, sizeof c.path, v, strlen(v))) return usage();
            i++;
        } else if (strcmp(a, "--method") == 0)
            c.method = argv[++i];
        else if (strcmp(a, "--cafile") == 0)
            topts.ca_file = argv[++i];
        else if (strcmp(a, "--servername") == 0)
            c.open.server_hostname = argv[++i];
        else if (strcmp(a, "--cert") == 0)
            sopts.cert_file = argv[++i];
        else if (strcmp(a, "--key") == 0)
            sopts.key_file = argv[++i];
        else
            return usage();
    }
    if (c.port < 0 || c.port > 65535 || (sim && tls && !sopts.cert_file)) return usage();
    if (c.port == 0) c.port = tls ? 443 : 80;
    if (sim && !url_given) snprintf(c.host, sizeof c.host, "www.example.com");
    setvbuf(stdout, NULL, _IOLBF, 0);

    weir_tls_ctx *ctx = NULL, *server_ctx = NULL;
    int rc = 0;
    if (tls && (rc = weir_tls_client_ctx_new(&topts, &ctx)) != 0)
        fprintf(stderr, "http_head: TLS context: %s\n", weir_tls_last_error());
    if (rc == 0 && sim && tls && (rc = weir_tls_server_ctx_new(&sopts, &server_ctx)) != 0)
        fprintf(stderr, "http_head: TLS server context: %s\n", weir_tls_last_error());
    if (rc == 0) {
        c.open.tls = ctx;
        rc = sim ? run_sim(&c, server_ctx, seed, trace) : run_real(&c);
    }
    weir_tls_ctx_free(ctx);
    weir_tls_ctx_free(server_ctx);
    return rc ? 1 : 0;
}
