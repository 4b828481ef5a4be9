/* net/listen.c - listening and accepting on the poll backend (asyncio's create_server).
 *
 * TCP: one listening socket per address of the host; no host means both wildcards, 0.0.0.0
 * and :: (the IPv6 one with IPV6_V6ONLY, so the two do not collide; it is skipped on a
 * machine without IPv6). SO_REUSEADDR is always set, as asyncio does on POSIX by default;
 * SO_REUSEPORT when asked. With port 0 and several addresses, the first socket's
 * ephemeral port is used for the others too (asyncio gives each its own port), retrying
 * with a fresh port a few times when that port is taken on another address.
 *
 * Unix: asyncio's start_unix_server: a socket file already at the path is removed first
 * (any other file makes the bind fail with WEIR_EADDRINUSE), and the file is removed again
 * when the server closes, if it is still the one we made (3.13's cleanup_socket).
 *
 * Accepting: on readiness, up to `backlog` accept() calls, each connection handed to
 * on_accept as a new socket transport. EMFILE, ENFILE, ENOBUFS and ENOMEM stop accepting
 * for a while (1 s, as asyncio) instead of spinning on a socket that stays readable;
 * EAGAIN ends the round; other errors (a connection reset while queued) skip one. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/poll_internal.h"

#define MAX_SOCKS 16      /* listening sockets per server (addresses of one host) */
#define EPHEMERAL_TRIES 8 /* port 0 on several addresses: attempts at a common port */

typedef struct listener listener;

typedef struct lsock {
    weir__io io;
    int fd;
    listener *l;
    char text[WEIR__ADDR_TEXT];
} lsock;

struct listener {
    weir__poll *p;
    weir_loop *loop;
    lsock socks[MAX_SOCKS];
    size_t nsocks;
    const char *texts[MAX_SOCKS];
    int port; /* -1 for a Unix socket */
    int backlog;
    weir_accept_fn on_accept;
    void *arg;
    weir_timer retry; /* accepting paused after EMFILE and friends */
    bool closed;
    int depth;  /* accept rounds in progress: the memory goes when the last ends */
    char *path; /* Unix: the socket file to remove on close */
    dev_t dev;  /* ... if it is still this one */
    ino_t ino;
};

/* --- accepting ----------------------------------------------------------------------- */

static void want_all(listener *l, short events) {
    for (size_t i = 0; i < l->nsocks; i++) weir__io_want(l->p, &l->socks[i].io, events);
}

static void retry_fired(weir_timer *timer, void *arg) {
    (void)timer;
    listener *l = arg;
    if (!l->closed) want_all(l, POLLIN);
}

static void listener_destroy(listener *l) {
    free(l->path);
    free(l);
}

static void accept_ready(weir__io *io, int revents) {
    (void)revents;
    lsock *ls = io->arg;
    listener *l = ls->l;
    l->depth++;
    for (int i = 0; i < l->backlog && !l->closed; i++) {
        int fd = accept(ls->fd, NULL, NULL);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) break;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                want_all(l, 0);
                weir_timer_start(l->loop, &l->retry,
                                 weir_loop_now(l->loop) + weir__poll_accept_retry(l->p),
                                 retry_fired, l);
                break;
            }
            continue; /* EINTR, ECONNABORTED, a network error of that one connection */
        }
        weir_transport *t;
        if (weir__sock_new(l->p, fd, &t) != 0) {
            close(fd);
            continue;
        }
        l->on_accept(l->arg, t);
    }
    if (--l->depth == 0 && l->closed) listener_destroy(l);
}

/* --- opening sockets ----------------------------------------------------------------- */

static void close_socks(listener *l) {
    for (size_t i = 0; i < l->nsocks; i++) {
        weir__io_stop(l->p, &l->socks[i].io);
        close(l->socks[i].fd);
    }
    l->nsocks = 0;
}

static int errno_bind(int err) {
    /* An address that is not one of ours: the simulator's answer, "no such address". */
    return err == EADDRNOTAVAIL ? WEIR_ENOENT : weir__errno_code(err);
}

/* A listening socket bound to sa, added to l. *family_unusable tells a failure of socket()
 * itself (the machine has no such family) from one of bind or listen. */
