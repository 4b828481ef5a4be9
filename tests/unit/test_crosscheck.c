/* tests/unit/test_crosscheck.c - the simulator checked against real TCP.
 *
 * Each scenario is one function: steps on our side of a connection (weir reads and writes)
 * and on the peer's side (send, half-close, reset, close, recv). It runs twice, through the
 * same code:
 *
 *   tcp   a poll loop; our side is weir_open_connection to 127.0.0.1, the peer is the raw
 *         socket accept(2) gave, and its faults are made with socket calls: send(2),
 *         shutdown(SHUT_WR), close(2), SO_LINGER {1, 0} then close(2) for a reset;
 *   sim   a simulator with two hosts joined by a 1 ms link; the peer is the accepted
 *         connection's reader and writer, and its faults are the same actions through the
 *         weir API: write + drain, write_eof, close, and the transport's abort for a reset.
 *
 * Every step writes "call -> result" into a log; the two logs must be the same, step for
 * step. Between steps that need the network to deliver, the scenario "settles": it sleeps
 * long enough for the bytes, FIN or RST to arrive (50 ms on loopback, 10 ms of virtual time
 * on the 1 ms link). A read that would wait longer than a second gives WEIR_ETIMEDOUT.
 *
 * The peer's observations are mapped to one vocabulary: bytes, "EOF", "EAGAIN" (nothing
 * there yet), "ECONNRESET", "EPIPE"; a send is "ok" or its error.
 *
 * Every step must agree (docs/examples.md, "Simulator vs real TCP"). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "weir/poll.h"
#include "weir/weir.h"

#define MAXSTEPS 48
#define LINE 200

typedef struct xc xc;

/* The peer: a raw socket (tcp) or the accepted weir connection (sim). */
typedef struct peer_ops {
    void (*send)(xc *x, const char *data);
    void (*shut_wr)(xc *x);
    void (*reset)(xc *x);
    void (*close)(xc *x);
    void (*recv)(xc *x);
} peer_ops;

typedef struct backend {
    const char *name;
    const peer_ops *peer;
    int64_t settle; /* time for bytes, FIN or RST to arrive */
} backend;

struct xc {
    const backend *be;
    weir_reader *r; /* our side */
    weir_writer *w;
    int fd;          /* tcp: the peer's socket, -1 once closed */
    weir_reader *pr; /* sim: the peer's reader and writer */
    weir_writer *pw;
    bool done; /* sim: the scenario is over, the peer's handler may return */
    char log[MAXSTEPS][LINE];
    int n;
};

/* --- the log ------------------------------------------------------------------------ */

static void note(xc *x, const char *fmt, ...) {
    if (x->n >= MAXSTEPS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->log[x->n++], LINE, fmt, ap);
    va_end(ap);
}

