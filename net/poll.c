/* net/poll.c - the poll(2) backend: the monotonic clock and a table of fd watches.
 *
 * wait(deadline) polls every watch that wants something, with the time to the deadline as
 * the timeout (rounded up to whole milliseconds, so a timer is never found not yet due and
 * waited for again with a timeout of 0), and calls the watches' callbacks right there, in
 * table order, before returning to the loop. Calling them from wait rather than queueing a
 * callback per event keeps the hot path free of allocation and of the bookkeeping a queued
 * call needs (it cannot be taken back once queued); the order is still asyncio's: I/O
 * callbacks first, then the timers that are due, then the tasks those woke.
 *
 * The table is a pollfd array with a parallel array of watches. A watch stopped while the
 * callbacks run leaves a hole (fd -1, no watch) that is compacted afterwards, so indices
 * stay valid during the round; watches added during the round go to the end and are not
 * looked at until the next poll. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "net/poll_internal.h"

struct weir__poll {
    weir_loop *loop;
    struct pollfd *fds; /* fds[i] is ios[i]'s; fd -1 while it wants nothing */
    weir__io **ios;     /* NULL for a hole */
    size_t n, cap;
    size_t wanting;   /* watches that want something */
    bool dispatching; /* inside a round of callbacks: stop leaves holes */
    size_t holes;
    uint8_t *recv_buf;
    int64_t accept_retry;
    uint64_t polls;
    weir__resolver *resolver; /* name lookups (resolve.c), made on first need */
};

#define ACCEPT_RETRY (1 * WEIR_SEC)

/* --- the clock ----------------------------------------------------------------------- */

static int64_t poll_now(void *impl) {
    (void)impl;
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WEIR_SEC + ts.tv_nsec;
}

/* --- watches ------------------------------------------------------------------------- */

static void set_pollfd(weir__poll *p, size_t i) {
    weir__io *io = p->ios[i];
    p->fds[i].fd = io && io->events ? io->fd : -1;
    p->fds[i].events = io ? io->events : 0;
    p->fds[i].revents = 0;
}

int weir__io_start(weir__poll *p, weir__io *io, int fd, weir__io_fn fn, void *arg) {
    if (!p || !io || fd < 0 || !fn) return WEIR_EINVAL;
    if (io->slot) weir__io_stop(p, io);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct pollfd *fds = realloc(p->fds, cap * sizeof *fds);
        if (!fds) return WEIR_ENOMEM;
        p->fds = fds;
        weir__io **ios = realloc(p->ios, cap * sizeof *ios);
        if (!ios) return WEIR_ENOMEM;
        p->ios = ios;
        p->cap = cap;
    }
    io->fd = fd;
    io->events = 0;
    io->fn = fn;
    io->arg = arg;
    io->slot = ++p->n;
    p->ios[io->slot - 1] = io;
    set_pollfd(p, io->slot - 1);
    return WEIR_OK;
}

void weir__io_want(weir__poll *p, weir__io *io, short events) {
    if (!p || !io || !io->slot) return;
    if (!io->events && events) p->wanting++;
    if (io->events && !events) p->wanting--;
    io->events = events;
    size_t i = io->slot - 1;
    p->fds[i].fd = events ? io->fd : -1;
    p->fds[i].events = events;
    /* revents is left alone: a round in progress masks it with what is wanted now. */
}

void weir__io_stop(weir__poll *p, weir__io *io) {
    if (!p || !io || !io->slot) return;
    weir__io_want(p, io, 0);
    size_t i = io->slot - 1;
    io->slot = 0;
    if (p->dispatching) {
        p->ios[i] = NULL;
        p->fds[i].fd = -1;
        p->fds[i].revents = 0;
        p->holes++;
        return;
    }
    size_t last = --p->n;
    if (i != last) {
        p->ios[i] = p->ios[last];
        p->fds[i] = p->fds[last];
        p->ios[i]->slot = i + 1;
    }
}

static void compact(weir__poll *p) {
    if (!p->holes) return;
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->ios[i]) continue;
        p->ios[j] = p->ios[i];
        p->fds[j] = p->fds[i];
        p->ios[j]->slot = j + 1;
        j++;
    }
    p->n = j;
    p->holes = 0;
}

