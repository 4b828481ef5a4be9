/* sim/net.c - the simulated network: connect, listen, accept.
 *
 * A connect (always from a task) resolves its target as seen from the task's host, waits
 * the link's connection set-up delay (drawn), and then, at the moment its SYN arrives,
 * looks for a listener: none means WEIR_ECONNREFUSED. An attempt that reaches a listener is
 * counted by the faults it matches and may draw their probabilities (sim/fault.c); a REFUSE
 * fault that fires, or a full accept backlog, refuses it too (Linux would drop the SYN and
 * let the client retry unless tcp_abort_on_overflow is set; refusing at once keeps a run
 * short and the outcome visible). Otherwise the client gets its transport at once and the
 * server's goes into the listener's accept queue, handed to on_accept on a later tick.
 *
 * Unix sockets live in one path namespace per simulator. They are placed on the host of the
 * task that listens, and links and faults between the two hosts apply to them (port 0). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sim/net_internal.h"

#define DEFAULT_BACKLOG 100

static simnet *net_of(weir_loop *loop) {
    weir_sim *s = loop ? weir__sim_of(loop) : NULL;
    return s ? s->net : NULL;
}

/* --- life cycle --------------------------------------------------------------------- */

int weir__simnet_new(weir_sim *s) {
    simnet *net = calloc(1, sizeof *net);
    if (!net) return WEIR_ENOMEM;
    net->s = s;
    int rc = weir__hosts_init(net);
    if (rc) {
        free(net);
        return rc;
    }
    s->net = net;
    return WEIR_OK;
}

static void listener_free(sim_listener *l) {
    for (size_t i = 0; i < l->ntexts; i++) free(l->texts[i]);
    free(l->texts);
    free(l->path);
    free(l);
}

void weir__simnet_free(weir_sim *s) {
    if (!s || !s->net) return;
    simnet *net = s->net;
    /* The loop is gone (sim.c frees it first): connections and listeners are only memory. */
    while (net->conns) {
        net->conns->pending_on = NULL;
        weir__conn_destroy(net->conns);
    }
    while (net->listeners) {
        sim_listener *l = net->listeners;
        net->listeners = l->next;
        listener_free(l);
    }
    weir__faults_free(net);
    weir__links_free(net);
    weir__hosts_free(net);
    free(net);
    s->net = NULL;
}

/* --- addresses as text -------------------------------------------------------------- */

static const char *loopback_text(int family) { return family == AF_INET6 ? "::1" : "127.0.0.1"; }

/* h's first address of `family`, else its first address, else NULL. */
static const sim_addr *addr_of_family(const sim_host *h, int family) {
    for (size_t i = 0; i < h->naddrs; i++)
        if (h->addrs[i].family == family) return &h->addrs[i];
    return h->naddrs ? &h->addrs[0] : NULL;
}

/* An address (or the host's name when it has none) as the text of a socket name. */
typedef struct sockaddr_text {
    const char *addr;
    int family;
} sockaddr_text;

static sockaddr_text text_of(const sim_host *h, const sim_addr *a) {
    if (a) return (sockaddr_text){a->text, a->family};
    return (sockaddr_text){h->name, 0};
}

/* --- listeners ---------------------------------------------------------------------- */

static bool binds_overlap(const sim_listener *a, bind_kind kind, const sim_addr *addr) {
    if (a->bind == BIND_ANY || kind == BIND_ANY) return true;
    if (a->bind != kind) return false;
    return kind == BIND_LOOPBACK || a->addr == addr;
}

static bool port_taken(simnet *net, const sim_host *h, int port, bind_kind kind,
                       const sim_addr *addr) {
    for (sim_listener *l = net->listeners; l; l = l->next)
        if (!l->path && l->host == h && l->port == port && binds_overlap(l, kind, addr))
            return true;
    return false;
}

static sim_listener *unix_listener(simnet *net, const char *path) {
    for (sim_listener *l = net->listeners; l; l = l->next)
        if (l->path && strcmp(l->path, path) == 0) return l;
    return NULL;
}

static int add_text(sim_listener *l, const char *addr, int family, int port) {
    char buf[320];
    if (l->path)
        snprintf(buf, sizeof buf, "%s", l->path);
    else
        weir__fmt_hostport(buf, sizeof buf, addr, family, port);
    char **texts = realloc(l->texts, (l->ntexts + 1) * sizeof *texts);
    if (!texts) return WEIR_ENOMEM;
    l->texts = texts;
    if (!(l->texts[l->ntexts] = strdup(buf))) return WEIR_ENOMEM;
    l->ntexts++;
    return WEIR_OK;
}

