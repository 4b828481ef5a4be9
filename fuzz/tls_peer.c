/* fuzz/tls_peer.c - bytes from a hostile peer into weir's TLS transport.
 *
 * The input is what the peer sends, and how it is cut:
 *
 *   byte 0  flags: bit 0  the weir end is a TLS server (else a client)
 *                  bit 1  over the simulator (else over weir_stream_pair on a virtual loop)
 *                  bit 2  the client verifies (CA = the embedded certificate, name
 *                         "localhost", at a fixed verify_time; else no_verify)
 *                  bit 3  the peer ends with close (else write_eof)
 *                  bits 4-5  handshake timeout: 10 ms, 1 s, 5 s, 60 s (shutdown: half of it)
 *                  bits 6-7  gap between the peer's chunks: 0, 1 ms, 50 ms, 2 s
 *   byte 1  the largest chunk the peer writes at once (0 = everything in one write), and on
 *           the simulator the largest segment on the wire
 *   rest    the peer's bytes, written in chunks of 1..byte 1 bytes (sizes from a small
 *           generator seeded with the input's length), then EOF
 *
 * The peer is a plain connection end: a task writes the chunks (a drain after each) and then
 * EOF, while another reads and discards what the weir end sends, until EOF or an error. The
 * weir end takes a plain connection and calls weir_start_tls on it (client: SNI "localhost";
 * server: the embedded certificate); if the handshake succeeds it writes a line, reads until
 * EOF and closes. Checked:
 *   - weir_start_tls returns 0 or WEIR_ETLS, WEIR_ECONNRESET, WEIR_ECONNLOST, WEIR_ETIMEDOUT,
 *     WEIR_EINCOMPLETE or WEIR_EPIPE; reads after it, 0 or one of those; wait_closed too;
 *   - no hang: the loop runs to a virtual-time bound (every gap, then the handshake and
 *     shutdown timeouts, then a minute) under a step limit; every task (the weir end and
 *     both peer tasks) must have finished by then, so a task still blocked after the peer's
 *     bytes and EOF and after the timeouts is a hang, and a step-limit stop a livelock;
 *   - no crash, no leak (ASan/LSan): everything is freed after each input.
 * The pair transport draws OpenSSL's randomness from the system (docs/tls.md), so a run is
 * not byte-for-byte reproducible there; on the simulator it is (the seed is fixed).
 *
 * A failure prints what went wrong and aborts. WEIR_FUZZ_TRACE=1 prints every run's results
 * and weir_tls_last_error(). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/tls_peer_cert.h"
#include "weir/tls.h"
#include "weir/weir.h"

/* 2026-11-22 00:00:00 UTC: the day after the certificate's notBefore. */
#define VERIFY_TIME 1795305600
#define MAX_STEPS 2000000
#define MAX_CHUNKS 100000

static weir_tls_ctx *server_ctx, *client_ctx, *verify_ctx;

typedef struct run {
    /* the input */
    const uint8_t *data;
    size_t len;
    unsigned maxchunk;
    int64_t gap;
    bool tls_server, sim, verify, peer_close;
    int64_t hs_timeout, sd_timeout;
    uint32_t rng;
    /* what happened */
    int hs_rc, read_rc, closed_rc;
    int64_t got;
    bool end_done, sender_done, drain_done;
    int open_rc;
    char err[256];
} run;

static void fail(const run *x, const char *what) {
    fprintf(stderr,
            "tls_peer: %s\n  weir end: %s, over %s, %s; peer ends with %s; %zu bytes, chunks "
            "<= %u, gap %lld ns, handshake timeout %lld ns\n  handshake %s, read %s, "
            "wait_closed %s; done: end %d sender %d drain %d\n  tls error: %s\n",
            what, x->tls_server ? "server" : "client", x->sim ? "the simulator" : "a pair",
            x->verify ? "verifying" : "no_verify", x->peer_close ? "close" : "write_eof", x->len,
            x->maxchunk, (long long)x->gap, (long long)x->hs_timeout, weir_errname(x->hs_rc),
            weir_errname(x->read_rc), weir_errname(x->closed_rc), x->end_done, x->sender_done,
            x->drain_done, x->err);
    abort();
}

static bool clean_error(int rc) {
    return rc == 0 || rc == WEIR_ETLS || rc == WEIR_ECONNRESET || rc == WEIR_ECONNLOST ||
           rc == WEIR_ETIMEDOUT || rc == WEIR_EINCOMPLETE || rc == WEIR_EPIPE;
}

/* --- the weir end ------------------------------------------------------------------- */