static int open_sock(listener *l, const struct sockaddr *sa, socklen_t len, int protocol,
                     bool reuse_port, bool *family_unusable) {
    *family_unusable = false;
    if (l->nsocks == MAX_SOCKS) return WEIR_OK; /* a host with more addresses: the first ones */
    int fd = socket(sa->sa_family, SOCK_STREAM, protocol);
    if (fd < 0) {
        *family_unusable = true;
        return weir__errno_code(errno);
    }
    int rc = weir__fd_nonblock_cloexec(fd);
    int one = 1;
    if (!rc && sa->sa_family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        rc = weir__errno_code(errno);
    if (!rc && reuse_port) {
#ifdef SO_REUSEPORT
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            rc = weir__errno_code(errno);
#else
        rc = WEIR_ENOTSUP;
#endif
    }
    if (!rc && sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        rc = weir__errno_code(errno);
    if (!rc && bind(fd, sa, len) != 0) {
        rc = errno_bind(errno);
        /* A wildcard :: on a machine whose IPv6 is off: as good as no IPv6 at all. */
        if (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT) *family_unusable = true;
    }
    if (!rc && listen(fd, l->backlog) != 0) rc = weir__errno_code(errno);
    lsock *ls = &l->socks[l->nsocks];
    if (!rc) rc = weir__io_start(l->p, &ls->io, fd, accept_ready, ls);
    if (rc) {
        close(fd);
        return rc;
    }
    ls->fd = fd;
    ls->l = l;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &slen) == 0)
        weir__addr_text((struct sockaddr *)&ss, slen, ls->text, sizeof ls->text);
    l->nsocks++;
    return WEIR_OK;
}

static int sock_port(const lsock *ls) {
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    if (getsockname(ls->fd, (struct sockaddr *)&ss, &slen) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void set_port(struct sockaddr *sa, int port) {
    if (sa->sa_family == AF_INET) ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    if (sa->sa_family == AF_INET6) ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* An address to listen on. */
typedef struct laddr {
    struct sockaddr_storage ss;
    socklen_t len;
    int protocol;
} laddr;

/* Append the distinct addresses of a getaddrinfo list to a[*n] (up to MAX_SOCKS). */
static void add_addrs(laddr *a, size_t *n, const struct addrinfo *list) {
    for (const struct addrinfo *ai = list; ai && *n < MAX_SOCKS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof a->ss) continue;
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = a[i].len == ai->ai_addrlen && memcmp(&a[i].ss, ai->ai_addr, a[i].len) == 0;
        if (dup) continue;
        memset(&a[*n], 0, sizeof a[*n]);
        memcpy(&a[*n].ss, ai->ai_addr, ai->ai_addrlen);
        a[*n].len = ai->ai_addrlen;
        a[*n].protocol = ai->ai_protocol;
        (*n)++;
    }
}

/* The addresses to listen on; no host: 0.0.0.0, then ::. */
static int listen_addrs(weir__poll *p, const char *host, int port, laddr *a, size_t *n) {
    *n = 0;
    const char *wild[2] = {"0.0.0.0", "::"};
    const char *const *names = host && *host ? &host : wild;
    size_t nnames = host && *host ? 1 : 2;
    for (size_t i = 0; i < nnames; i++) {
        struct addrinfo *res = NULL;
        int rc = weir__poll_resolve(p, names[i], port, AI_PASSIVE, &res);
        /* :: on a libc without IPv6 support: listen on IPv4 alone. */
        if (rc && i > 0) continue;
        if (rc) return rc;
        add_addrs(a, n, res);
        freeaddrinfo(res);
    }
    return *n ? WEIR_OK : WEIR_ENOENT;
}

/* Open a socket for each address; with port 0, all on the first one's port. */
static int open_tcp_once(listener *l, const laddr *addrs, size_t n, int port, bool reuse_port) {
    int first_rc = WEIR_OK;
    int common = port;
    for (size_t i = 0; i < n; i++) {
        laddr a = addrs[i];
        set_port((struct sockaddr *)&a.ss, common);
        bool unusable;
        int rc = open_sock(l, (struct sockaddr *)&a.ss, a.len, a.protocol, reuse_port, &unusable);
        if (rc && unusable) {
            /* A family the machine cannot use is skipped, as asyncio does. */
            if (!first_rc) first_rc = rc;
            continue;
        }
        if (rc) return rc;
        if (common == 0) common = sock_port(&l->socks[0]);
    }
    return l->nsocks ? WEIR_OK : (first_rc ? first_rc : WEIR_ENOENT);
}

static int open_tcp(listener *l, const weir_endpoint *ep, const weir_server_opts *opts) {
    laddr addrs[MAX_SOCKS];
    size_t n;
    int rc = listen_addrs(l->p, ep->host, ep->port, addrs, &n);
    if (rc) return rc;
    bool reuse_port = opts && opts->reuse_port;
    for (int attempt = 0; attempt < EPHEMERAL_TRIES; attempt++) {
        rc = open_tcp_once(l, addrs, n, ep->port, reuse_port);
        if (rc) close_socks(l);
        /* Port 0: the first address's ephemeral port was taken on another; try another. */
        if (rc == WEIR_EADDRINUSE && ep->port == 0 && n > 1) continue;
        break;
    }
    if (!rc) l->port = sock_port(&l->socks[0]);
    return rc;
}

static int open_unix(listener *l, const char *path) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof sun.sun_path) return WEIR_EINVAL;
    memcpy(sun.sun_path, path, plen + 1);
    struct stat st;
    /* asyncio removes a stale socket file (only a socket: anything else stays, and then
     * the bind fails). */
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) (void)unlink(path);
    bool unusable;
    int rc = open_sock(l, (struct sockaddr *)&sun, sizeof sun, 0, false, &unusable);
    if (rc) return rc;
    snprintf(l->socks[0].text, sizeof l->socks[0].text, "%s", path);
    l->port = -1;
    if (stat(path, &st) == 0) {
        l->path = strdup(path);
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    return WEIR_OK;
}