static int build_texts(sim_listener *l) {
    if (l->path) return add_text(l, NULL, 0, 0);
    switch (l->bind) {
        case BIND_ADDR:
            return add_text(l, l->addr->text, l->addr->family, l->port);
        case BIND_LOOPBACK:
            return add_text(l, loopback_text(l->family), l->family, l->port);
        case BIND_ANY:
            break;
    }
    if (l->host->naddrs == 0) return add_text(l, l->host->name, 0, l->port);
    for (size_t i = 0; i < l->host->naddrs; i++) {
        int rc = add_text(l, l->host->addrs[i].text, l->host->addrs[i].family, l->port);
        if (rc) return rc;
    }
    return WEIR_OK;
}

static void accept_timer(weir_timer *timer, void *arg);

static int net_listen(void *impl, weir_loop *loop, const weir_endpoint *ep,
                      const weir_server_opts *opts, weir_accept_fn on_accept, void *arg,
                      weir_listener **out) {
    (void)impl;
    if (out) *out = NULL;
    simnet *net = net_of(loop);
    if (!net || !ep || !on_accept || !out) return WEIR_EINVAL;
    if (opts && opts->backlog < 0) return WEIR_EINVAL;
    /* Outside any task (or in a task of another loop) we listen on the implicit host. */
    weir_task *self = weir_current_loop() == loop ? weir_task_current() : NULL;
    sim_listener *l = calloc(1, sizeof *l);
    if (!l) return WEIR_ENOMEM;
    l->net = net;
    l->host = weir__host_of_task(net, self);
    l->bind = BIND_ANY;
    l->backlog = opts && opts->backlog > 0 ? opts->backlog : DEFAULT_BACKLOG;
    l->on_accept = on_accept;
    l->arg = arg;
    int rc = WEIR_OK;
    if (ep->path) {
        if (!*ep->path)
            rc = WEIR_EINVAL;
        else if (unix_listener(net, ep->path))
            rc = WEIR_EADDRINUSE;
        else if (!(l->path = strdup(ep->path)))
            rc = WEIR_ENOMEM;
    } else {
        const char *h = ep->host;
        if (ep->port < 0 || ep->port > 65535) rc = WEIR_EINVAL;
        if (!rc && h && *h && strcmp(h, "0.0.0.0") != 0 && strcmp(h, "::") != 0) {
            sim_target tgt;
            rc = weir__host_resolve(net, l->host, h, &tgt);
            /* Binding an address nobody has: Linux says EADDRNOTAVAIL. */
            if (rc == WEIR_EHOSTUNREACH) rc = WEIR_ENOENT;
            if (!rc) {
                /* The address or name says which host: a listen may be set up from
                 * outside the host it serves on (a test's main, a scenario). */
                l->host = tgt.host;
                if (tgt.loopback) {
                    /* "localhost" binds the IPv4 loopback, as it resolves first there. */
                    l->bind = BIND_LOOPBACK;
                    l->family = tgt.family ? tgt.family : AF_INET;
                } else if (tgt.addr) {
                    l->bind = BIND_ADDR;
                    l->addr = tgt.addr;
                }
            }
        }
        if (!rc && ep->port == 0) {
            int tries = 65536 - WEIR__EPHEMERAL_LO, port = 0;
            while (tries-- > 0) {
                port = weir__host_next_port(l->host);
                if (!port_taken(net, l->host, port, l->bind, l->addr)) break;
                port = 0;
            }
            if (port == 0) rc = WEIR_EADDRINUSE;
            l->port = port;
        } else if (!rc) {
            l->port = ep->port;
            if (port_taken(net, l->host, l->port, l->bind, l->addr)) rc = WEIR_EADDRINUSE;
        }
    }
    if (!rc) rc = build_texts(l);
    if (rc) {
        listener_free(l);
        return rc;
    }
    l->next = net->listeners;
    if (net->listeners) net->listeners->prev = l;
    net->listeners = l;
    *out = (weir_listener *)l;
    return WEIR_OK;
}

static size_t net_listener_addresses(void *impl, weir_listener *wl, const char **out, size_t n) {
    (void)impl;
    sim_listener *l = (sim_listener *)wl;
    if (!l) return 0;
    for (size_t i = 0; i < n && i < l->ntexts; i++) out[i] = l->texts[i];
    return l->ntexts;
}

static int net_listener_port(void *impl, weir_listener *wl) {
    (void)impl;
    sim_listener *l = (sim_listener *)wl;
    return !l || l->path ? -1 : l->port;
}

/* A connection still in the accept queue when the listener goes is reset, as Linux resets
 * the connections of a listening socket's queue when it is closed. */
