/* core/server.c - start_server and its Server object (asyncio.start_server, Server).
 *
 * The backend listens (weir_backend_ops.net) and hands each accepted transport to
 * on_accept(), which puts a reader and a writer on it and spawns a task to run the handler.
 * That task owns the connection from then on: after the handler returns it closes the writer
 * (unless the handler did), waits for the connection to go and frees it. The server only
 * keeps a list of the tasks still running, to count them, to wake wait_closed() when the
 * last one is done (asyncio 3.12+: wait_closed waits for the handlers too) and to cancel
 * them when it is freed. A freed server cuts that list loose rather than waiting for it:
 * each handler task then finishes on its own and never touches the server again. */
#include <stdlib.h>

#include "core/net_internal.h"

#define DEFAULT_BACKLOG 100 /* asyncio's */

/* One accepted connection and the task serving it. Owned by that task. */
typedef struct conn conn;
struct conn {
    weir_server *server; /* NULL once the server is freed: the task finishes alone */
    conn *prev, *next;   /* the server's list of running handlers */
    weir_task *task;     /* detached; valid while the conn is on the list */
    weir_reader *r;
    weir_writer *w;
    weir_handler handler;
    void *arg;
    const weir__tls_hooks *tls; /* a TLS server: the handshake to finish first */
};

/* A task in wait_closed() or serve_forever(). The node lives on that task's stack; whoever
 * wakes it unlinks it first, so the woken task need not touch the server (it may be gone). */
typedef struct wait_node wait_node;
struct wait_node {
    weir__waiter waiter;
    wait_node *prev, *next;
    bool linked;
};

struct weir_server {
    weir_loop *loop;
    const weir_net_ops *net;
    void *impl;
    weir_listener *listener; /* NULL once closed */
    weir_handler handler;
    void *arg;
    int64_t limit;            /* the readers' */
    struct weir_tls_ctx *tls; /* a reference, or NULL for plain connections */
    weir__tls_params tls_params;
    void *task_data; /* weir__task_data of the task that started the server */
    size_t accepted, active;
    conn *conns;        /* running handlers, newest first */
    wait_node *closers; /* tasks in wait_closed(), a list through next/prev */
    wait_node *forever; /* the task in serve_forever(), or NULL */
};

/* --- waiting ----------------------------------------------------------------------- */

static void node_push(wait_node **head, wait_node *n) {
    n->prev = NULL;
    n->next = *head;
    if (*head) (*head)->prev = n;
    *head = n;
    n->linked = true;
}

static void node_unlink(wait_node **head, wait_node *n) {
    if (!n->linked) return;
    if (n->prev)
        n->prev->next = n->next;
    else
        *head = n->next;
    if (n->next) n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->linked = false;
}

/* Wake every task in wait_closed(), oldest first (the list is newest first). */
static void wake_closers(weir_server *s, int result) {
    wait_node *n = s->closers;
    while (n && n->next) n = n->next;
    while (n) {
        wait_node *prev = n->prev;
        node_unlink(&s->closers, n);
        weir__wake(&n->waiter, result);
        n = prev;
    }
}

static void wake_forever(weir_server *s, int result) {
    wait_node *n = s->forever;
    if (!n) return;
    s->forever = NULL;
    n->linked = false;
    weir__wake(&n->waiter, result);
}

static bool fully_closed(const weir_server *s) { return !s->listener && s->active == 0; }

/* --- one task per connection ------------------------------------------------------- */