/* Bytes as a C string literal, in out. */
static const char *quote(const void *data, size_t len, char *out, size_t cap) {
    const unsigned char *p = data;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < cap; i++) {
        if (p[i] == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (p[i] == '"' || p[i] == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
        else
            out[o++] = (char)p[i];
    }
    snprintf(out + o, cap - o, "\"");
    return out;
}

static void settle(xc *x) { weir_sleep(x->be->settle); }

/* --- our side: weir calls, the same on both backends ---------------------------------------- */

static void log_read(xc *x, const char *call, int rc, weir_bytes b) {
    char q[96], q2[96];
    if (rc == 0) {
        note(x, "%s -> %s", call, quote(b.data, b.len, q, sizeof q));
    } else if (rc == WEIR_EINCOMPLETE) {
        const weir_error *e = weir_reader_error(x->r);
        note(x, "%s -> WEIR_EINCOMPLETE partial=%s expected=%lld", call,
             quote(e->partial.data, e->partial.len, q2, sizeof q2), (long long)e->expected);
    } else {
        note(x, "%s -> %s", call, weir_errname(rc));
    }
}

/* A read that would wait more than a second fails with WEIR_ETIMEDOUT. */
static int64_t bound(void) { return weir_deadline_set(weir_now() + WEIR_SEC); }

static void our_readline(xc *x) {
    weir_bytes b = {0};
    int64_t old = bound();
    int rc = weir_readline(x->r, &b);
    weir_deadline_set(old);
    log_read(x, "readline", rc, b);
}

static void our_read(xc *x, int64_t n) {
    weir_bytes b = {0};
    int64_t old = bound();
    int rc = weir_read(x->r, n, &b);
    weir_deadline_set(old);
    char call[32];
    snprintf(call, sizeof call, "read %lld", (long long)n);
    log_read(x, call, rc, b);
}

static void our_readexactly(xc *x, int64_t n) {
    weir_bytes b = {0};
    int64_t old = bound();
    int rc = weir_readexactly(x->r, n, &b);
    weir_deadline_set(old);
    char call[32];
    snprintf(call, sizeof call, "readexactly %lld", (long long)n);
    log_read(x, call, rc, b);
}

static void our_readuntil(xc *x, const char *sep) {
    weir_bytes b = {0};
    int64_t old = bound();
    int rc = weir_readuntil(x->r, sep, strlen(sep), &b);
    weir_deadline_set(old);
    log_read(x, "readuntil", rc, b);
}

static void our_at_eof(xc *x) {
    note(x, "at_eof -> %s", weir_reader_at_eof(x->r) ? "true" : "false");
}

static void our_write(xc *x, const char *data) {
    char q[96];
    note(x, "write %s -> %s", quote(data, strlen(data), q, sizeof q),
         weir_errname(weir_write(x->w, data, strlen(data))));
}

static void our_drain(xc *x) {
    int64_t old = bound();
    int rc = weir_drain(x->w);
    weir_deadline_set(old);
    note(x, "drain -> %s", weir_errname(rc));
}

/* What a reader over its limit does to its transport: leave the bytes where they are. */
static void our_pause_reading(xc *x) {
    weir_transport *t = weir_writer_transport(x->w);
    t->ops->pause_reading(t);
    note(x, "pause_reading");
}

static void our_resume_reading(xc *x) {
    weir_transport *t = weir_writer_transport(x->w);
    t->ops->resume_reading(t);
    note(x, "resume_reading");
}

static void our_write_eof(xc *x) { note(x, "write_eof -> %s", weir_errname(weir_write_eof(x->w))); }

static void our_close(xc *x) {
    weir_writer_close(x->w);
    int64_t old = bound();
    int rc = weir_wait_closed(x->w);
    weir_deadline_set(old);
    note(x, "close, wait_closed -> %s", weir_errname(rc));
}

/* The peer's actions, through the backend. */
static void peer_send(xc *x, const char *d) { x->be->peer->send(x, d); }
static void peer_shut_wr(xc *x) { x->be->peer->shut_wr(x); }
static void peer_reset(xc *x) { x->be->peer->reset(x); }
static void peer_close(xc *x) { x->be->peer->close(x); }
static void peer_recv(xc *x) { x->be->peer->recv(x); }

/* Run fn(x) in its own task after `delay`, while the scenario is blocked in a read. */
typedef struct later {
    xc *x;
    int64_t delay;
    void (*fn)(xc *x);
} later;

static int later_main(void *arg) {
    later *l = arg;
    if (weir_sleep(l->delay) == 0) l->fn(l->x);
    return 0;
}

static weir_task *spawn_later(later *l) {
    weir_task *t = NULL;
    if (weir_spawn(weir_current_loop(), later_main, l, NULL, &t) != 0) return NULL;
    return t;
}

/* --- the scenarios ---------------------------------------------------------------------- */

/* EOF after a partial line: the last line comes without its "\n", then the peer half-closes.
 * We can still answer. */
static void sc_eof_partial_line(xc *x) {
    peer_send(x, "partial");
    peer_shut_wr(x);
    settle(x);
    our_readline(x);
    our_readline(x);
    our_at_eof(x);
    our_write(x, "reply\n");
    our_drain(x);
    settle(x);
    peer_recv(x);
    our_write_eof(x);
    settle(x);
    peer_recv(x);
    our_close(x);
}

/* The same with readuntil and readexactly: IncompleteReadError with the partial bytes. */
static void sc_eof_partial_readuntil(xc *x) {
    peer_send(x, "abc\npartial");
    peer_shut_wr(x);
    settle(x);
    our_readuntil(x, "\n");
    our_readuntil(x, "\n");
    our_read(x, 100);
    our_at_eof(x);
    our_close(x);
}

static void sc_eof_partial_readexactly(xc *x) {
    peer_send(x, "12345");
    peer_shut_wr(x);
    settle(x);
    our_readexactly(x, 2);
    our_readexactly(x, 10);
    our_readexactly(x, 1);
    our_close(x);
}

/* The EOF arrives while a read waits. */
static void send_par_and_shut(xc *x) {
    peer_send(x, "par");
    peer_shut_wr(x);
}

static void sc_eof_while_waiting(xc *x) {
    later l = {x, x->be->settle, send_par_and_shut};
    weir_task *t = spawn_later(&l);
    our_readline(x);
    weir_join(t, NULL);
    our_readline(x);
    our_close(x);
}

/* Reset with unread data: we read one line of two, then the peer resets. */
static void sc_reset_unread(xc *x) {
    peer_send(x, "one\ntwo\n");
    settle(x);
    our_readline(x);
    peer_reset(x);
    settle(x);
    our_readline(x);
    our_read(x, 100);
    our_at_eof(x);
    our_write(x, "x");
    our_drain(x);
    our_close(x);
}

/* The data and the reset come together, before we read anything. */
static void sc_reset_before_read(xc *x) {
    peer_send(x, "data\n");
    peer_reset(x);
    settle(x);
    our_readline(x);
    our_close(x);
}

/* The reset comes while a read waits. */
static void sc_reset_while_waiting(xc *x) {
    later l = {x, x->be->settle, peer_reset};
    weir_task *t = spawn_later(&l);
    our_readline(x);
    weir_join(t, NULL);
    our_write(x, "x");
    our_close(x);
}

/* The reset comes while reading is paused, behind bytes not taken yet; we resume and read
 * at once. */
static void sc_reset_while_paused(xc *x) {
    our_pause_reading(x);
    peer_send(x, "held\n");
    peer_reset(x);
    settle(x);
    our_resume_reading(x);
    our_readline(x);
    our_readline(x);
    our_close(x);
}

/* The same, but we let the network settle after resuming before we read. */
static void sc_reset_while_paused_settled(xc *x) {
    our_pause_reading(x);
    peer_send(x, "held\n");
    peer_reset(x);
    settle(x);
    our_resume_reading(x);
    settle(x);
    our_readline(x);
    our_close(x);
}

/* We close with bytes the application never read: they were taken from the socket into
 * the reader's buffer, so the close is a clean FIN and the peer reads EOF. */
static void sc_close_unread(xc *x) {
    peer_send(x, "never read\n");
    settle(x);
    our_close(x);
    settle(x);
    peer_recv(x);
}

/* We close while reading is paused and bytes wait in the socket: the peer gets a reset. */
static void sc_close_unread_paused(xc *x) {
    our_pause_reading(x);
    peer_send(x, "never taken\n");
    settle(x);
    our_close(x);
    settle(x);
    peer_recv(x);
}

/* Half-close then write: we half-close, the peer still answers, then half-closes too. */
static void sc_half_close_then_peer_writes(xc *x) {
    our_write(x, "request\n");
    our_write_eof(x);
    settle(x);
    peer_recv(x);
    peer_recv(x);
    peer_send(x, "response\n");
    settle(x);
    our_readline(x);
    our_write(x, "more");
    peer_shut_wr(x);
    settle(x);
    our_readline(x);
    our_close(x);
}

/* Half-close then write: the peer half-closes, we still answer. */
static void sc_peer_half_closes_then_we_write(xc *x) {
    peer_send(x, "question\n");
    peer_shut_wr(x);
    settle(x);
    our_readline(x);
    our_readline(x);
    our_write(x, "answer\n");
    our_drain(x);
    settle(x);
    peer_recv(x);
    our_write_eof(x);
    settle(x);
    peer_recv(x);
    our_close(x);
}

/* Write after the peer closed completely: the EOF looks like a half-close; the first
 * write is answered with a reset. */
static void sc_write_after_peer_closed(xc *x) {
    peer_close(x);
    settle(x);
    our_readline(x);
    our_write(x, "first\n");
    our_drain(x);
    settle(x);
    our_write(x, "second\n");
    our_drain(x);
    settle(x);
    our_readline(x);
    our_close(x);
}

/* The peer half-closes, then resets: we read the EOF, and nothing watches our socket any
 * more (reading stopped, nothing queued), so only a write notices the RST, as EPIPE (Linux:
 * an RST in CLOSE_WAIT). */
static void sc_fin_then_reset(xc *x) {
    peer_send(x, "last\n");
    peer_shut_wr(x);
    settle(x);
    our_readline(x);
    our_readline(x);
    peer_reset(x);
    settle(x);
    our_readline(x);
    our_at_eof(x);
    our_write(x, "late\n");
    our_drain(x);
    our_readline(x);
    our_close(x);
}

/* The reset comes while reading is paused and we write before resuming: the send notices
 * it, and the line that waited in the socket is never read. */
static void sc_reset_while_paused_then_write(xc *x) {
    our_pause_reading(x);
    peer_send(x, "held\n");
    peer_reset(x);
    settle(x);
    our_write(x, "x");
    our_drain(x);
    our_resume_reading(x);
    settle(x);
    our_readline(x);
    our_close(x);
}

/* The reset comes while reading is paused and nothing waits in the socket: resuming
 * notices it. */
static void sc_reset_while_paused_empty(xc *x) {
    our_pause_reading(x);
    peer_reset(x);
    settle(x);
    our_resume_reading(x);
    our_readline(x);
    our_close(x);
}

/* Two lines and the reset arrive while a read waits: it gets the first line, and a write
 * at once notices the reset (the send fails); the second line was already read from the
 * socket and is still there. */
static void send_two_and_reset(xc *x) {
    peer_send(x, "one\ntwo\n");
    peer_reset(x);
}

static void sc_reset_then_write_at_once(xc *x) {
    later l = {x, x->be->settle, send_two_and_reset};
    weir_task *t = spawn_later(&l);
    our_readline(x);
    our_write(x, "x");
    our_readline(x);
    our_drain(x);
    our_readline(x);
    weir_join(t, NULL);
    our_close(x);
}

typedef struct scenario {
    const char *name;
    void (*fn)(xc *x);
} scenario;

static const scenario scenarios[] = {
    {"EOF after a partial line (readline)", sc_eof_partial_line},
    {"EOF after a partial line (readuntil)", sc_eof_partial_readuntil},
    {"EOF after a partial line (readexactly)", sc_eof_partial_readexactly},
    {"EOF while a read waits", sc_eof_while_waiting},
    {"reset with unread data", sc_reset_unread},
    {"reset with the data, before any read", sc_reset_before_read},
    {"reset while a read waits", sc_reset_while_waiting},
    {"reset while reading is paused, read at once", sc_reset_while_paused},
    {"reset while reading is paused, read later", sc_reset_while_paused_settled},
    {"reset while reading is paused, write first", sc_reset_while_paused_then_write},
    {"reset while reading is paused, nothing waiting", sc_reset_while_paused_empty},
    {"two lines and a reset, write after the first", sc_reset_then_write_at_once},
    {"the peer half-closes, then resets", sc_fin_then_reset},
    {"we close with data unread by the application", sc_close_unread},
    {"we close with data unread in the socket", sc_close_unread_paused},
    {"we half-close, then the peer writes", sc_half_close_then_peer_writes},
    {"the peer half-closes, then we write", sc_peer_half_closes_then_we_write},
    {"write after the peer closed", sc_write_after_peer_closed},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* --- tcp: a poll loop and a raw peer socket --------------------------------------------- */

static const char *errno_word(int e) {
    switch (e) {
        case EAGAIN:
            return "EAGAIN";
        case ECONNRESET:
            return "ECONNRESET";
        case EPIPE:
            return "EPIPE";
        case ENOTCONN:
            return "ENOTCONN";
        case EBADF:
            return "EBADF";
        default:
            return strerror(e);
    }
}

static void tcp_send(xc *x, const char *d) {
    char q[96];
    ssize_t n = send(x->fd, d, strlen(d), MSG_NOSIGNAL);
    note(x, "peer send %s -> %s", quote(d, strlen(d), q, sizeof q),
         n == (ssize_t)strlen(d) ? "ok"
         : n < 0                 ? errno_word(errno)
                                 : "short");
}

static void tcp_shut_wr(xc *x) {
    note(x, "peer shutdown -> %s", shutdown(x->fd, SHUT_WR) == 0 ? "ok" : errno_word(errno));
}

static void tcp_reset(xc *x) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    note(x, "peer reset -> %s", close(x->fd) == 0 ? "ok" : errno_word(errno));
    x->fd = -1;
}

static void tcp_close(xc *x) {
    note(x, "peer close -> %s", close(x->fd) == 0 ? "ok" : errno_word(errno));
    x->fd = -1;
}

static void tcp_recv(xc *x) {
    char buf[256], q[96];
    ssize_t n = recv(x->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0)
        note(x, "peer recv -> %s", quote(buf, (size_t)n, q, sizeof q));
    else
        note(x, "peer recv -> %s", n == 0 ? "EOF" : errno_word(errno));
}

static const peer_ops tcp_peer = {tcp_send, tcp_shut_wr, tcp_reset, tcp_close, tcp_recv};
static const backend tcp_backend = {"tcp", &tcp_peer, 50 * WEIR_MS};

typedef struct tcp_job {
    xc *x;
    void (*fn)(xc *x);
    int rc;
} tcp_job;

static int tcp_body(void *arg) {
    tcp_job *j = arg;
    xc *x = j->x;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        j->rc = WEIR_EIO;
        goto out;
    }
    j->rc = weir_open_connection("127.0.0.1", ntohs(a.sin_port), NULL, &x->r, &x->w);
    if (j->rc) goto out;
    x->fd = accept(lfd, NULL, NULL); /* the handshake is done: accept does not wait */
    if (x->fd < 0) {
        j->rc = WEIR_EIO;
    } else {
        j->fn(x);
        if (x->fd >= 0) close(x->fd);
    }
    weir_writer_free(x->w);
out:
    if (lfd >= 0) close(lfd);
    weir_loop_stop(weir_current_loop());
    return 0;
}