static void drop_pending(sim_listener *l) {
    sim_conn *c;
    while ((c = l->pending_head) != NULL) {
        l->pending_head = c->pending_next;
        c->pending_on = NULL;
        c->pending_next = NULL;
        weir_transport *t = &c->end[1].t;
        t->ops->abort(t);
        t->ops->free(t);
    }
    l->pending_tail = NULL;
    l->npending = 0;
}

static void net_listener_close(void *impl, weir_listener *wl) {
    (void)impl;
    sim_listener *l = (sim_listener *)wl;
    if (!l || l->closed) return;
    simnet *net = l->net;
    l->closed = true;
    if (l->prev)
        l->prev->next = l->next;
    else if (net->listeners == l)
        net->listeners = l->next;
    if (l->next) l->next->prev = l->prev;
    l->prev = l->next = NULL;
    weir_timer_stop(weir__net_loop(net), &l->timer);
    drop_pending(l);
    if (!l->accepting) listener_free(l);
}

static void accept_timer(weir_timer *timer, void *arg) {
    (void)timer;
    sim_listener *l = arg;
    l->accepting = true;
    while (!l->closed && l->pending_head) {
        sim_conn *c = l->pending_head;
        l->pending_head = c->pending_next;
        if (!l->pending_head) l->pending_tail = NULL;
        l->npending--;
        c->pending_on = NULL;
        c->pending_next = NULL;
        sim_end *e = &c->end[1];
        weir__conn_record(c, WEIR__TR_ACCEPT, -1, 0, 0, NULL, 0, e->sockname);
        c->depth++;
        l->on_accept(l->arg, &e->t);
        if (!e->freed) weir__end_hand(e);
        c->depth--;
        weir__conn_maybe_free(c);
    }
    l->accepting = false;
    if (l->closed) listener_free(l);
}

/* --- connecting --------------------------------------------------------------------- */

typedef struct connect_wait {
    weir__waiter waiter;
    weir_timer timer;
} connect_wait;

static void connect_timer(weir_timer *timer, void *arg) {
    (void)timer;
    weir__wake(arg, WEIR_OK);
}

/* Block the running task until `when` (always at least until a later tick). */
static int wait_until(simnet *net, int64_t when) {
    weir_loop *loop = weir__net_loop(net);
    connect_wait cw = {.waiter = {.what = "connect"}};
    weir_timer_start(loop, &cw.timer, when, connect_timer, &cw.waiter);
    int rc = weir__wait(&cw.waiter);
    weir_timer_stop(loop, &cw.timer);
    return rc;
}

/* The listener a TCP target reaches on `port` now, and the address it is reached at. */
static sim_listener *tcp_listener(simnet *net, const sim_target *tgt, int port,
                                  const sim_addr **reached) {
    *reached = tgt->addr;
    for (sim_listener *l = net->listeners; l; l = l->next) {
        if (l->path || l->host != tgt->host || l->port != port) continue;
        if (tgt->loopback) {
            if (l->bind == BIND_ADDR) continue;
        } else if (tgt->addr) {
            if (l->bind == BIND_LOOPBACK || (l->bind == BIND_ADDR && l->addr != tgt->addr))
                continue;
        } else {
            /* By name: any of the host's addresses will do. */
            if (l->bind == BIND_LOOPBACK) continue;
            if (l->bind == BIND_ADDR) *reached = l->addr;
        }
        return l;
    }
    return NULL;
}

static void record_refused(simnet *net, uint64_t conn, const char *from, const char *to,
                           const char *why) {
    char note[400];
    snprintf(note, sizeof note, "%s -> %s: %s", from, to, why);
    weir__trace_rec r = {.kind = WEIR__TR_REFUSED, .conn = conn, .dir = -1, .note = note};
    weir__sim_record(net->s, &r);
}

/* Socket names of both ends of c: client and server address texts and ports. */
static void name_ends(sim_conn *c, sockaddr_text client, int cport, sockaddr_text server, int sport,
                      const char *path) {
    sim_end *ce = &c->end[0], *se = &c->end[1];
    if (path) {
        /* A client's Unix socket is unnamed: asyncio reports '' for it. */
        snprintf(ce->peername, sizeof ce->peername, "%s", path);
        snprintf(se->sockname, sizeof se->sockname, "%s", path);
        return;
    }
    weir__fmt_hostport(ce->sockname, sizeof ce->sockname, client.addr, client.family, cport);
    weir__fmt_hostport(ce->peername, sizeof ce->peername, server.addr, server.family, sport);
    memcpy(se->sockname, ce->peername, sizeof se->sockname);
    memcpy(se->peername, ce->sockname, sizeof se->peername);
}

