/* net/sock.c - the socket transport: a connected TCP or Unix stream socket on the poll
 * backend, with asyncio's _SelectorSocketTransport behaviour.
 *
 *   write      send() at once when nothing is queued; what the kernel does not take goes to
 *              the write queue (weir__wbuf: watermarks, pause/resume_writing) and is sent
 *              when poll says the socket is writable.
 *   write_eof  shutdown(SHUT_WR) once the queue is flushed.
 *   close      stop reading, flush the queue, then close the socket and report
 *              connection_lost(0).
 *   abort      drop the queue, close, connection_lost(0). SO_LINGER is left alone, so the
 *              kernel sends a FIN, or an RST when unread bytes are left (as for close).
 *   reading    one recv() per readiness, into the backend's buffer; recv 0 is EOF:
 *              eof_received, and a protocol that does not keep the connection open gets it
 *              closed. pause_reading takes POLLIN out of the watch.
 *   errors     a failed send or recv (ECONNRESET, EPIPE, ...) drops the queue and ends the
 *              connection: connection_lost(WEIR_ECONNRESET / WEIR_EPIPE / ...). send always
 *              has MSG_NOSIGNAL, so a write to a closed peer never raises SIGPIPE.
 *
 * connection_lost is always delivered from a timer due at once (a later tick), never from
 * inside the transport call that caused it; the socket is closed just before it, so a task
 * woken from wait_closed() finds the descriptor gone.
 *
 * A protocol may abort and free the transport from inside any of our calls into it
 * (data_received, eof_received, resume_writing, connection_lost): the memory is released
 * when the outermost of our callbacks returns. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/wbuf.h"
#include "net/poll_internal.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS and older BSDs: SO_NOSIGPIPE is set on the socket instead */
#endif

typedef struct sock {
    weir_transport t; /* first: the ops get &t back */
    weir__poll *p;
    weir_loop *loop;
    weir__io io;
    int fd; /* -1 once closed */
    int family;
    weir__wbuf wbuf;
    bool reading_paused; /* pause_reading */
    bool eof_in;         /* recv returned 0: nothing more to read */
    bool eof_wanted;     /* write_eof: shut the write side once the queue is flushed */
    bool write_closed;   /* write_eof, close or abort: write() fails with WEIR_ECLOSED */
    bool closing;        /* close, abort or a fatal error */
    bool lost;           /* connection_lost is scheduled or delivered: no more I/O */
    int lost_error;
    int depth;  /* our callbacks into the protocol in progress */
    bool freed; /* ops->free was called: the memory goes when depth drops to 0 */
    weir_timer lost_timer;
    char sockname[WEIR__ADDR_TEXT];
    char peername[WEIR__ADDR_TEXT];
} sock;

static sock *sock_of(weir_transport *t) { return (sock *)t; }

static void sock_close(weir_transport *t);

/* --- state ------------------------------------------------------------------------- */

/* Poll for what the socket can use now. Reading also needs a protocol: a transport nobody
 * has taken yet leaves the bytes in the kernel (every caller sets one before the loop polls
 * again, so this only guards against spinning). */
static void update_watch(sock *s) {
    short ev = 0;
    if (!s->lost) {
        if (!s->closing && !s->reading_paused && !s->eof_in && s->t.protocol) ev |= POLLIN;
        if (weir__wbuf_size(&s->wbuf) > 0) ev |= POLLOUT;
    }
    weir__io_want(s->p, &s->io, ev);
}

