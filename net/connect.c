/* net/connect.c - connecting on the poll backend, and adopting a connected socket.
 *
 * TCP: the host is resolved with weir__poll_resolve (resolve.c): an address literal at once,
 * a name by a resolver thread while the calling task waits. Each address is tried in the
 * order getaddrinfo returns them: a non-blocking socket, bound first to the local address when one
 * is asked for, a non-blocking connect, a wait (of the calling task only) until the socket is
 * writable, and SO_ERROR for the outcome. The first that connects wins. A cancellation or
 * the task's deadline ends the whole attempt at once; any other failure moves on to the
 * next address, and the error returned at the end is the last one (an address family the
 * machine cannot use only counts when nothing else went wrong).
 *
 * Unix: connect to the path. Linux answers EAGAIN when the listener's backlog is full, and
 * then an unconnected Unix socket polls writable at once, so instead of waiting for
 * writability we back off (1 ms, doubling to 64 ms) and connect again. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/poll_internal.h"

/* --- waiting for a socket ------------------------------------------------------------ */

typedef struct fd_wait {
    weir__io io;
    weir__poll *p;
    weir__waiter waiter;
} fd_wait;

static void fd_ready(weir__io *io, int revents) {
    (void)revents;
    fd_wait *fw = io->arg;
    weir__io_want(fw->p, io, 0); /* once is enough; the task looks for itself */
    weir__wake(&fw->waiter, WEIR_OK);
}

/* Block the running task until fd is writable (or in error). */
static int wait_writable(weir__poll *p, int fd) {
    fd_wait fw = {.p = p, .waiter = {.what = "connect"}};
    int rc = weir__io_start(p, &fw.io, fd, fd_ready, &fw);
    if (rc) return rc;
    weir__io_want(p, &fw.io, POLLOUT);
    rc = weir__wait(&fw.waiter);
    weir__io_stop(p, &fw.io);
    return rc;
}

/* --- one attempt --------------------------------------------------------------------- */

/* Why an attempt failed: the task was stopped (give up), the address family cannot be used
 * here (socket() failed), or the connect itself failed. */
typedef enum { FAIL_CONNECT, FAIL_FAMILY, FAIL_STOP } fail_kind;

static int new_socket(int family, int protocol, int *out) {
    int fd = socket(family, SOCK_STREAM, protocol);
    if (fd < 0) return weir__errno_code(errno);
    int rc = weir__fd_nonblock_cloexec(fd);
    if (rc) {
        close(fd);
        return rc;
    }
    *out = fd;
    return WEIR_OK;
}

/* connect() on a non-blocking socket, then wait for the outcome. */
static int connect_fd(weir__poll *p, int fd, const struct sockaddr *sa, socklen_t len,
                      fail_kind *why) {
    int64_t backoff = WEIR_MS;
    for (;;) {
        if (connect(fd, sa, len) == 0) return WEIR_OK;
        int err = errno;
        if (err == EISCONN) return WEIR_OK; /* a retried Unix connect that got through */
        if (err == EAGAIN && sa->sa_family == AF_UNIX) {
            int rc = weir_sleep(backoff);
            if (rc) {
                *why = FAIL_STOP;
                return rc;
            }
            if (backoff < 64 * WEIR_MS) backoff *= 2;
            continue;
        }
        /* EINTR: the connection goes on in the background, as with EINPROGRESS (POSIX). */
        if (err != EINPROGRESS && err != EINTR) return weir__errno_code(err);
        int rc = wait_writable(p, fd);
        if (rc) {
            *why = FAIL_STOP;
            return rc;
        }
        int soerr = 0;
        socklen_t slen = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0) soerr = errno;
        return soerr ? weir__errno_code(soerr) : WEIR_OK;
    }
}