/* --- the net ops --------------------------------------------------------------------- */

int weir__poll_listen(void *impl, weir_loop *loop, const weir_endpoint *ep,
                      const weir_server_opts *opts, weir_accept_fn on_accept, void *arg,
                      weir_listener **out) {
    (void)loop;
    if (out) *out = NULL;
    weir__poll *p = impl;
    if (!p || !ep || !on_accept || !out) return WEIR_EINVAL;
    if (opts && opts->backlog < 0) return WEIR_EINVAL;
    if (!ep->path && (ep->port < 0 || ep->port > 65535)) return WEIR_EINVAL;
    if (ep->path && !*ep->path) return WEIR_EINVAL;
    listener *l = calloc(1, sizeof *l);
    if (!l) return WEIR_ENOMEM;
    l->p = p;
    l->loop = weir__poll_loop(p);
    l->backlog = opts && opts->backlog > 0 ? opts->backlog : 100;
    l->on_accept = on_accept;
    l->arg = arg;
    int rc = ep->path ? open_unix(l, ep->path) : open_tcp(l, ep, opts);
    if (rc) {
        listener_destroy(l);
        return rc;
    }
    for (size_t i = 0; i < l->nsocks; i++) l->texts[i] = l->socks[i].text;
    want_all(l, POLLIN);
    *out = (weir_listener *)l;
    return WEIR_OK;
}

size_t weir__poll_listener_addresses(void *impl, weir_listener *wl, const char **out, size_t n) {
    (void)impl;
    listener *l = (listener *)wl;
    if (!l) return 0;
    for (size_t i = 0; i < n && i < l->nsocks; i++) out[i] = l->texts[i];
    return l->nsocks;
}

int weir__poll_listener_port(void *impl, weir_listener *wl) {
    (void)impl;
    listener *l = (listener *)wl;
    return l ? l->port : -1;
}

void weir__poll_listener_close(void *impl, weir_listener *wl) {
    (void)impl;
    listener *l = (listener *)wl;
    if (!l || l->closed) return;
    l->closed = true;
    weir_timer_stop(l->loop, &l->retry);
    close_socks(l);
    struct stat st;
    if (l->path && stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        (void)unlink(l->path);
    if (l->depth == 0) listener_destroy(l);
}