/* Call the callbacks of the first n0 slots that have events, up to `ready` of them. */
static void dispatch(weir__poll *p, size_t n0, int ready) {
    p->dispatching = true;
    for (size_t i = 0; i < n0 && ready > 0; i++) {
        short re = p->fds[i].revents;
        if (!re) continue;
        ready--;
        p->fds[i].revents = 0;
        weir__io *io = p->ios[i];
        /* Stopped, or no longer wanting anything, since poll returned. */
        if (!io || !io->events) continue;
        short mask = io->events | POLLERR | POLLHUP | POLLNVAL;
        if (re & mask) io->fn(io, re & mask);
    }
    p->dispatching = false;
    compact(p);
}

/* --- waiting ------------------------------------------------------------------------- */

static int timeout_ms(int64_t now, int64_t deadline) {
    if (deadline == WEIR_FOREVER) return -1;
    if (deadline <= now) return 0;
    int64_t ms = (deadline - now + WEIR_MS - 1) / WEIR_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int poll_wait(void *impl, weir_loop *loop, int64_t deadline) {
    (void)loop;
    weir__poll *p = impl;
    if (p->wanting == 0 && deadline == WEIR_FOREVER) return 0; /* nothing can happen */
    for (;;) {
        size_t n0 = p->n;
        int timeout = timeout_ms(poll_now(p), deadline);
        p->polls++;
        int ready = poll(p->fds, (nfds_t)n0, timeout);
        if (ready < 0) {
            /* A signal: go round with the time that is left (0 once the deadline passed). */
            if (errno == EINTR || errno == EAGAIN) continue;
            return errno == ENOMEM ? WEIR_ENOMEM : WEIR_EIO;
        }
        if (ready > 0) dispatch(p, n0, ready);
        return 1;
    }
}

static void poll_free(void *impl) {
    weir__poll *p = impl;
    weir__resolver_free(p->resolver); /* stops its watch, so before the table goes */
    /* Watches still registered belong to transports the caller did not free; forget them so
     * that nothing points at the freed table. */
    for (size_t i = 0; i < p->n; i++)
        if (p->ios[i]) p->ios[i]->slot = 0;
    free(p->fds);
    free(p->ios);
    free(p->recv_buf);
    free(p);
}

static const weir_net_ops poll_net_ops = {
    .connect = weir__poll_connect,
    .listen = weir__poll_listen,
    .listener_addresses = weir__poll_listener_addresses,
    .listener_port = weir__poll_listener_port,
    .listener_close = weir__poll_listener_close,
    .adopt = weir__poll_adopt,
};

static const weir_backend_ops poll_ops = {
    .name = "poll",
    .now = poll_now,
    .wait = poll_wait,
    .free = poll_free,
    .net = &poll_net_ops,
    .poll_when_busy = true,
};

int weir_loop_new_poll(weir_loop **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    weir__poll *p = calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    /* Page-aligned: malloc's large blocks sit 16 bytes past a page boundary, and the kernel's
     * copy into user memory is much slower at such offsets on some CPUs (bench/echo: 16 KiB
     * round trips 30% slower; docs/performance.md). */
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, WEIR__RECV_CHUNK) != 0) buf = NULL;
    p->recv_buf = buf;
    if (!p->recv_buf) {
        free(p);
        return WEIR_ENOMEM;
    }
    p->accept_retry = ACCEPT_RETRY;
    int rc = weir_loop_new(&poll_ops, p, &p->loop);
    if (rc) {
        free(p->recv_buf);
        free(p);
        return rc;
    }
    *out = p->loop;
    return WEIR_OK;
}

/* --- accessors ----------------------------------------------------------------------- */

weir__poll *weir__poll_of(const weir_loop *loop) { return weir__loop_impl(loop, &poll_ops); }

weir_loop *weir__poll_loop(const weir__poll *p) { return p->loop; }

uint8_t *weir__poll_recv_buf(weir__poll *p) { return p->recv_buf; }

weir__resolver **weir__poll_resolver_slot(weir__poll *p) { return &p->resolver; }

int64_t weir__poll_accept_retry(const weir__poll *p) { return p->accept_retry; }

void weir__poll_set_accept_retry(weir_loop *loop, int64_t ns) {
    weir__poll *p = weir__poll_of(loop);
    if (p && ns >= 0) p->accept_retry = ns;
}

uint64_t weir__poll_calls(const weir_loop *loop) {
    weir__poll *p = weir__poll_of(loop);
    return p ? p->polls : 0;
}
