/* net/poll_internal.h - what the files of net/ share: fd watches on the poll backend, the
 * socket transport, name resolution, address text and errno mapping. Not installed. */
#ifndef WEIR_NET_POLL_INTERNAL_H
#define WEIR_NET_POLL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/internal.h"
#include "weir/poll.h"

typedef struct weir__poll weir__poll;

/* --- fd watches (poll.c) -------------------------------------------------------------

 * A watch is caller-owned storage (embed it; zero it first) for one fd. The backend calls
 * fn(io, revents) from the loop, outside any task, when poll(2) reports one of the events
 * the watch wants (POLLIN, POLLOUT) or an error condition (POLLERR, POLLHUP, POLLNVAL) while
 * it wants anything. A watch that wants nothing is not polled at all, so a hung-up socket
 * whose reading is paused does not make poll return at once forever.
 *
 * Callbacks may start, change and stop any watch, their own included, and may free their
 * own watch's storage once they have stopped it: a watch stopped during a round of
 * callbacks gets no further call in that round. */
typedef struct weir__io weir__io;
typedef void (*weir__io_fn)(weir__io *io, int revents);
struct weir__io {
    int fd;
    short events; /* what is wanted: POLLIN and/or POLLOUT, or 0 */
    size_t slot;  /* private: 1 + index in the backend's table, 0 when not started */
    weir__io_fn fn;
    void *arg; /* the owner's, for fn */
};

/* The poll backend of `loop`, or NULL when the loop runs on another backend. */
weir__poll *weir__poll_of(const weir_loop *loop);
weir_loop *weir__poll_loop(const weir__poll *p);

/* Register io for fd with fn(io, revents), wanting nothing yet. WEIR_ENOMEM or 0. */
int weir__io_start(weir__poll *p, weir__io *io, int fd, weir__io_fn fn, void *arg);
/* What io wants from now on (a no-op for a watch that is not started). */
void weir__io_want(weir__poll *p, weir__io *io, short events);
/* Unregister; a no-op when not started. The fd is not closed. */
void weir__io_stop(weir__poll *p, weir__io *io);

/* The backend's receive buffer: one per loop, used for one recv() at a time and handed to
 * a protocol's data_received, which copies what it keeps. */
#define WEIR__RECV_CHUNK (256 * 1024) /* asyncio's max_size for a selector transport */
uint8_t *weir__poll_recv_buf(weir__poll *p);

/* How long a listener stops accepting after EMFILE/ENFILE/ENOBUFS/ENOMEM (asyncio's
 * ACCEPT_RETRY_DELAY is 1 s). Tests shorten it. */
int64_t weir__poll_accept_retry(const weir__poll *p);
void weir__poll_set_accept_retry(weir_loop *loop, int64_t ns);
/* poll(2) calls made so far, EINTR retries included (tests check nothing spins). */
uint64_t weir__poll_calls(const weir_loop *loop);

/* --- the socket transport (sock.c) ---------------------------------------------------- */

/* A transport on a connected stream socket. Makes fd non-blocking and close-on-exec,
 * turns Nagle off on TCP (as asyncio does), reads the socket's names and starts reading
 * once the loop runs. On success the transport owns fd (closes it when freed); on failure
 * fd is left as it was and stays the caller's. WEIR_ENOMEM, WEIR_EINVAL (not a socket), 0. */
int weir__sock_new(weir__poll *p, int fd, weir_transport **out);

/* --- helpers (addr.c) ---------------------------------------------------------------- */

/* The WEIR_E* code for an errno value from a socket call: ECONNRESET, EPIPE,
 * ECONNREFUSED, EHOSTUNREACH (and the network-unreachable family), EADDRINUSE, ETIMEDOUT,
 * ENOENT, ENOMEM (and ENOBUFS), EINVAL; anything else is WEIR_EIO. */
int weir__errno_code(int err);
/* An address as socket-name text: "127.0.0.1:8080", "[::1]:8080", a Unix path, "@name" for
 * a Linux abstract socket, "" for an unnamed one. Always NUL-terminated. */
void weir__addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t n);
/* Room for any weir__addr_text result. */
#define WEIR__ADDR_TEXT 128
/* fcntl: non-blocking and close-on-exec. 0 or a WEIR_E* code. */
int weir__fd_nonblock_cloexec(int fd);

/* --- name resolution (resolve.c) ------------------------------------------------------ */

/* getaddrinfo for a stream socket: an address literal first (AI_NUMERICHOST, on the calling
 * thread: it never touches DNS), then a name, which a resolver thread looks up while the
 * running task waits (cancellation and the deadline end the wait at once). Called outside a
 * task of p's loop, a name is looked up on the calling thread. host NULL with AI_PASSIVE:
 * the wildcard addresses. 0 and *res (freeaddrinfo it), WEIR_ENOENT (does not resolve),
 * WEIR_EINVAL, WEIR_ENOMEM, WEIR_ECANCELED, WEIR_ETIMEDOUT. */
struct addrinfo;
int weir__poll_resolve(weir__poll *p, const char *host, int port, int flags, struct addrinfo **res);

/* The loop's resolver threads and their queue; made on first need, freed with the loop
 * (without waiting for a lookup in progress: see resolve.c). */
typedef struct weir__resolver weir__resolver;
weir__resolver **weir__poll_resolver_slot(weir__poll *p);
void weir__resolver_free(weir__resolver *rs);

/* For tests: what looks names up instead of getaddrinfo, in the resolver threads (or on the
 * calling thread outside a task); NULL: getaddrinfo again. Address literals never reach it.
 * weir__resolver_threads: resolver threads alive in the whole process. */
typedef int (*weir__gai_fn)(const char *host, const char *serv, const struct addrinfo *hints,
                            struct addrinfo **res);
void weir__poll_set_resolver(weir_loop *loop, weir__gai_fn fn);
int weir__resolver_threads(void);

/* --- the backend's network (connect.c, listen.c) -------------------------------------- */

int weir__poll_connect(void *impl, weir_loop *loop, const weir_endpoint *ep,
                       const weir_open_opts *opts, weir_transport **out);
int weir__poll_listen(void *impl, weir_loop *loop, const weir_endpoint *ep,
                      const weir_server_opts *opts, weir_accept_fn on_accept, void *arg,
                      weir_listener **out);
size_t weir__poll_listener_addresses(void *impl, weir_listener *l, const char **out, size_t n);
int weir__poll_listener_port(void *impl, weir_listener *l);
void weir__poll_listener_close(void *impl, weir_listener *l);
int weir__poll_adopt(void *impl, weir_loop *loop, int fd, weir_transport **out);

#endif