static void tls_end(weir_reader *r, weir_writer *w, run *x) {
    weir_tls_ctx *ctx = x->tls_server ? server_ctx : x->verify ? verify_ctx : client_ctx;
    x->hs_rc =
        weir_start_tls(w, ctx, x->tls_server ? NULL : "localhost", x->hs_timeout, x->sd_timeout);
    snprintf(x->err, sizeof x->err, "%s", weir_tls_last_error());
    if (!clean_error(x->hs_rc)) fail(x, "weir_start_tls: not a clean error");
    if (x->hs_rc == 0) {
        weir_write(w, "hello\n", 6); /* may fail: the connection may be gone already */
        for (;;) {
            weir_bytes b;
            int rc = weir_read(r, 4096, &b);
            if (rc || b.len == 0) {
                x->read_rc = rc;
                break;
            }
            x->got += (int64_t)b.len;
        }
        if (!clean_error(x->read_rc)) fail(x, "read after the handshake: not a clean error");
        weir_writer_close(w);
        x->closed_rc = weir_wait_closed(w);
        if (!clean_error(x->closed_rc)) fail(x, "wait_closed: not a clean error");
    }
    x->end_done = true;
}

/* --- the peer ----------------------------------------------------------------------- */

typedef struct drain_arg {
    weir_reader *r;
    run *x;
} drain_arg;

static int drain_task(void *arg) {
    drain_arg *d = arg;
    for (;;) {
        weir_bytes b;
        if (weir_read(d->r, 4096, &b) != 0 || b.len == 0) break;
    }
    d->x->drain_done = true;
    return 0;
}

static size_t next_chunk(run *x, size_t left) {
    if (x->maxchunk == 0 || left <= 1) return left;
    x->rng = x->rng * 1103515245u + 12345u;
    size_t n = 1 + (x->rng >> 16) % x->maxchunk;
    return n < left ? n : left;
}

static void peer_end(weir_reader *r, weir_writer *w, run *x) {
    drain_arg d = {r, x};
    weir_task *t = NULL;
    if (weir_spawn(weir_current_loop(), drain_task, &d, NULL, &t)) fail(x, "spawn");
    size_t off = 0;
    while (off < x->len) {
        size_t n = next_chunk(x, x->len - off);
        if (weir_write(w, x->data + off, n) != 0) break;
        off += n;
        if (weir_drain(w) != 0) break;
        if (x->gap && off < x->len && weir_sleep(x->gap) != 0) break;
    }
    if (x->peer_close)
        weir_writer_close(w);
    else
        weir_write_eof(w);
    x->sender_done = true;
    weir_join(t, NULL);
    if (!x->peer_close) weir_writer_close(w);
    weir_wait_closed(w);
}

/* --- over a pair -------------------------------------------------------------------- */

typedef struct end_arg {
    weir_reader *r;
    weir_writer *w;
    run *x;
    bool tls;
} end_arg;

static int end_task(void *arg) {
    end_arg *e = arg;
    if (e->tls)
        tls_end(e->r, e->w, e->x);
    else
        peer_end(e->r, e->w, e->x);
    return 0;
}

static int64_t time_bound(const run *x) {
    size_t chunks = x->maxchunk ? x->len : 1; /* at most one chunk per byte */
    return (int64_t)chunks * x->gap + x->hs_timeout + x->sd_timeout + 60 * WEIR_SEC;
}

static void over_pair(run *x) {
    weir_loop *loop;
    if (weir_loop_new_virtual(&loop)) fail(x, "loop");
    weir_reader *r[2];
    weir_writer *w[2];
    if (weir_stream_pair(loop, NULL, r, w)) fail(x, "pair");
    end_arg me = {r[0], w[0], x, true}, peer = {r[1], w[1], x, false};
    weir_task *t1, *t2;
    if (weir_spawn(loop, end_task, &me, NULL, &t1) || weir_spawn(loop, end_task, &peer, NULL, &t2))
        fail(x, "spawn");
    weir_loop_set_step_limit(loop, MAX_STEPS);
    int rc = weir_loop_run_until(loop, time_bound(x));
    if (rc == WEIR_ESTALL) fail(x, "step limit: a livelock");
    if (!x->end_done) fail(x, "the weir end is still blocked: a hang");
    if (!x->sender_done || !x->drain_done) fail(x, "the peer is still blocked: a hang");
    if (weir_join(t1, NULL) || weir_join(t2, NULL)) fail(x, "a task is still alive");
    weir_writer_free(w[0]);
    weir_writer_free(w[1]);
    weir_loop_free(loop);
}

