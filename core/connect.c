/* core/connect.c - open_connection and open_unix_connection (asyncio.open_connection).
 *
 * The backend does the connecting (weir_backend_ops.net); this file checks the arguments,
 * scopes the connect timeout around it and puts a reader and a writer on the transport it
 * returns, so every backend gets the same argument rules and the same error order:
 * bad arguments first, then "not in a task", then "no network", then the connect itself. */
#include <string.h>

#include "core/net_internal.h"

static bool opts_ok(const weir_open_opts *o) {
    return o->limit >= 0 && o->connect_timeout >= 0 && weir__port_ok(o->local_port);
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

static int open_endpoint(const weir_endpoint *ep, const weir_open_opts *opts, weir_reader **r,
                         weir_writer **w) {
    weir_open_opts o = opts ? *opts : (weir_open_opts){0};
    if (!opts_ok(&o)) return WEIR_EINVAL;
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
    if (!t) return WEIR_EIO; /* a backend that claims success without a transport */
    rc = weir_stream_open(loop, t, o.limit, r, w);
    if (rc) {
        /* Nobody will ever read from it: drop it the way a writer would. */
        t->protocol = NULL;
        if (t->ops && t->ops->abort) t->ops->abort(t);
        if (t->ops && t->ops->free) t->ops->free(t);
    }
    return rc;
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