static int run_tcp(void (*fn)(xc *x), xc *x) {
    *x = (xc){.be = &tcp_backend, .fd = -1};
    weir_loop *loop;
    if (weir_loop_new_poll(&loop)) return WEIR_ENOMEM;
    tcp_job j = {x, fn, WEIR_ETIMEDOUT};
    weir_task *t;
    weir_spawn(loop, tcp_body, &j, NULL, &t);
    weir_task_detach(t);
    int rc = weir_loop_run_until(loop, weir_loop_now(loop) + 30 * WEIR_SEC);
    weir_loop_free(loop);
    return rc ? rc : j.rc;
}

/* --- sim: the same actions on a simulated connection ------------------------------------- */

static const char *code_word(int rc) {
    switch (rc) {
        case 0:
            return "ok";
        case WEIR_ECONNRESET:
            return "ECONNRESET";
        case WEIR_EPIPE:
            return "EPIPE";
        default:
            return weir_errname(rc);
    }
}

static void sim_send(xc *x, const char *d) {
    char q[96];
    int rc = weir_write(x->pw, d, strlen(d));
    if (rc == 0) rc = weir_drain(x->pw);
    note(x, "peer send %s -> %s", quote(d, strlen(d), q, sizeof q), code_word(rc));
}

static void sim_shut_wr(xc *x) { note(x, "peer shutdown -> %s", code_word(weir_write_eof(x->pw))); }