static void close_fd(sock *s) {
    weir__io_stop(s->p, &s->io);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

static void destroy(sock *s) {
    weir__wbuf_free(&s->wbuf);
    free(s);
}

static void leave(sock *s) {
    if (--s->depth == 0 && s->freed) destroy(s);
}

static void fire_lost(weir_timer *timer, void *arg) {
    (void)timer;
    sock *s = arg;
    close_fd(s);
    weir_protocol *pr = s->t.protocol;
    if (!pr || !pr->ops || !pr->ops->connection_lost) return;
    s->depth++;
    pr->ops->connection_lost(pr, s->lost_error);
    leave(s);
}

/* The connection is over: no more I/O; connection_lost(error) on a later tick. */
static void lose(sock *s, int error) {
    if (s->lost) return;
    s->lost = true;
    s->closing = true;
    s->lost_error = error;
    update_watch(s);
    weir_timer_start(s->loop, &s->lost_timer, weir_loop_now(s->loop), fire_lost, s);
}

/* asyncio's _fatal_error/_force_close: the queue goes, the error is what reads fail with. */
static void fatal(sock *s, int error) {
    if (s->lost) return;
    weir__wbuf_clear(&s->wbuf);
    lose(s, error);
}

/* The queue has just emptied. */
static void flushed(sock *s) {
    if (s->closing) {
        lose(s, 0);
    } else if (s->eof_wanted && s->fd >= 0) {
        /* ENOTCONN (the peer reset meanwhile) is reported by the next read, if any. */
        (void)shutdown(s->fd, SHUT_WR);
        s->eof_wanted = false;
    }
}

/* --- I/O ----------------------------------------------------------------------------- */

/* Bytes the kernel took (possibly 0), or a negative WEIR_E* code. */
static ssize_t send_some(sock *s, const void *data, size_t len) {
    for (;;) {
        ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return weir__errno_code(errno);
    }
}

static void read_ready(sock *s) {
    if (!s->t.protocol) {
        update_watch(s); /* nobody to give the bytes to: leave them in the kernel */
        return;
    }
    uint8_t *buf = weir__poll_recv_buf(s->p);
    ssize_t n;
    do n = recv(s->fd, buf, WEIR__RECV_CHUNK, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) fatal(s, weir__errno_code(errno));
        return;
    }
    weir_protocol *pr = s->t.protocol;
    if (n == 0) {
        s->eof_in = true;
        update_watch(s);
        bool keep_open = false;
        if (pr && pr->ops->eof_received) keep_open = pr->ops->eof_received(pr);
        if (!keep_open && !s->freed) sock_close(&s->t);
        return;
    }
    if (pr && pr->ops->data_received) pr->ops->data_received(pr, buf, (size_t)n);
}

static void write_ready(sock *s) {
    while (weir__wbuf_size(&s->wbuf) > 0) {
        weir_bytes front = weir__wbuf_front(&s->wbuf);
        ssize_t n = send_some(s, front.data, front.len);
        if (n < 0) {
            fatal(s, (int)n);
            return;
        }
        if (n == 0) break;
        /* May call resume_writing, from which the protocol may write, close or abort. */
        weir__wbuf_consume(&s->wbuf, (size_t)n);
        if (s->lost || s->freed) return;
        if ((size_t)n < front.len) break; /* the kernel's buffer is full */
    }
    if (weir__wbuf_size(&s->wbuf) == 0) flushed(s);
    update_watch(s);
}

static void on_io(weir__io *io, int revents) {
    sock *s = io->arg;
    s->depth++;
    if (revents & POLLNVAL) {
        /* Someone closed our descriptor behind our back. */
        fatal(s, WEIR_EIO);
    } else {
        if ((revents & (POLLIN | POLLHUP | POLLERR)) && (s->io.events & POLLIN)) read_ready(s);
        if (!s->lost && !s->freed && (revents & (POLLOUT | POLLHUP | POLLERR)) &&
            (s->io.events & POLLOUT))
            write_ready(s);
    }
    leave(s);
}

/* --- transport ops ------------------------------------------------------------------- */

static int sock_write(weir_transport *t, const void *data, size_t len) {
    sock *s = sock_of(t);
    if (s->write_closed) return WEIR_ECLOSED;
    if (len == 0) return WEIR_OK;
    if (!data) return WEIR_EINVAL;
    if (s->lost) return WEIR_ECONNLOST;
    const uint8_t *p = data;
    if (weir__wbuf_size(&s->wbuf) == 0) {
        ssize_t n = send_some(s, p, len);
        if (n < 0) {
            /* As asyncio: the write itself succeeds; the loss, with its error, reaches the
             * protocol through connection_lost, and reads and drain() fail with it. */
            fatal(s, (int)n);
            return WEIR_OK;
        }
        p += n;
        len -= (size_t)n;
        if (len == 0) return WEIR_OK;
    }
    int rc = weir__wbuf_append(&s->wbuf, p, len);
    if (rc) return rc;
    update_watch(s);
    return WEIR_OK;
}

static int sock_write_eof(weir_transport *t) {
    sock *s = sock_of(t);
    if (s->closing || s->write_closed) return WEIR_OK;
    s->write_closed = true;
    s->eof_wanted = true;
    if (weir__wbuf_size(&s->wbuf) == 0) flushed(s);
    return WEIR_OK;
}

static bool sock_can_write_eof(weir_transport *t) {
    (void)t;
    return true;
}

static void sock_close(weir_transport *t) {
    sock *s = sock_of(t);
    if (s->closing) return;
    s->closing = true;
    s->write_closed = true;
    if (weir__wbuf_size(&s->wbuf) == 0)
        lose(s, 0);
    else
        update_watch(s); /* stops reading; keeps writing until flushed */
}