/* Bind fd to the first of `local` (a getaddrinfo list) of fd's family that takes. */
static int bind_local(int fd, int family, const struct addrinfo *local) {
    int rc = WEIR_EINVAL; /* no local address of this family */
    for (const struct addrinfo *l = local; l; l = l->ai_next) {
        if (l->ai_family != family) continue;
        if (bind(fd, l->ai_addr, l->ai_addrlen) == 0) return WEIR_OK;
        /* Binding an address that is not ours is a bad argument, as in the simulator. */
        rc = errno == EADDRNOTAVAIL ? WEIR_EINVAL : weir__errno_code(errno);
    }
    return rc;
}

static int try_address(weir__poll *p, const struct addrinfo *ai, const struct addrinfo *local,
                       weir_transport **out, fail_kind *why) {
    *why = FAIL_CONNECT;
    int fd;
    int rc = new_socket(ai->ai_family, ai->ai_protocol, &fd);
    if (rc) {
        *why = FAIL_FAMILY;
        return rc;
    }
    if (local) rc = bind_local(fd, ai->ai_family, local);
    if (!rc) rc = connect_fd(p, fd, ai->ai_addr, ai->ai_addrlen, why);
    if (!rc) rc = weir__sock_new(p, fd, out);
    if (rc) close(fd);
    return rc;
}

/* --- the net ops --------------------------------------------------------------------- */

static int connect_unix(weir__poll *p, const char *path, weir_transport **out) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof sun.sun_path) return WEIR_EINVAL;
    memcpy(sun.sun_path, path, plen + 1);
    int fd;
    int rc = new_socket(AF_UNIX, 0, &fd);
    if (rc) return rc;
    fail_kind why = FAIL_CONNECT;
    rc = connect_fd(p, fd, (struct sockaddr *)&sun, sizeof sun, &why);
    if (!rc) rc = weir__sock_new(p, fd, out);
    if (rc) close(fd);
    return rc;
}

static int connect_tcp(weir__poll *p, const weir_endpoint *ep, const weir_open_opts *opts,
                       weir_transport **out) {
    struct addrinfo *remote = NULL, *local = NULL;
    int rc = weir__poll_resolve(p, ep->host, ep->port, 0, &remote);
    if (rc) return rc;
    const char *lhost = opts && opts->local_host && *opts->local_host ? opts->local_host : NULL;
    int lport = opts ? opts->local_port : 0;
    if (lhost || lport > 0) {
        rc = weir__poll_resolve(p, lhost, lport, AI_PASSIVE, &local);
        /* A local name that does not resolve is a bad argument, as in the simulator. */
        if (rc == WEIR_ENOENT) rc = WEIR_EINVAL;
        if (rc) {
            freeaddrinfo(remote);
            return rc;
        }
    }
    rc = WEIR_ENOENT;
    bool have_error = false;
    for (const struct addrinfo *ai = remote; ai; ai = ai->ai_next) {
        fail_kind why;
        int r = try_address(p, ai, local, out, &why);
        if (r == 0 || why == FAIL_STOP) {
            rc = r;
            break;
        }
        if (!have_error || why != FAIL_FAMILY) rc = r;
        if (why != FAIL_FAMILY) have_error = true;
    }
    freeaddrinfo(remote);
    if (local) freeaddrinfo(local);
    return rc;
}

int weir__poll_connect(void *impl, weir_loop *loop, const weir_endpoint *ep,
                       const weir_open_opts *opts, weir_transport **out) {
    if (out) *out = NULL;
    weir__poll *p = impl;
    if (!p || !ep || !out) return WEIR_EINVAL;
    if (!weir_task_current() || weir_current_loop() != loop) return WEIR_ENOTASK;
    if (ep->path) {
        if (!*ep->path) return WEIR_EINVAL;
        return connect_unix(p, ep->path, out);
    }
    if (!ep->host || !*ep->host || ep->port <= 0 || ep->port > 65535) return WEIR_EINVAL;
    return connect_tcp(p, ep, opts, out);
}

int weir__poll_adopt(void *impl, weir_loop *loop, int fd, weir_transport **out) {
    (void)loop;
    if (out) *out = NULL;
    if (!impl || fd < 0 || !out) return WEIR_EINVAL;
    return weir__sock_new(impl, fd, out);
}