static void sim_reset(xc *x) {
    weir_transport *t = weir_writer_transport(x->pw);
    t->ops->abort(t);
    note(x, "peer reset -> ok");
}

static void sim_close(xc *x) {
    weir_writer_close(x->pw);
    note(x, "peer close -> ok");
}

/* recv(2) with MSG_DONTWAIT: what has arrived, EOF, the error, or EAGAIN. */
static void sim_recv(xc *x) {
    char q[96];
    if (weir_reader_buffered(x->pr) == 0 && !weir_reader_at_eof(x->pr) &&
        !weir_reader_exception(x->pr)) {
        note(x, "peer recv -> EAGAIN");
        return;
    }
    weir_bytes b;
    int rc = weir_read(x->pr, 256, &b);
    if (rc)
        note(x, "peer recv -> %s", code_word(rc));
    else if (b.len == 0)
        note(x, "peer recv -> EOF");
    else
        note(x, "peer recv -> %s", quote(b.data, b.len, q, sizeof q));
}

static const peer_ops sim_peer = {sim_send, sim_shut_wr, sim_reset, sim_close, sim_recv};
static const backend sim_backend = {"sim", &sim_peer, 10 * WEIR_MS};

#define SIM_PORT 7

typedef struct sim_job {
    xc *x;
    void (*fn)(xc *x);
    int rc;
} sim_job;

