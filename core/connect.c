/* core/connect.c - open_connection and open_unix_connection (asyncio.open_connection).
 *
 * The backend does the connecting (weir_backend_ops.net); this file checks the arguments,
 * scopes the connect timeout around it and puts a reader and a writer on the transport it
 * returns, so every backend gets the same argument rules and the same error order:
 * bad arguments first, then "not in a task", then "no network", then the connect itself. */
#include <string.h>

#include "core/net_internal.h"

static bool opts_ok(const weir_open_opts *o) {
    if (o->limit < 0 || o->connect_timeout < 0 || !weir__port_ok(o->local_port)) return false;
    if (o->tls_handshake_timeout < 0 || o->tls_shutdown_timeout < 0) return false;
    /* asyncio: TLS settings without ssl= are a ValueError; a server context is no client's. */
    if (!o->tls)
        return !o->server_hostname && !o->tls_handshake_timeout && !o->tls_shutdown_timeout;
    return !weir__tls_head_of(o->tls)->server;
}

/* opts.tls: the handshake, from the connecting task, through the hooks of the context
 * (net/tls.c; core does not see OpenSSL). A failed handshake frees the connection. */
static int handshake(weir_loop *loop, const weir_open_opts *o, const char *host, weir_reader **r,
                     weir_writer **w) {
    const weir__tls_hooks *h = weir__tls_head_of(o->tls)->hooks;
    weir__tls_params p = {.server_hostname = o->server_hostname ? o->server_hostname : host,
                          .handshake_timeout = o->tls_handshake_timeout,
                          .shutdown_timeout = o->tls_shutdown_timeout};
    int rc = h->attach(*w, loop, o->tls, &p);
    if (rc == 0) rc = h->handshake(*w);
    if (rc) {
        weir_writer_free(*w);
        *r = NULL;
        *w = NULL;
    }
    return rc;
}

/* The connect call with opts->connect_timeout as the task's deadline, when that comes
 * before the deadline the task already has. The old deadline is back in place afterwards
 * whatever happened, so the timeout never leaks into the caller's later calls. */
static int connect_scoped(const weir_net_ops *net, void *impl, weir_loop *loop,
                          const weir_endpoint *ep, const weir_open_opts *o, weir_transport **t) {
    int64_t old = weir_deadline_get();
    bool scoped = false;
    if (o->connect_timeout > 0) {
        int64_t now = weir_now();
        int64_t d =
            o->connect_timeout > WEIR_FOREVER - now ? WEIR_FOREVER : now + o->connect_timeout;
        if (d < old) {
            weir_deadline_set(d);
            scoped = true;
        }
    }
    int rc = net->connect(impl, loop, ep, o, t);
    if (scoped) weir_deadline_set(old);
    return rc;
}

/* Put a reader and a writer on the transport a backend gave us. If that fails, nobody will
 * ever read from the transport: drop it the way a writer would. */
static int open_stream(weir_loop *loop, weir_transport *t, const weir_open_opts *o, weir_reader **r,
                       weir_writer **w) {
    if (!t) return WEIR_EIO; /* a backend that claims success without a transport */
    int rc = weir_stream_open(loop, t, o->limit, r, w);
    if (rc) {
        t->protocol = NULL;
        if (t->ops && t->ops->abort) t->ops->abort(t);
        if (t->ops && t->ops->free) t->ops->free(t);
    }
    return rc;
}

static int open_endpoint(const weir_endpoint *ep, const weir_open_opts *opts, weir_reader **r,
                         weir_writer **w) {
    weir_open_opts o = opts ? *opts : (weir_open_opts){0};
    if (!opts_ok(&o)) return WEIR_EINVAL;
    /* asyncio: "You must set server_hostname when using ssl without a host". */
    if (o.tls && !o.server_hostname && !ep->host) return WEIR_EINVAL;
    if (o.limit == 0) o.limit = WEIR_DEFAULT_LIMIT;

    weir_task *self = weir_task_current();
    if (!self) return WEIR_ENOTASK;
    weir_loop *loop = weir_current_loop();
    void *impl;
    const weir_net_ops *net = weir__loop_net(loop, &impl);
    if (!net || !net->connect) return WEIR_ENOTSUP;
    /* Connecting is a blocking call: a cancelled task or a passed deadline fails here even
     * on a backend that could connect without waiting, as every other blocking call does. */
    if (weir_task_cancelled(self)) return WEIR_ECANCELED;
    if (weir_deadline_get() <= weir_now()) return WEIR_ETIMEDOUT;

    weir_transport *t = NULL;
    int rc = connect_scoped(net, impl, loop, ep, &o, &t);
    if (rc) return rc;
    rc = open_stream(loop, t, &o, r, w);
    if (rc) return rc;
    return o.tls ? handshake(loop, &o, ep->host, r, w) : WEIR_OK;
}

int weir_open_connection(const char *host, int port, const weir_open_opts *opts, weir_reader **r,
                         weir_writer **w) {
    if (r) *r = NULL;
    if (w) *w = NULL;
    /* Port 0 is for listening on an ephemeral port; nothing can be connected to it. */
    if (!r || !w || !host || !*host || port <= 0 || !weir__port_ok(port)) return WEIR_EINVAL;
    weir_endpoint ep = {.host = host, .port = port};
    return open_endpoint(&ep, opts, r, w);
}

int weir_open_unix_connection(const char *path, const weir_open_opts *opts, weir_reader **r,
                              weir_writer **w) {
    if (r) *r = NULL;
    if (w) *w = NULL;
    if (!r || !w || !path || !*path) return WEIR_EINVAL;
    weir_endpoint ep = {.path = path};
    return open_endpoint(&ep, opts, r, w);
}

/* asyncio's open_connection(sock=...): the backend adopts the socket (weir_net_ops.adopt),
 * and the transport gets a reader and a writer like a connected one. Nothing blocks, so it
 * works outside a task too, unless opts.tls asks for a handshake. When the backend refuses
 * the socket, fd is untouched and still the caller's; once adopted it belongs to the
 * transport, which closes it if the reader and writer cannot be made (asyncio closes the
 * socket then as well). */
int weir_open_connection_fd(weir_loop *loop, int fd, const weir_open_opts *opts, weir_reader **r,
                            weir_writer **w) {
    if (r) *r = NULL;
    if (w) *w = NULL;
    weir_open_opts o = opts ? *opts : (weir_open_opts){0};
    if (!r || !w || fd < 0 || !opts_ok(&o)) return WEIR_EINVAL;
    if (o.tls && !o.server_hostname) return WEIR_EINVAL; /* no host to default to */
    if (o.limit == 0) o.limit = WEIR_DEFAULT_LIMIT;
    if (!loop) loop = weir_current_loop();
    if (!loop) return WEIR_ENOTASK;
    /* With TLS the handshake blocks: that needs a task of this loop. */
    if (o.tls && (!weir_task_current() || weir_current_loop() != loop)) return WEIR_ENOTASK;
    void *impl;
    const weir_net_ops *net = weir__loop_net(loop, &impl);
    if (!net || !net->adopt) return WEIR_ENOTSUP;
    weir_transport *t = NULL;
    int rc = net->adopt(impl, loop, fd, &t);
    if (rc) return rc;
    rc = open_stream(loop, t, &o, r, w);
    if (rc) return rc;
    return o.tls ? handshake(loop, &o, NULL, r, w) : WEIR_OK;
}
