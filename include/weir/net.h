/* weir/net.h - open_connection / start_server and their Unix-socket twins.
 *
 * The same calls on every backend: on a simulator loop they connect and listen inside the
 * simulated network (weir/sim.h); on the poll backend, on real sockets. What happens
 * underneath is the loop backend's connect/listen (weir/loop.h). */
#ifndef WEIR_NET_H
#define WEIR_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/loop.h"
#include "weir/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where to connect or listen: host and port, or a Unix socket path (host NULL). */
typedef struct weir_endpoint {
    const char *host; /* name or address literal; NULL with a path; for listen, NULL = any */
    int port;         /* 0..65535; 0 to listen on an ephemeral port */
    const char *path; /* Unix socket path, or NULL */
} weir_endpoint;

typedef struct weir_open_opts {
    int64_t limit;          /* reader limit; 0 = WEIR_DEFAULT_LIMIT */
    const char *local_host; /* bind before connecting; NULL = any */
    int local_port;
    struct weir_tls_ctx *tls;      /* a TLS client context (weir/tls.h); NULL = plain */
    const char *server_hostname;   /* SNI / verification name; NULL = host */
    int64_t connect_timeout;       /* ns; 0 = none beyond the task's deadline */
    int64_t tls_handshake_timeout; /* ns; 0 = 60 s */
    int64_t tls_shutdown_timeout;  /* ns; 0 = 30 s */
} weir_open_opts;

/* open_connection: connect from the running task (it blocks until connected) and return a
 * reader and a writer; the writer owns the connection (weir_writer_free). opts may be NULL.
 * Errors: WEIR_ENOTASK, WEIR_EINVAL, WEIR_ECONNREFUSED, WEIR_EHOSTUNREACH, WEIR_ENOENT (the
 * name does not resolve), WEIR_ETIMEDOUT, WEIR_ECANCELED, WEIR_ENOTSUP (the loop's backend
 * has no network), WEIR_ENOMEM. */
int weir_open_connection(const char *host, int port, const weir_open_opts *opts, weir_reader **r,
                         weir_writer **w);
int weir_open_unix_connection(const char *path, const weir_open_opts *opts, weir_reader **r,
                              weir_writer **w);

/* asyncio's sock=: put a reader and a writer on an already-connected stream socket (TCP,
 * Unix, one end of a socketpair). loop NULL = the running task's loop. The connection owns
 * fd from then on. WEIR_EINVAL, WEIR_ENOTSUP (the backend has no sockets, e.g. the
 * simulator), WEIR_ENOMEM. Does not block. */
int weir_open_connection_fd(weir_loop *loop, int fd, const weir_open_opts *opts, weir_reader **r,
                            weir_writer **w);

/* A connection handler: runs in its own task for each accepted connection. When it returns,
 * the server closes the writer (if the handler did not), waits for the connection to go and
 * frees it; the handler must not free it. Its return value is ignored. */
typedef int (*weir_handler)(weir_reader *r, weir_writer *w, void *arg);

typedef struct weir_server_opts {
    int64_t limit; /* readers' limit; 0 = WEIR_DEFAULT_LIMIT */
    int backlog;   /* 0 = 100 (asyncio's default) */
    bool reuse_address;
    bool reuse_port;
    struct weir_tls_ctx *tls;      /* a TLS server context (weir/tls.h); NULL = plain */
    int64_t tls_handshake_timeout; /* ns; 0 = 60 s */
    int64_t tls_shutdown_timeout;  /* ns; 0 = 30 s */
} weir_server_opts;

typedef struct weir_server weir_server;

/* start_server: listen and serve each connection with handler(r, w, arg) in a new task.
 * loop NULL = the running task's loop. Does not block, except that on the poll backend a
 * host name (not an address) is looked up by a resolver thread while the calling task waits
 * (outside a task: on the calling thread). Errors: WEIR_EINVAL, WEIR_EADDRINUSE,
 * WEIR_ENOENT, WEIR_ENOTSUP, WEIR_ENOMEM; WEIR_ECANCELED, WEIR_ETIMEDOUT during a lookup. */
int weir_start_server(weir_loop *loop, weir_handler handler, void *arg, const char *host, int port,
                      const weir_server_opts *opts, weir_server **out);
int weir_start_unix_server(weir_loop *loop, weir_handler handler, void *arg, const char *path,
                           const weir_server_opts *opts, weir_server **out);

/* Stop accepting (connections being served go on). Idempotent. */
void weir_server_close(weir_server *s);
/* Block the running task until the server is closed and every handler has returned. */
int weir_server_wait_closed(weir_server *s);
/* Serve until the server is closed or the task cancelled (WEIR_ECANCELED). */
int weir_server_serve_forever(weir_server *s);
bool weir_server_is_serving(const weir_server *s);
/* The i-th bound address as text ("127.0.0.1:8080", "[::1]:8080", "/tmp/sock"), or NULL. */
const char *weir_server_address(const weir_server *s, size_t i);
/* The port of the first bound address (useful after listening on port 0), or -1. */
int weir_server_port(const weir_server *s);
/* Connections accepted so far, and handlers still running. */
size_t weir_server_accepted(const weir_server *s);
size_t weir_server_active(const weir_server *s);
/* Close, cancel running handlers, and free. Call outside the loop or from a task that is not
 * one of this server's handlers. NULL is a no-op. */
void weir_server_free(weir_server *s);

/* --- what a backend implements (weir_backend_ops.net) ------------------------------- */

/* A backend's listening socket. */
typedef struct weir_listener weir_listener;
/* Called by the backend, from a callback on the loop, with each accepted connection: a
 * transport with no protocol yet. */
typedef void (*weir_accept_fn)(void *arg, weir_transport *t);

typedef struct weir_net_ops {
    /* Connect; called from a task, may block it (core/internal.h weir__wait). On success
     * *out is a transport whose protocol is still unset. */
    int (*connect)(void *impl, weir_loop *loop, const weir_endpoint *ep, const weir_open_opts *opts,
                   weir_transport **out);
    /* Listen. Accepted connections go to on_accept(arg, t), on later ticks. */
    int (*listen)(void *impl, weir_loop *loop, const weir_endpoint *ep,
                  const weir_server_opts *opts, weir_accept_fn on_accept, void *arg,
                  weir_listener **out);
    /* The bound addresses, as text: up to n of them; returns how many there are. */
    size_t (*listener_addresses)(void *impl, weir_listener *l, const char **out, size_t n);
    int (*listener_port)(void *impl, weir_listener *l);
    /* Stop accepting and release the listener; no on_accept call follows. */
    void (*listener_close)(void *impl, weir_listener *l);
    /* Optional: a transport on an already-connected socket (weir_open_connection_fd). */
    int (*adopt)(void *impl, weir_loop *loop, int fd, weir_transport **out);
} weir_net_ops;

#ifdef __cplusplus
}
#endif
#endif