/* The peer's end: parked for the scenario, returned when it is over. */
static int sim_park(weir_reader *r, weir_writer *w, void *arg) {
    xc *x = arg;
    x->pr = r;
    x->pw = w;
    while (!x->done && weir_sleep(WEIR_MS) == 0) {
    }
    return 0;
}

static int sim_body(void *arg) {
    sim_job *j = arg;
    xc *x = j->x;
    j->rc = weir_open_connection("srv", SIM_PORT, NULL, &x->r, &x->w);
    if (j->rc) return 0;
    while (!x->pw && weir_sleep(WEIR_MS) == 0) {
    }
    j->fn(x);
    x->done = true;
    weir_writer_free(x->w);
    return 0;
}

static int sim_director(void *arg) {
    sim_job *j = arg;
    weir_server *srv;
    int rc = weir_start_server(NULL, sim_park, j->x, NULL, SIM_PORT, NULL, &srv);
    if (rc) return j->rc = rc;
    weir_task *t;
    if (weir_sim_spawn(weir_sim_current(), "cli", sim_body, j, NULL, &t) == 0) weir_join(t, NULL);
    weir_server_close(srv);
    weir_server_wait_closed(srv);
    weir_server_free(srv);
    return 0;
}

static int run_sim(void (*fn)(xc *x), xc *x) {
    *x = (xc){.be = &sim_backend, .fd = -1};
    weir_sim_opts o = {.seed = 1};
    weir_sim *s;
    if (weir_sim_new(&o, &s)) return WEIR_ENOMEM;
    weir_sim_link l = {.latency = WEIR_MS};
    sim_job j = {x, fn, WEIR_ETIMEDOUT};
    weir_task *t;
    int rc;
    if ((rc = weir_sim_add_host(s, "cli", "10.0.0.1")) ||
        (rc = weir_sim_add_host(s, "srv", "10.0.0.2")) ||
        (rc = weir_sim_set_link(s, "*", "*", &l)) ||
        (rc = weir_sim_spawn(s, "srv", sim_director, &j, NULL, &t)))
        goto out;
    weir_task_detach(t);
    rc = weir_sim_run(s);
    if (rc) printf("# sim: %s\n%s", weir_errname(rc), weir_sim_report(s));
out:
    weir_sim_free(s);
    return rc ? rc : j.rc;
}

/* --- comparing ------------------------------------------------------------------------------ */

static xc tcp_x, sim_x;

static void crosscheck(const scenario *sc) {
    int rc_tcp = run_tcp(sc->fn, &tcp_x);
    int rc_sim = run_sim(sc->fn, &sim_x);
    if (!ok(rc_tcp == 0 && rc_sim == 0, "%s: both runs complete", sc->name)) {
        printf("#   tcp: %s, sim: %s\n", weir_errname(rc_tcp), weir_errname(rc_sim));
        return;
    }
    int n = tcp_x.n > sim_x.n ? tcp_x.n : sim_x.n;
    for (int i = 0; i < n; i++) {
        const char *a = i < tcp_x.n ? tcp_x.log[i] : "(nothing)";
        const char *b = i < sim_x.n ? sim_x.log[i] : "(nothing)";
        if (!ok(strcmp(a, b) == 0, "%s: step %d: %s", sc->name, i + 1, a))
            printf("#   tcp: %s\n#   sim: %s\n", a, b);
    }
    fflush(stdout);
}

int main(void) {
    for (size_t i = 0; i < NSCENARIOS; i++) crosscheck(&scenarios[i]);
    return done_testing();
}