/* --- over the simulator ------------------------------------------------------------- */

static int sim_handler(weir_reader *r, weir_writer *w, void *arg) {
    run *x = arg;
    if (x->tls_server)
        tls_end(r, w, x);
    else
        peer_end(r, w, x);
    return 0;
}

static int sim_client(void *arg) {
    run *x = arg;
    weir_reader *r;
    weir_writer *w;
    x->open_rc = weir_open_connection("server", 443, NULL, &r, &w);
    if (x->open_rc) return 0;
    if (x->tls_server)
        peer_end(r, w, x);
    else
        tls_end(r, w, x);
    weir_writer_free(w);
    return 0;
}

static void over_sim(run *x) {
    weir_sim_opts o = {.seed = 1, .max_time = time_bound(x), .max_steps = MAX_STEPS};
    weir_sim *s = NULL;
    if (weir_sim_new(&o, &s)) fail(x, "sim");
    if (weir_sim_add_host(s, "client", "10.0.0.1") || weir_sim_add_host(s, "server", "10.0.0.2"))
        fail(x, "hosts");
    weir_sim_link l = {.latency = WEIR_MS, .segment = {x->maxchunk ? 1 : 0, x->maxchunk}};
    if (weir_sim_set_link(s, "*", "*", &l)) fail(x, "link");
    weir_server *srv = NULL;
    if (weir_start_server(weir_sim_loop(s), sim_handler, x, "server", 443, NULL, &srv))
        fail(x, "start_server");
    if (weir_sim_spawn(s, "client", sim_client, x, NULL, NULL)) fail(x, "spawn");
    int rc = weir_sim_run(s);
    if (x->open_rc) fail(x, "open_connection failed");
    if (rc) {
        fprintf(stderr, "%s", weir_sim_report(s));
        fail(x, rc == WEIR_ESTALL ? "the simulation hit its bound: a hang or a livelock"
                                  : "tasks blocked with nothing to wake them: a hang");
    }
    if (!x->end_done || !x->sender_done || !x->drain_done) fail(x, "a task did not finish");
    weir_server_free(srv);
    weir_sim_free(s);
}

/* --- setup -------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* weir_tls_*_ctx_new take file names: write the embedded PEM to a temporary directory, make
 * the contexts, and remove the files. */
static void setup(void) {
    if (server_ctx) return;
    char dir[] = "/tmp/weir-tls-peer-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    write_file(cert, tls_peer_cert_pem);
    write_file(key, tls_peer_key_pem);
    weir_tls_server_opts so = {.cert_file = cert, .key_file = key};
    weir_tls_client_opts co = {.no_verify = true};
    weir_tls_client_opts vo = {.ca_file = cert, .verify_time = VERIFY_TIME};
    int rc = weir_tls_server_ctx_new(&so, &server_ctx);
    if (!rc) rc = weir_tls_client_ctx_new(&co, &client_ctx);
    if (!rc) rc = weir_tls_client_ctx_new(&vo, &verify_ctx);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    if (rc) {
        fprintf(stderr, "tls_peer: contexts: %s\n", weir_tls_last_error());
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int64_t hs[] = {10 * WEIR_MS, WEIR_SEC, 5 * WEIR_SEC, 60 * WEIR_SEC};
    static const int64_t gaps[] = {0, WEIR_MS, 50 * WEIR_MS, 2 * WEIR_SEC};
    setup();
    if (size < 2 || size > 65536) return 0;
    run x = {0};
    x.tls_server = data[0] & 1;
    x.sim = data[0] & 2;
    x.verify = data[0] & 4;
    x.peer_close = data[0] & 8;
    x.hs_timeout = hs[(data[0] >> 4) & 3];
    x.sd_timeout = x.hs_timeout / 2;
    x.gap = gaps[data[0] >> 6];
    x.maxchunk = data[1];
    x.data = data + 2;
    x.len = size - 2;
    x.rng = (uint32_t)size;
    if (x.maxchunk && x.gap && x.len > MAX_CHUNKS) return 0;
    if (x.sim)
        over_sim(&x);
    else
        over_pair(&x);
    if (getenv("WEIR_FUZZ_TRACE"))
        fprintf(stderr, "tls_peer: %s %s: handshake %s read %s closed %s, %lld bytes; %s\n",
                x.tls_server ? "server" : "client", x.sim ? "sim" : "pair", weir_errname(x.hs_rc),
                weir_errname(x.read_rc), weir_errname(x.closed_rc), (long long)x.got, x.err);
    return 0;
}