static int net_connect(void *impl, weir_loop *loop, const weir_endpoint *ep,
                       const weir_open_opts *opts, weir_transport **out) {
    (void)impl;
    if (out) *out = NULL;
    simnet *net = net_of(loop);
    if (!net || !ep || !out) return WEIR_EINVAL;
    weir_task *self = weir_task_current();
    if (!self || weir_current_loop() != loop) return WEIR_ENOTASK;
    sim_host *client = weir__host_of_task(net, self);
    const sim_addr *client_addr = NULL;
    int client_port = 0;
    if (opts && opts->local_host && *opts->local_host) {
        sim_target lt;
        int rc = weir__host_resolve(net, client, opts->local_host, &lt);
        if (rc) return rc == WEIR_EHOSTUNREACH ? WEIR_EINVAL : rc;
        client = lt.host;
        client_addr = lt.addr;
    }
    if (opts && opts->local_port > 0) client_port = opts->local_port;

    /* Where to: a path in the namespace, or a host resolved from the client's host. */
    sim_target tgt = {0};
    sim_host *server;
    if (ep->path) {
        if (!*ep->path) return WEIR_EINVAL;
        sim_listener *l = unix_listener(net, ep->path);
        if (!l) return WEIR_ENOENT; /* no socket file there */
        server = l->host;
    } else {
        if (!ep->host || !*ep->host || ep->port <= 0 || ep->port > 65535) return WEIR_EINVAL;
        int rc = weir__host_resolve(net, client, ep->host, &tgt);
        if (rc) return rc;
        server = tgt.host;
    }

    weir_sim_link link = weir__link_for(net, client, server);
    int64_t delay = weir__sim_range(net->s, "connect delay", link.connect_delay);
    int rc = wait_until(net, weir__net_now(net) + delay);
    if (rc) return rc;

    /* The SYN arrives: who listens now? */
    const sim_addr *reached = NULL;
    sim_listener *l =
        ep->path ? unix_listener(net, ep->path) : tcp_listener(net, &tgt, ep->port, &reached);
    const char *to_text = ep->path ? ep->path : ep->host;
    char to_buf[320];
    if (!ep->path) {
        weir__fmt_hostport(to_buf, sizeof to_buf, ep->host, strchr(ep->host, ':') ? AF_INET6 : 0,
                           ep->port);
        to_text = to_buf;
    }
    if (!l) {
        record_refused(net, 0, client->name, to_text, "no listener");
        return WEIR_ECONNREFUSED;
    }
    sim_conn *c;
    rc = weir__conn_new(net, client, l->host, ep->path ? 0 : ep->port, &c);
    if (rc) return rc;
    int refused = weir__faults_arm(net, c);
    const char *why = NULL;
    char fault_why[32];
    if (refused > 0) {
        snprintf(fault_why, sizeof fault_why, "fault %d", refused);
        why = fault_why;
    } else if (l->npending >= l->backlog) {
        why = "backlog full";
    }
    if (refused < 0 || why) {
        if (why) record_refused(net, c->id, client->name, to_text, why);
        weir__conn_destroy(c);
        return refused < 0 ? refused : WEIR_ECONNREFUSED;
    }

    /* Names: the server as reached, the client in the same family. */
    sockaddr_text stext, ctext;
    if (ep->path) {
        stext = ctext = (sockaddr_text){0};
    } else if (tgt.loopback) {
        int fam = tgt.family ? tgt.family : AF_INET;
        stext = ctext = (sockaddr_text){loopback_text(fam), fam};
    } else {
        if (!reached) reached = addr_of_family(l->host, AF_INET);
        stext = text_of(l->host, reached);
        ctext = text_of(client, client_addr
                                    ? client_addr
                                    : addr_of_family(client, reached ? reached->family : AF_INET));
    }
    if (!ep->path && client_port == 0) client_port = weir__host_next_port(client);
    name_ends(c, ctext, client_port, stext, ep->port, ep->path);
    char note[400];
    snprintf(note, sizeof note, "%s -> %s", ep->path ? client->name : c->end[0].sockname,
             ep->path ? ep->path : c->end[0].peername);
    weir__conn_record(c, WEIR__TR_CONNECT, -1, 0, 0, NULL, 0, note);

    /* Into the accept queue; handed over on a later tick. */
    c->pending_on = l;
    if (l->pending_tail)
        l->pending_tail->pending_next = c;
    else
        l->pending_head = c;
    l->pending_tail = c;
    l->npending++;
    if (!weir_timer_armed(&l->timer))
        weir_timer_start(loop, &l->timer, weir__net_now(net), accept_timer, l);

    c->end[0].handed = true;
    weir__faults_start(c);
    *out = &c->end[0].t;
    return WEIR_OK;
}

const weir_net_ops weir__simnet_ops = {
    .connect = net_connect,
    .listen = net_listen,
    .listener_addresses = net_listener_addresses,
    .listener_port = net_listener_port,
    .listener_close = net_listener_close,
};