static void conn_unlink(weir_server *s, conn *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static int conn_main(void *arg) {
    conn *c = arg;
    /* A handler cancelled before it started (the server was freed in the same tick it
     * accepted) is not run at all, as asyncio never starts a cancelled task's coroutine. */
    int rc = WEIR_ECANCELED;
    if (!weir_task_cancelled(weir_task_current())) {
        /* TLS: the handshake first, in this task; when it fails the handler never runs and
         * the connection is closed below (asyncio does not call client_connected_cb). */
        rc = c->tls ? c->tls->handshake(c->w) : WEIR_OK;
        if (rc == 0) rc = c->handler(c->r, c->w, c->arg);
    }
    if (!weir_writer_is_closing(c->w)) weir_writer_close(c->w);
    /* Lets the close flush; fails at once when cancelled, and then the free aborts. */
    (void)weir_wait_closed(c->w);
    weir_writer_free(c->w);
    weir_server *s = c->server;
    if (s) {
        conn_unlink(s, c);
        s->active--;
        if (fully_closed(s)) wake_closers(s, WEIR_OK);
    }
    free(c);
    return rc;
}

/* A transport the server will not serve: nobody is its protocol, so free it directly. */
static void drop_transport(weir_transport *t) {
    t->protocol = NULL;
    if (t->ops && t->ops->abort) t->ops->abort(t);
    if (t->ops && t->ops->free) t->ops->free(t);
}

/* The backend's accept callback: runs on the loop, outside any task. */
static void on_accept(void *arg, weir_transport *t) {
    weir_server *s = arg;
    if (!t) return;
    if (!s->listener) {
        drop_transport(t); /* a backend that delivers after listener_close */
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        drop_transport(t);
        return;
    }
    if (weir_stream_open(s->loop, t, s->limit, &c->r, &c->w) != 0) {
        drop_transport(t);
        free(c);
        return;
    }
    /* TLS goes on here, in the accept callback, before the transport can deliver a byte
     * to the plain stream; the handshake then runs on its own and conn_main waits for it. */
    if (s->tls) {
        c->tls = weir__tls_head_of(s->tls)->hooks;
        if (c->tls->attach(c->w, s->loop, s->tls, &s->tls_params) != 0) {
            weir_writer_free(c->w);
            free(c);
            return;
        }
    }
    c->server = s;
    c->handler = s->handler;
    c->arg = s->arg;
    weir_task_opts topts = {.name = "server handler"};
    if (weir_spawn(s->loop, conn_main, c, &topts, &c->task) != 0) {
        weir_writer_free(c->w); /* out of memory, or the loop is being freed */
        free(c);
        return;
    }
    /* Spawned from a callback, the task inherited nobody's data; give it the data of the
     * task that started the server (the simulator: the host it listens on), and nothing
     * of whatever task happened to be running. */
    weir__task_set_data(c->task, s->task_data);
    weir_task_detach(c->task);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->accepted++;
    s->active++;
}

/* --- starting ---------------------------------------------------------------------- */

static int start(weir_loop *loop, weir_handler handler, void *arg, const weir_endpoint *ep,
                 const weir_server_opts *opts, weir_server **out) {
    weir_server_opts o = opts ? *opts : (weir_server_opts){0};
    if (o.limit < 0 || o.backlog < 0) return WEIR_EINVAL;
    if (o.tls_handshake_timeout < 0 || o.tls_shutdown_timeout < 0) return WEIR_EINVAL;
    /* asyncio: TLS timeouts without ssl= are a ValueError; a client context serves nobody. */
    if (!o.tls && (o.tls_handshake_timeout || o.tls_shutdown_timeout)) return WEIR_EINVAL;
    if (o.tls && !weir__tls_head_of(o.tls)->server) return WEIR_EINVAL;
    if (o.limit == 0) o.limit = WEIR_DEFAULT_LIMIT;
    if (o.backlog == 0) o.backlog = DEFAULT_BACKLOG;
    if (!loop) loop = weir_current_loop();
    if (!loop) return WEIR_ENOTASK;
    void *impl;
    const weir_net_ops *net = weir__loop_net(loop, &impl);
    if (!net || !net->listen || !net->listener_close) return WEIR_ENOTSUP;

    weir_server *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    s->loop = loop;
    s->net = net;
    s->impl = impl;
    s->handler = handler;
    s->arg = arg;
    s->limit = o.limit;
    s->tls = o.tls;
    s->tls_params = (weir__tls_params){.handshake_timeout = o.tls_handshake_timeout,
                                       .shutdown_timeout = o.tls_shutdown_timeout};
    /* Only a task on this loop has data that means anything to its backend. */
    if (weir_current_loop() == loop) s->task_data = weir__task_data(weir_task_current());
    weir_listener *l = NULL;
    int rc = net->listen(impl, loop, ep, &o, on_accept, s, &l);
    if (rc == 0 && !l) rc = WEIR_EIO; /* success without a listener: a backend bug */
    if (rc) {
        free(s);
        return rc;
    }
    s->listener = l;
    if (s->tls) weir__tls_head_of(s->tls)->hooks->retain(s->tls);
    *out = s;
    return WEIR_OK;
}

int weir_start_server(weir_loop *loop, weir_handler handler, void *arg, const char *host, int port,
                      const weir_server_opts *opts, weir_server **out) {
    if (out) *out = NULL;
    if (!out || !handler || !weir__port_ok(port)) return WEIR_EINVAL;
    weir_endpoint ep = {.host = host, .port = port};
    return start(loop, handler, arg, &ep, opts, out);
}

int weir_start_unix_server(weir_loop *loop, weir_handler handler, void *arg, const char *path,
                           const weir_server_opts *opts, weir_server **out) {
    if (out) *out = NULL;
    if (!out || !handler || !path || !*path) return WEIR_EINVAL;
    weir_endpoint ep = {.path = path};
    return start(loop, handler, arg, &ep, opts, out);
}

/* --- closing and waiting ----------------------------------------------------------- */

void weir_server_close(weir_server *s) {
    if (!s || !s->listener) return;
    weir_listener *l = s->listener;
    s->listener = NULL;
    s->net->listener_close(s->impl, l);
    wake_forever(s, WEIR_OK);
    if (fully_closed(s)) wake_closers(s, WEIR_OK);
}

int weir_server_wait_closed(weir_server *s) {
    if (!s) return WEIR_EINVAL;
    if (fully_closed(s)) return WEIR_OK;
    if (!weir_task_current()) return WEIR_EAGAIN;
    wait_node n = {.waiter.what = "server wait_closed"};
    node_push(&s->closers, &n);
    int rc = weir__wait(&n.waiter);
    /* Still linked: cancelled or timed out, so the server is still there to unlink from. */
    if (n.linked) node_unlink(&s->closers, &n);
    return rc;
}

int weir_server_serve_forever(weir_server *s) {
    if (!s) return WEIR_EINVAL;
    if (!weir_task_current()) return WEIR_ENOTASK;
    if (!s->listener) return WEIR_ESTATE; /* asyncio: RuntimeError, "server is closed" */
    if (s->forever) return WEIR_EBUSY;    /* asyncio: "already being awaited" */
    wait_node n = {.waiter.what = "serve_forever"};
    s->forever = &n;
    n.linked = true;
    int rc = weir__wait(&n.waiter);
    if (n.linked) {
        /* Cancelled or past the deadline: asyncio closes the server on the way out. */
        s->forever = NULL;
        n.linked = false;
        weir_server_close(s);
    }
    return rc;
}

/* --- accessors --------------------------------------------------------------------- */

bool weir_server_is_serving(const weir_server *s) { return s && s->listener; }

const char *weir_server_address(const weir_server *s, size_t i) {
    if (!s || !s->listener || !s->net->listener_addresses) return NULL;
    const char *none[1];
    size_t n = s->net->listener_addresses(s->impl, s->listener, none, 0);
    if (i >= n) return NULL;
    const char **all = malloc(n * sizeof *all);
    if (!all) return NULL;
    size_t got = s->net->listener_addresses(s->impl, s->listener, all, n);
    const char *a = i < got ? all[i] : NULL;
    free(all);
    return a;
}

int weir_server_port(const weir_server *s) {
    if (!s || !s->listener || !s->net->listener_port) return -1;
    return s->net->listener_port(s->impl, s->listener);
}

size_t weir_server_accepted(const weir_server *s) { return s ? s->accepted : 0; }

size_t weir_server_active(const weir_server *s) { return s ? s->active : 0; }

/* --- freeing ----------------------------------------------------------------------- */

void weir_server_free(weir_server *s) {
    if (!s) return;
    weir_server_close(s);
    /* Running handlers are cancelled and cut loose: each finishes on its own (its blocking
     * calls now fail at once), releases its connection and forgets the server. */
    conn *c = s->conns;
    while (c) {
        conn *next = c->next;
        c->server = NULL;
        c->prev = c->next = NULL;
        weir_task_cancel(c->task);
        c = next;
    }
    s->conns = NULL;
    s->active = 0;
    /* Nothing is left to wait for. */
    wake_closers(s, WEIR_OK);
    if (s->tls) weir__tls_head_of(s->tls)->hooks->release(s->tls);
    free(s);
}