static void sock_abort(weir_transport *t) {
    sock *s = sock_of(t);
    s->closing = true;
    s->write_closed = true;
    if (s->lost) return;
    weir__wbuf_clear(&s->wbuf);
    lose(s, 0);
}

static bool sock_is_closing(weir_transport *t) { return sock_of(t)->closing; }

static void sock_pause_reading(weir_transport *t) {
    sock *s = sock_of(t);
    if (s->closing || s->reading_paused) return;
    s->reading_paused = true;
    update_watch(s);
}

static void sock_resume_reading(weir_transport *t) {
    sock *s = sock_of(t);
    if (s->closing || !s->reading_paused) return;
    s->reading_paused = false;
    update_watch(s);
}

static size_t sock_write_buffer_size(weir_transport *t) {
    return weir__wbuf_size(&sock_of(t)->wbuf);
}

static int sock_set_limits(weir_transport *t, size_t high, size_t low) {
    return weir__wbuf_set_limits(&sock_of(t)->wbuf, high, low);
}

static void sock_get_limits(weir_transport *t, size_t *high, size_t *low) {
    weir__wbuf_get_limits(&sock_of(t)->wbuf, high, low);
}

static int sock_get_extra_info(weir_transport *t, const char *name, weir_extra *out) {
    sock *s = sock_of(t);
    if (!name || !out) return WEIR_EINVAL;
    const char *str = NULL;
    if (strcmp(name, "peername") == 0) str = s->peername;
    if (strcmp(name, "sockname") == 0) str = s->sockname;
    if (str) {
        *out = (weir_extra){.kind = WEIR_EXTRA_STR, .str = str, .len = strlen(str)};
        return WEIR_OK;
    }
    if (strcmp(name, "socket") == 0 && s->fd >= 0) {
        *out = (weir_extra){.kind = WEIR_EXTRA_INT, .num = s->fd};
        return WEIR_OK;
    }
    if (strcmp(name, "family") == 0) {
        *out = (weir_extra){.kind = WEIR_EXTRA_INT, .num = s->family};
        return WEIR_OK;
    }
    return WEIR_ENOENT;
}

static void sock_free(weir_transport *t) {
    sock *s = sock_of(t);
    if (s->freed) return;
    s->freed = true;
    s->t.protocol = NULL;
    weir_timer_stop(s->loop, &s->lost_timer);
    close_fd(s);
    if (s->depth == 0) destroy(s);
}

static const weir_transport_ops sock_ops = {
    .name = "socket",
    .write = sock_write,
    .write_eof = sock_write_eof,
    .can_write_eof = sock_can_write_eof,
    .close = sock_close,
    .abort = sock_abort,
    .is_closing = sock_is_closing,
    .pause_reading = sock_pause_reading,
    .resume_reading = sock_resume_reading,
    .write_buffer_size = sock_write_buffer_size,
    .set_write_buffer_limits = sock_set_limits,
    .get_write_buffer_limits = sock_get_limits,
    .get_extra_info = sock_get_extra_info,
    .free = sock_free,
};

/* --- construction -------------------------------------------------------------------- */

int weir__sock_new(weir__poll *p, int fd, weir_transport **out) {
    *out = NULL;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) return weir__errno_code(errno);
    if (type != SOCK_STREAM) return WEIR_EINVAL;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0) return weir__errno_code(errno);

    sock *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    s->t.ops = &sock_ops;
    s->p = p;
    s->loop = weir__poll_loop(p);
    s->fd = fd;
    s->family = ss.ss_family;
    weir__addr_text((struct sockaddr *)&ss, slen, s->sockname, sizeof s->sockname);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    /* ENOTCONN (an adopted socket that is not connected) leaves the name empty. */
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
        weir__addr_text((struct sockaddr *)&peer, plen, s->peername, sizeof s->peername);
    weir__wbuf_init(&s->wbuf, &s->t);
    int rc = weir__io_start(p, &s->io, fd, on_io, s);
    if (rc == 0) rc = weir__fd_nonblock_cloexec(fd);
    if (rc) {
        weir__io_stop(p, &s->io);
        free(s);
        return rc;
    }
    int one = 1;
    /* asyncio turns Nagle off on every TCP transport: small writes go out at once. */
    if (s->family == AF_INET || s->family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    /* Reading starts now: whoever made the transport attaches its protocol before the loop
     * polls again. */
    weir__io_want(p, &s->io, POLLIN);
    *out = &s->t;
    return WEIR_OK;
}
