/* tests/unit/test_server.c - open_connection and start_server on a fake network backend,
 * and the bundled clients against the bundled servers.
 *
 * The fake backend is a virtual clock plus weir_net_ops over the in-memory pipe: connect
 * finds a listener, makes a pipe, and hands one end to the listener's accept callback after
 * `accept_delay` (a timer, so on a later tick), blocking the connecting task until then.
 * Closing a listener refuses the connects still waiting. That is all a server needs to be
 * tested before the simulator exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/stream_internal.h"
#include "runner/handlers.h"
#include "tap.h"
#include "weir/handlers.h"
#include "weir/net.h"

/* --- the fake network ------------------------------------------------------------------ */

typedef struct fake_listener fake_listener;
typedef struct pending pending;

typedef struct fakenet {
    int64_t now;
    fake_listener *listeners;
    int next_port;        /* for port 0 */
    int64_t accept_delay; /* ns from connect to accept */
    size_t capacity;      /* the pipes' */
    size_t connects;      /* connect calls that reached a listener */
} fakenet;

struct fake_listener {
    fakenet *net;
    fake_listener *next;
    char *host, *path;
    int port;
    char addr[128];
    weir_accept_fn on_accept;
    void *arg;
    pending *pendings; /* connects not yet accepted */
    weir_loop *loop;
};

typedef enum { P_WAITING, P_ACCEPTED, P_REFUSED } pending_state;

/* A connect in progress; lives on the connecting task's stack. */
struct pending {
    pending *next;
    fake_listener *l;
    pending_state state;
    weir_transport *ends[2]; /* [0] the client's, [1] the server's */
    weir__waiter waiter;
    weir_timer timer;
};

static void drop_end(weir_transport *t) {
    t->protocol = NULL;
    t->ops->abort(t);
    t->ops->free(t);
}

static void pending_unlink(pending *p) {
    for (pending **q = &p->l->pendings; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            return;
        }
}

static void accept_fired(weir_timer *timer, void *arg) {
    (void)timer;
    pending *p = arg;
    fake_listener *l = p->l;
    pending_unlink(p);
    p->state = P_ACCEPTED;
    l->on_accept(l->arg, p->ends[1]);
    weir__wake(&p->waiter, WEIR_OK);
}

static bool host_matches(const fake_listener *l, const char *host) {
    return !l->host || (host && strcmp(l->host, host) == 0);
}

static fake_listener *find_listener(fakenet *n, const weir_endpoint *ep) {
    for (fake_listener *l = n->listeners; l; l = l->next) {
        if (ep->path ? l->path && strcmp(l->path, ep->path) == 0
                     : !l->path && l->port == ep->port && host_matches(l, ep->host))
            return l;
    }
    return NULL;
}

static int fake_connect(void *impl, weir_loop *loop, const weir_endpoint *ep,
                        const weir_open_opts *opts, weir_transport **out) {
    (void)opts;
    fakenet *n = impl;
    fake_listener *l = find_listener(n, ep);
    if (!l) return WEIR_ECONNREFUSED;
    n->connects++;
    pending p = {.l = l, .waiter.what = "connect"};
    int rc = weir__mempipe_new(loop, n->capacity, p.ends);
    if (rc) return rc;
    p.next = l->pendings;
    l->pendings = &p;
    weir_timer_start(loop, &p.timer, weir_loop_now(loop) + n->accept_delay, accept_fired, &p);
    rc = weir__wait(&p.waiter);
    switch (p.state) {
        case P_WAITING: /* cancelled or timed out: take the connect back */
            weir_timer_stop(loop, &p.timer);
            pending_unlink(&p);
            drop_end(p.ends[1]);
            drop_end(p.ends[0]);
            return rc ? rc : WEIR_EIO;
        case P_REFUSED: /* the listener closed first and dropped the server's end */
            drop_end(p.ends[0]);
            return rc ? rc : WEIR_ECONNREFUSED;
        case P_ACCEPTED:
            if (rc) { /* accepted, but the task was cancelled meanwhile */
                drop_end(p.ends[0]);
                return rc;
            }
            *out = p.ends[0];
            return WEIR_OK;
    }
    return WEIR_EIO;
}

static int fake_listen(void *impl, weir_loop *loop, const weir_endpoint *ep,
                       const weir_server_opts *opts, weir_accept_fn on_accept, void *arg,
                       weir_listener **out) {
    (void)opts;
    fakenet *n = impl;
    weir_endpoint probe = *ep;
    if (!ep->path && ep->port == 0) probe.port = n->next_port++;
    if (find_listener(n, &probe)) return WEIR_EADDRINUSE;
    fake_listener *l = calloc(1, sizeof *l);
    if (!l) return WEIR_ENOMEM;
    l->net = n;
    l->loop = loop;
    l->port = ep->path ? -1 : probe.port;
    l->host = ep->host ? strdup(ep->host) : NULL;
    l->path = ep->path ? strdup(ep->path) : NULL;
    if (ep->path)
        snprintf(l->addr, sizeof l->addr, "%s", ep->path);
    else
        snprintf(l->addr, sizeof l->addr, "%s:%d", ep->host ? ep->host : "0.0.0.0", l->port);
    l->on_accept = on_accept;
    l->arg = arg;
    l->next = n->listeners;
    n->listeners = l;
    *out = (weir_listener *)l;
    return WEIR_OK;
}

static size_t fake_addresses(void *impl, weir_listener *wl, const char **out, size_t n) {
    (void)impl;
    fake_listener *l = (fake_listener *)wl;
    if (n > 0) out[0] = l->addr;
    return 1;
}

static int fake_port(void *impl, weir_listener *wl) {
    (void)impl;
    return ((fake_listener *)wl)->port;
}

static void fake_listener_close(void *impl, weir_listener *wl) {
    fakenet *n = impl;
    fake_listener *l = (fake_listener *)wl;
    for (fake_listener **q = &n->listeners; *q; q = &(*q)->next)
        if (*q == l) {
            *q = l->next;
            break;
        }
    while (l->pendings) {
        pending *p = l->pendings;
        l->pendings = p->next;
        weir_timer_stop(l->loop, &p->timer);
        drop_end(p->ends[1]);
        p->state = P_REFUSED;
        weir__wake(&p->waiter, WEIR_ECONNREFUSED);
    }
    free(l->host);
    free(l->path);
    free(l);
}

static const weir_net_ops fake_net_ops = {
    .connect = fake_connect,
    .listen = fake_listen,
    .listener_addresses = fake_addresses,
    .listener_port = fake_port,
    .listener_close = fake_listener_close,
};

static int64_t fake_now(void *impl) { return ((fakenet *)impl)->now; }

static int fake_wait(void *impl, weir_loop *loop, int64_t deadline) {
    (void)loop;
    fakenet *n = impl;
    if (deadline == WEIR_FOREVER) return 0;
    if (deadline > n->now) n->now = deadline;
    return 1;
}

static void fake_free(void *impl) {
    fakenet *n = impl;
    if (n->listeners) fprintf(stderr, "fakenet: a listener was never closed\n");
    free(n);
}

static const weir_backend_ops fake_ops = {
    .name = "fakenet",
    .now = fake_now,
    .wait = fake_wait,
    .free = fake_free,
    .net = &fake_net_ops,
};

static weir_loop *fake_loop(fakenet **net) {
    fakenet *n = calloc(1, sizeof *n);
    if (!n) abort();
    n->next_port = 40000;
    n->accept_delay = WEIR_MS;
    weir_loop *loop;
    if (weir_loop_new(&fake_ops, n, &loop)) abort();
    if (net) *net = n;
    return loop;
}

/* --- helpers --------------------------------------------------------------------------- */

static weir_task *spawn(weir_loop *loop, weir_task_fn fn, void *arg) {
    weir_task *t;
    if (weir_spawn(loop, fn, arg, NULL, &t)) abort();
    return t;
}

static int join(weir_task *t) {
    int rc = -12345;
    if (weir_join(t, &rc)) return -12346;
    return rc;
}

/* Run fn(arg) as the only task and return what it returned. */
static int run_task(weir_loop *loop, weir_task_fn fn, void *arg) {
    weir_task *t = spawn(loop, fn, arg);
    int rc = weir_loop_run(loop);
    if (rc) return rc;
    return join(t);
}

/* --- arguments and errors -------------------------------------------------------------- */

static int dummy_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r, (void)w, (void)arg;
    return 0;
}

static void test_args_outside_task(void) {
    weir_reader *r = (weir_reader *)1;
    weir_writer *w = (weir_writer *)1;
    is_int(weir_open_connection("h", 80, NULL, &r, &w), WEIR_ENOTASK, "outside a task");
    ok(!r && !w, "outputs cleared on failure");
    is_int(weir_open_unix_connection("/s", NULL, &r, &w), WEIR_ENOTASK, "unix: outside a task");
    is_int(weir_open_connection(NULL, 80, NULL, &r, &w), WEIR_EINVAL, "NULL host");
    is_int(weir_open_connection("", 80, NULL, &r, &w), WEIR_EINVAL, "empty host");
    is_int(weir_open_connection("h", 0, NULL, &r, &w), WEIR_EINVAL, "port 0");
    is_int(weir_open_connection("h", -1, NULL, &r, &w), WEIR_EINVAL, "port -1");
    is_int(weir_open_connection("h", 65536, NULL, &r, &w), WEIR_EINVAL, "port 65536");
    is_int(weir_open_connection("h", 80, NULL, NULL, &w), WEIR_EINVAL, "NULL reader out");
    is_int(weir_open_connection("h", 80, NULL, &r, NULL), WEIR_EINVAL, "NULL writer out");
    weir_open_opts bad = {.limit = -1};
    is_int(weir_open_connection("h", 80, &bad, &r, &w), WEIR_EINVAL, "negative limit");
    bad = (weir_open_opts){.connect_timeout = -5};
    is_int(weir_open_connection("h", 80, &bad, &r, &w), WEIR_EINVAL, "negative timeout");
    bad = (weir_open_opts){.local_port = 70000};
    is_int(weir_open_connection("h", 80, &bad, &r, &w), WEIR_EINVAL, "bad local port");
    is_int(weir_open_unix_connection(NULL, NULL, &r, &w), WEIR_EINVAL, "unix: NULL path");
    is_int(weir_open_unix_connection("", NULL, &r, &w), WEIR_EINVAL, "unix: empty path");

    weir_server *s = (weir_server *)1;
    is_int(weir_start_server(NULL, dummy_handler, NULL, NULL, 0, NULL, &s), WEIR_ENOTASK,
           "start_server: no loop outside a task");
    ok(s == NULL, "start_server: output cleared");
    weir_loop *loop = fake_loop(NULL);
    is_int(weir_start_server(loop, NULL, NULL, NULL, 0, NULL, &s), WEIR_EINVAL, "NULL handler");
    is_int(weir_start_server(loop, dummy_handler, NULL, NULL, 0, NULL, NULL), WEIR_EINVAL,
           "NULL out");
    is_int(weir_start_server(loop, dummy_handler, NULL, NULL, 65536, NULL, &s), WEIR_EINVAL,
           "port 65536");
    weir_server_opts sbad = {.backlog = -1};
    is_int(weir_start_server(loop, dummy_handler, NULL, NULL, 0, &sbad, &s), WEIR_EINVAL,
           "negative backlog");
    sbad = (weir_server_opts){.limit = -1};
    is_int(weir_start_server(loop, dummy_handler, NULL, NULL, 0, &sbad, &s), WEIR_EINVAL,
           "negative limit");
    is_int(weir_start_unix_server(loop, dummy_handler, NULL, "", NULL, &s), WEIR_EINVAL,
           "unix server: empty path");
    is_int(weir_start_unix_server(loop, dummy_handler, NULL, NULL, NULL, &s), WEIR_EINVAL,
           "unix server: NULL path");
    /* NULL servers are harmless everywhere. */
    weir_server_close(NULL);
    weir_server_free(NULL);
    ok(!weir_server_is_serving(NULL) && weir_server_port(NULL) == -1 &&
           !weir_server_address(NULL, 0) && weir_server_accepted(NULL) == 0 &&
           weir_server_active(NULL) == 0,
       "accessors on NULL");
    is_int(weir_server_wait_closed(NULL), WEIR_EINVAL, "wait_closed(NULL)");
    is_int(weir_server_serve_forever(NULL), WEIR_EINVAL, "serve_forever(NULL)");
    weir_loop_free(loop);
}

static int no_net_task(void *arg) {
    weir_loop *loop = arg;
    weir_reader *r;
    weir_writer *w;
    weir_server *s;
    int fails = 0;
    fails += weir_open_connection("h", 80, NULL, &r, &w) != WEIR_ENOTSUP;
    fails += weir_open_unix_connection("/s", NULL, &r, &w) != WEIR_ENOTSUP;
    fails += weir_start_server(NULL, dummy_handler, NULL, NULL, 80, NULL, &s) != WEIR_ENOTSUP;
    fails += weir_start_server(loop, dummy_handler, NULL, NULL, 80, NULL, &s) != WEIR_ENOTSUP;
    fails += weir_start_unix_server(NULL, dummy_handler, NULL, "/s", NULL, &s) != WEIR_ENOTSUP;
    return fails;
}

static void test_no_net(void) {
    weir_loop *loop;
    weir_loop_new_virtual(&loop);
    is_int(run_task(loop, no_net_task, loop), 0, "a backend without net ops: WEIR_ENOTSUP");
    weir_loop_free(loop);
}

static int refused_task(void *arg) {
    (void)arg;
    weir_reader *r;
    weir_writer *w;
    int a = weir_open_connection("nobody", 1234, NULL, &r, &w);
    int b = weir_open_unix_connection("/nowhere", NULL, &r, &w);
    return a == WEIR_ECONNREFUSED && b == WEIR_ECONNREFUSED ? 0 : -1;
}

static int cancelled_connect_task(void *arg) {
    (void)arg;
    weir_task_cancel(weir_task_current());
    weir_reader *r;
    weir_writer *w;
    return weir_open_connection("nobody", 1234, NULL, &r, &w);
}

static void test_refused_and_cancelled(void) {
    weir_loop *loop = fake_loop(NULL);
    is_int(run_task(loop, refused_task, NULL), 0, "nobody listening: WEIR_ECONNREFUSED");
    is_int(run_task(loop, cancelled_connect_task, NULL), WEIR_ECANCELED,
           "a cancelled task cannot connect");
    weir_loop_free(loop);
}

/* --- echo with many clients ------------------------------------------------------------ */

typedef struct client_job {
    weir_endpoint target;
    weir_line_client_cfg cfg;
    weir_line_client_result res;
    weir_bytes lines[20];
    char text[20][32];
    int rc;
} client_job;

static int client_main(void *arg) {
    client_job *j = arg;
    j->cfg.result = &j->res;
    j->rc = weir_line_client(&j->target, &j->cfg);
    return j->rc;
}

static void client_job_init(client_job *j, int id, size_t nlines, size_t window, int port) {
    memset(j, 0, sizeof *j);
    j->target = (weir_endpoint){.host = "127.0.0.1", .port = port};
    for (size_t i = 0; i < nlines; i++) {
        int n = snprintf(j->text[i], sizeof j->text[i], "client %d line %zu", id, i);
        j->lines[i] = weir_bytes_of(j->text[i], (size_t)n);
    }
    j->cfg = (weir_line_client_cfg){.lines = j->lines, .nlines = nlines, .window = window};
}

#define NCLIENTS 50

static void test_echo_many(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_line_echo_stats stats = {0};
    weir_server *s;
    is_int(weir_start_server(loop, weir_line_echo, &stats, "127.0.0.1", 7000, NULL, &s), 0,
           "start an echo server");
    static client_job jobs[NCLIENTS];
    weir_task *tasks[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        /* Lock-step, pipelined and all-at-once clients side by side. */
        client_job_init(&jobs[i], i, 20, (size_t)(i % 3 == 0 ? 1 : i % 3 == 1 ? 5 : 0), 7000);
        tasks[i] = spawn(loop, client_main, &jobs[i]);
    }
    is_int(weir_loop_run(loop), 0, "the loop runs to completion");
    int good = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        good += join(tasks[i]) == 0 && jobs[i].res.sent == 20 && jobs[i].res.received == 20;
    }
    is_int(good, NCLIENTS, "every client got its 20 lines back");
    is_int(weir_server_accepted(s), NCLIENTS, "accepted counts every connection");
    is_int(weir_server_active(s), 0, "no handler left running");
    is_int(stats.connections, NCLIENTS, "the echo handler ran once per connection");
    is_int(stats.lines, NCLIENTS * 20, "and echoed every line");
    ok(weir_server_is_serving(s), "still serving");
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- close, wait_closed, serve_forever --------------------------------------------------- */

/* Echo, but only after a pause: keeps a handler running while the test closes the server. */
static int slow_echo(weir_reader *r, weir_writer *w, void *arg) {
    int64_t *delay = arg;
    if (weir_sleep(*delay)) return -1;
    return weir_line_echo(r, w, NULL);
}

typedef struct close_job {
    weir_server *s;
    int64_t close_at;
    int64_t closed_at;  /* when wait_closed returned */
    size_t active_then; /* weir_server_active when it did */
    bool freed;         /* the server is freed under the waiter: do not look at it */
    int rc;
} close_job;

static int closer_task(void *arg) {
    close_job *j = arg;
    weir_sleep_until(j->close_at);
    weir_server_close(j->s);
    weir_server_close(j->s); /* idempotent */
    return 0;
}

static int wait_closed_task(void *arg) {
    close_job *j = arg;
    j->rc = weir_server_wait_closed(j->s);
    j->closed_at = weir_now();
    if (!j->freed) j->active_then = weir_server_active(j->s);
    return 0;
}

typedef struct late_job {
    int64_t at;
    int rc;
} late_job;

static int late_connect_task(void *arg) {
    late_job *j = arg;
    weir_sleep_until(j->at);
    weir_reader *r;
    weir_writer *w;
    j->rc = weir_open_connection("127.0.0.1", 7001, NULL, &r, &w);
    if (j->rc == 0) weir_writer_free(w);
    return 0;
}

static void test_close_and_wait_closed(void) {
    weir_loop *loop = fake_loop(NULL);
    int64_t delay = 100 * WEIR_MS;
    weir_server *s;
    weir_start_server(loop, slow_echo, &delay, "127.0.0.1", 7001, NULL, &s);
    is_int(weir_server_wait_closed(s), WEIR_EAGAIN, "wait_closed outside a task: EAGAIN");

    client_job early;
    client_job_init(&early, 1, 3, 0, 7001);
    close_job cj = {.s = s, .close_at = 10 * WEIR_MS};
    close_job waiter = {.s = s};
    late_job late = {.at = 20 * WEIR_MS};
    weir_task *tc = spawn(loop, client_main, &early);
    weir_task *tw = spawn(loop, wait_closed_task, &waiter);
    weir_task *tx = spawn(loop, closer_task, &cj);
    weir_task *tl = spawn(loop, late_connect_task, &late);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(join(tc), 0, "the connection accepted before close is served to the end");
    is_int(early.res.received, 3, "all its lines came back");
    is_int(late.rc, WEIR_ECONNREFUSED, "a connection after close is refused");
    is_int(waiter.rc, 0, "wait_closed returned 0");
    ok(waiter.closed_at >= 100 * WEIR_MS, "wait_closed waited for the handler (t=%lld ms)",
       (long long)(waiter.closed_at / WEIR_MS));
    is_int(waiter.active_then, 0, "no handler was running when it returned");
    ok(!weir_server_is_serving(s), "not serving after close");
    is_int(weir_server_accepted(s), 1, "one connection accepted");
    is_int(weir_server_wait_closed(s), 0, "wait_closed outside a task once closed: 0");
    join(tw), join(tx), join(tl);
    weir_server_free(s);
    weir_loop_free(loop);
}

typedef struct forever_job {
    weir_server *s;
    int rc, rc2;
    int64_t returned_at;
    bool cancel_self_first;
} forever_job;

static int forever_task(void *arg) {
    forever_job *j = arg;
    j->rc = weir_server_serve_forever(j->s);
    j->returned_at = weir_now();
    return 0;
}

static int second_forever_task(void *arg) {
    forever_job *j = arg;
    j->rc2 = weir_server_serve_forever(j->s);
    return 0;
}

static void test_serve_forever(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *s;
    weir_start_server(loop, weir_line_echo, NULL, NULL, 7002, NULL, &s);
    is_int(weir_server_serve_forever(s), WEIR_ENOTASK, "serve_forever outside a task");

    /* Returns on close, with 0; a second serve_forever meanwhile is refused. */
    forever_job fj = {.s = s};
    close_job cj = {.s = s, .close_at = 5 * WEIR_MS};
    weir_task *tf = spawn(loop, forever_task, &fj);
    weir_task *t2 = spawn(loop, second_forever_task, &fj);
    weir_task *tc = spawn(loop, closer_task, &cj);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(fj.rc, 0, "serve_forever returns 0 on close");
    is_int(fj.returned_at, 5 * WEIR_MS, "at the time of the close");
    is_int(fj.rc2, WEIR_EBUSY, "a second serve_forever: WEIR_EBUSY");
    join(tf), join(t2), join(tc);
    fj = (forever_job){.s = s};
    tf = spawn(loop, forever_task, &fj);
    weir_loop_run(loop);
    is_int(fj.rc, WEIR_ESTATE, "serve_forever on a closed server: WEIR_ESTATE");
    join(tf);
    weir_server_free(s);

    /* Returns on cancel, with WEIR_ECANCELED, and closes the server on the way out. */
    weir_start_server(loop, weir_line_echo, NULL, NULL, 7002, NULL, &s);
    fj = (forever_job){.s = s};
    tf = spawn(loop, forever_task, &fj);
    weir_loop_run_until(loop, weir_loop_now(loop) + 3 * WEIR_MS);
    ok(!weir_task_done(tf), "serve_forever blocks");
    weir_task_cancel(tf);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(fj.rc, WEIR_ECANCELED, "serve_forever returns WEIR_ECANCELED when cancelled");
    ok(!weir_server_is_serving(s), "and the server is closed");
    join(tf);
    weir_server_free(s);
    weir_loop_free(loop);
}

static int forever_deadline_task(void *arg) {
    forever_job *j = arg;
    weir_deadline_set(weir_now() + 7 * WEIR_MS);
    j->rc = weir_server_serve_forever(j->s);
    j->returned_at = weir_now();
    return 0;
}

static void test_serve_forever_deadline(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *s;
    weir_start_server(loop, weir_line_echo, NULL, NULL, 7003, NULL, &s);
    forever_job fj = {.s = s};
    weir_task *t = spawn(loop, forever_deadline_task, &fj);
    weir_loop_run(loop);
    is_int(fj.rc, WEIR_ETIMEDOUT, "serve_forever under a deadline: WEIR_ETIMEDOUT");
    is_int(fj.returned_at, 7 * WEIR_MS, "at the deadline");
    ok(!weir_server_is_serving(s), "and the server is closed");
    join(t);
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- freeing with handlers running --------------------------------------------------- */

typedef struct idle_client {
    int rc;     /* what the read after the server went away returned */
    size_t got; /* bytes of it */
    bool connected;
} idle_client;

/* Connect, send nothing, wait to hear from the server (which never talks). */
static int idle_client_task(void *arg) {
    idle_client *c = arg;
    weir_reader *r;
    weir_writer *w;
    c->rc = weir_open_connection("127.0.0.1", 7004, NULL, &r, &w);
    if (c->rc) return 0;
    c->connected = true;
    weir_bytes b;
    c->rc = weir_read(r, 100, &b);
    c->got = b.len;
    weir_writer_free(w);
    return 0;
}

static int handler_calls;

static int reading_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)w, (void)arg;
    handler_calls++;
    weir_bytes line;
    return weir_readline(r, &line); /* blocks: the clients send nothing */
}

typedef struct free_job {
    weir_server *s;
    int64_t at;
} free_job;

static int free_server_task(void *arg) {
    free_job *j = arg;
    weir_sleep_until(j->at);
    weir_server_free(j->s);
    return 0;
}

static void free_server_timer(weir_timer *timer, void *arg) {
    (void)timer;
    weir_server_free(arg);
}

static void test_free_with_handlers(void) {
    /* From a task, while three handlers are blocked in readline and two tasks wait on the
     * server. */
    weir_loop *loop = fake_loop(NULL);
    weir_server *s;
    weir_start_server(loop, reading_handler, NULL, "127.0.0.1", 7004, NULL, &s);
    handler_calls = 0;
    idle_client c[3] = {{0}};
    weir_task *tc[3];
    for (int i = 0; i < 3; i++) tc[i] = spawn(loop, idle_client_task, &c[i]);
    close_job waiter = {.s = s, .freed = true};
    forever_job fj = {.s = s};
    free_job frj = {.s = s, .at = 50 * WEIR_MS};
    weir_task *tw = spawn(loop, wait_closed_task, &waiter);
    weir_task *tf = spawn(loop, forever_task, &fj);
    weir_task *tx = spawn(loop, free_server_task, &frj);
    is_int(weir_loop_run(loop), 0, "run: every task finishes after the free");
    is_int(handler_calls, 3, "three handlers ran");
    int lost = 0;
    for (int i = 0; i < 3; i++) {
        join(tc[i]);
        /* The server's end went away: a clean EOF (empty read) or a reset, never a hang. */
        lost += c[i].connected && (c[i].rc == WEIR_ECONNRESET || (c[i].rc == 0 && !c[i].got));
    }
    is_int(lost, 3, "every client saw its connection go");
    is_int(waiter.rc, 0, "wait_closed returned 0 when the server was freed");
    is_int(fj.rc, 0, "serve_forever returned 0 when the server was freed");
    join(tw), join(tf), join(tx);
    weir_loop_free(loop);

    /* From outside the loop, with the handlers blocked, then the loop is freed. */
    loop = fake_loop(NULL);
    weir_start_server(loop, reading_handler, NULL, "127.0.0.1", 7004, NULL, &s);
    for (int i = 0; i < 3; i++) {
        c[i] = (idle_client){0};
        weir_task_detach(spawn(loop, idle_client_task, &c[i]));
    }
    weir_loop_run_until(loop, 10 * WEIR_MS);
    is_int(weir_server_active(s), 3, "three handlers running");
    weir_server_free(s);
    weir_loop_free(loop); /* ASan: no leak, no use after free */
    ok(1, "freed from outside the loop with handlers blocked");

    /* Freed in the very tick it accepted: the handler task exists but never started. */
    loop = fake_loop(NULL);
    handler_calls = 0;
    weir_start_server(loop, reading_handler, NULL, "127.0.0.1", 7004, NULL, &s);
    c[0] = (idle_client){0};
    weir_task *t = spawn(loop, idle_client_task, &c[0]);
    weir_loop_run_until(loop, 0); /* the client connects: the accept is due at 1 ms */
    /* Armed after the accept's timer, so it fires right after it, in the same tick, before
     * the handler task it spawned gets to run. */
    weir_timer tm = {0};
    weir_timer_start(loop, &tm, WEIR_MS, free_server_timer, s);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(handler_calls, 0, "a handler cancelled before it started is not run");
    ok(c[0].connected && (c[0].rc == WEIR_ECONNRESET || (c[0].rc == 0 && !c[0].got)),
       "its client sees the connection go (%d)", c[0].rc);
    join(t);
    weir_loop_free(loop);
}

/* --- the handler's writer belongs to the server ---------------------------------------- */

static int bye_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r;
    weir_writer **seen = arg;
    *seen = w;
    return weir_write(w, "bye\n", 4); /* and return without closing or freeing */
}

static int closing_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r, (void)arg;
    weir_write(w, "bye\n", 4);
    weir_writer_close(w);
    return weir_wait_closed(w);
}

typedef struct bye_job {
    int port;
    int rc;
    char got[16];
    size_t len;
    bool eof;
} bye_job;

static int bye_client(void *arg) {
    bye_job *j = arg;
    weir_reader *r;
    weir_writer *w;
    j->rc = weir_open_connection("127.0.0.1", j->port, NULL, &r, &w);
    if (j->rc) return 0;
    weir_bytes line;
    j->rc = weir_readline(r, &line);
    if (j->rc == 0) {
        j->len = line.len < sizeof j->got ? line.len : sizeof j->got;
        memcpy(j->got, line.data, j->len);
        j->rc = weir_readline(r, &line);
        j->eof = j->rc == 0 && line.len == 0;
    }
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static void test_writer_owned_by_server(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_writer *seen = NULL;
    weir_server *s1, *s2;
    weir_start_server(loop, bye_handler, &seen, "127.0.0.1", 7005, NULL, &s1);
    weir_start_server(loop, closing_handler, NULL, "127.0.0.1", 7006, NULL, &s2);
    bye_job a = {.port = 7005}, b = {.port = 7006};
    weir_task *ta = spawn(loop, bye_client, &a);
    weir_task *tb = spawn(loop, bye_client, &b);
    is_int(weir_loop_run(loop), 0, "run");
    ok(seen != NULL, "the handler got a writer");
    is_mem(a.got, a.len, "bye\n", 4, "what the handler wrote arrived");
    ok(a.eof, "then EOF: the server closed the writer the handler left open");
    is_mem(b.got, b.len, "bye\n", 4, "a handler that closes itself");
    ok(b.eof, "gets the same");
    is_int(weir_server_active(s1) + weir_server_active(s2), 0, "both handlers done");
    join(ta), join(tb);
    weir_server_free(s1);
    weir_server_free(s2);
    weir_loop_free(loop); /* ASan: the writers were freed by the servers */
}

/* A handler that frees its own server (documented as not allowed, but it must not crash):
 * it is cancelled like any other and finishes on its own. */
static int self_freeing_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r;
    weir_server **s = arg;
    weir_server_free(*s);
    *s = NULL;
    int rc = weir_write(w, "bye\n", 4); /* writing does not block: still fine */
    return rc == 0 && weir_yield() == WEIR_ECANCELED ? 0 : -1;
}

static void test_free_from_own_handler(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *s;
    weir_start_server(loop, self_freeing_handler, &s, "127.0.0.1", 7009, NULL, &s);
    bye_job a = {.port = 7009};
    weir_task *t = spawn(loop, bye_client, &a);
    is_int(weir_loop_run(loop), 0, "a handler frees its own server");
    ok(s == NULL, "it did");
    is_int(a.rc, 0, "its client still got what it wrote");
    is_mem(a.got, a.len, "bye\n", 4, "that is");
    join(t);
    weir_loop_free(loop);
}

/* --- a named client run as a task (the scenario runner's path) ---------------------- */

static void test_client_task(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_handler h;
    void *harg;
    is_int(weir_handler_lookup("line_echo", &h, &harg), 0, "look up line_echo");
    weir_server *s;
    weir_start_server(loop, h, harg, "10.0.0.1", 7010, NULL, &s);
    weir__client_run run = {.target = {.host = "10.0.0.1", .port = 7010}};
    is_int(weir_client_lookup("line_client", &run.fn, &run.arg), 0, "look up line_client");
    run.result = -99;
    is_int(run_task(loop, weir__client_task, &run), 0, "run it with weir__client_task");
    is_int(run.result, 0, "its result is left in the run struct");
    weir__client_run none = {.target = {.host = "10.0.0.1", .port = 7010}};
    is_int(run_task(loop, weir__client_task, &none), WEIR_EINVAL, "no fn: WEIR_EINVAL");
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- accessors ------------------------------------------------------------------------- */

static void test_accessors(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *s, *s2, *u;
    is_int(weir_start_server(loop, dummy_handler, NULL, "127.0.0.1", 0, NULL, &s), 0,
           "listen on port 0");
    is_int(weir_server_port(s), 40000, "the port the backend chose");
    ok(weir_server_address(s, 0) && strcmp(weir_server_address(s, 0), "127.0.0.1:40000") == 0,
       "address(0): %s", weir_server_address(s, 0));
    ok(weir_server_address(s, 1) == NULL, "address(1): NULL");
    ok(weir_server_is_serving(s), "serving");
    is_int(weir_start_server(loop, dummy_handler, NULL, "127.0.0.1", 40000, NULL, &s2),
           WEIR_EADDRINUSE, "the backend's errors come through");
    ok(s2 == NULL, "no server then");
    is_int(weir_start_unix_server(loop, dummy_handler, NULL, "/tmp/weir.sock", NULL, &u), 0,
           "a unix server");
    ok(weir_server_address(u, 0) && strcmp(weir_server_address(u, 0), "/tmp/weir.sock") == 0,
       "its address is the path");
    is_int(weir_server_port(u), -1, "and it has no port");
    weir_server_close(s);
    is_int(weir_server_port(s), -1, "no port once closed");
    ok(weir_server_address(s, 0) == NULL, "no address once closed");
    weir_server_free(s);
    weir_server_free(u);
    weir_loop_free(loop);
}

/* --- connect timeout ------------------------------------------------------------------- */

typedef struct timeout_job {
    int64_t connect_timeout;
    int64_t task_deadline; /* 0 = none */
    int rc;
    int64_t at;
    int64_t deadline_after;
} timeout_job;

static int timeout_task(void *arg) {
    timeout_job *j = arg;
    if (j->task_deadline) weir_deadline_set(j->task_deadline);
    weir_open_opts o = {.connect_timeout = j->connect_timeout};
    weir_reader *r;
    weir_writer *w;
    j->rc = weir_open_connection("127.0.0.1", 7007, &o, &r, &w);
    j->at = weir_now();
    j->deadline_after = weir_deadline_get();
    if (j->rc == 0) weir_writer_free(w);
    return 0;
}

static void test_connect_timeout(void) {
    fakenet *net;
    weir_loop *loop = fake_loop(&net);
    net->accept_delay = 100 * WEIR_MS;
    weir_server *s;
    weir_start_server(loop, dummy_handler, NULL, "127.0.0.1", 7007, NULL, &s);
    timeout_job a = {.connect_timeout = 10 * WEIR_MS};
    timeout_job b = {.connect_timeout = 50 * WEIR_MS, .task_deadline = 20 * WEIR_MS};
    timeout_job c = {.connect_timeout = 500 * WEIR_MS};
    weir_task *ta = spawn(loop, timeout_task, &a);
    weir_task *tb = spawn(loop, timeout_task, &b);
    weir_task *tc = spawn(loop, timeout_task, &c);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(a.rc, WEIR_ETIMEDOUT, "a connect slower than connect_timeout: WEIR_ETIMEDOUT");
    is_int(a.at, 10 * WEIR_MS, "at the timeout");
    is_int(a.deadline_after, WEIR_FOREVER, "the task's deadline is restored");
    is_int(b.rc, WEIR_ETIMEDOUT, "the task's own earlier deadline wins");
    is_int(b.at, 20 * WEIR_MS, "at that deadline");
    is_int(b.deadline_after, 20 * WEIR_MS, "which is left in place");
    is_int(c.rc, 0, "a connect faster than the timeout succeeds");
    is_int(c.at, 100 * WEIR_MS, "when accepted");
    is_int(c.deadline_after, WEIR_FOREVER, "with the deadline restored");
    join(ta), join(tb), join(tc);
    weir_server_free(s);
    weir_loop_free(loop);
}

/* A connect still waiting to be accepted when the server closes is refused. */
static void test_close_refuses_pending(void) {
    fakenet *net;
    weir_loop *loop = fake_loop(&net);
    net->accept_delay = 100 * WEIR_MS;
    weir_server *s;
    weir_start_server(loop, dummy_handler, NULL, "127.0.0.1", 7007, NULL, &s);
    timeout_job a = {0};
    close_job cj = {.s = s, .close_at = 10 * WEIR_MS};
    weir_task *ta = spawn(loop, timeout_task, &a);
    weir_task *tc = spawn(loop, closer_task, &cj);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(a.rc, WEIR_ECONNREFUSED, "a connect pending at close: WEIR_ECONNREFUSED");
    is_int(a.at, 10 * WEIR_MS, "at the close");
    is_int(weir_server_accepted(s), 0, "nothing accepted");
    join(ta), join(tc);
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- task data ------------------------------------------------------------------------- */

static int server_tag, client_tag;
static void *handler_saw;

static int data_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)r, (void)w, (void)arg;
    handler_saw = weir__task_data(weir_task_current());
    return 0;
}

static int data_starter(void *arg) {
    weir_server **out = arg;
    weir__task_set_data(weir_task_current(), &server_tag);
    return weir_start_server(NULL, data_handler, NULL, "127.0.0.1", 7008, NULL, out);
}

static int data_client(void *arg) {
    (void)arg;
    weir__task_set_data(weir_task_current(), &client_tag);
    weir_reader *r;
    weir_writer *w;
    int rc = weir_open_connection("127.0.0.1", 7008, NULL, &r, &w);
    if (rc == 0) {
        weir_bytes b;
        rc = weir_read(r, -1, &b); /* until the server closes */
        weir_writer_close(w);
        weir_wait_closed(w);
        weir_writer_free(w);
    }
    return rc;
}

static void test_task_data(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *s = NULL;
    is_int(run_task(loop, data_starter, &s), 0, "start_server from a task, loop NULL");
    is_int(run_task(loop, data_client, NULL), 0, "connect");
    ok(handler_saw == &server_tag, "the handler task has the starting task's data");
    weir_server_free(s);
    /* Started outside any task: the handler gets no data, not the client's. */
    weir_start_server(loop, data_handler, NULL, "127.0.0.1", 7008, NULL, &s);
    handler_saw = &client_tag;
    is_int(run_task(loop, data_client, NULL), 0, "connect again");
    ok(handler_saw == NULL, "no data leaks from the connecting task");
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- the bundled clients against the bundled servers ----------------------------------- */

typedef struct get_job {
    weir_endpoint target;
    weir_http_get_cfg cfg;
    weir_http_get_result res;
    weir_open_opts open;
    int rc;
} get_job;

static int get_task(void *arg) {
    get_job *j = arg;
    j->cfg.result = &j->res;
    j->rc = weir_http_get(&j->target, &j->cfg);
    return 0;
}

static int line_client_default_task(void *arg) { return weir_line_client(arg, NULL); }

/* A server that reads the request head, writes a fixed text and returns. It reads first
 * as a real server does: closing before the request came would make the client's request
 * fail to send (the fake network's pipe reports a write to a closed peer as a socketpair
 * does, with EPIPE), and the client would never read the answer. */
static int canned_handler(weir_reader *r, weir_writer *w, void *arg) {
    const char *text = arg;
    weir_bytes head;
    int rc = weir_readuntil(r, "\r\n\r\n", 4, &head);
    if (rc) return rc;
    return weir_write(w, text, strlen(text));
}

static void test_bundled_clients(void) {
    weir_loop *loop = fake_loop(NULL);
    weir_server *echo, *http, *custom, *limited;
    weir_start_unix_server(loop, weir_line_echo, NULL, "/tmp/echo.sock", NULL, &echo);
    weir_server *echo_tcp = NULL;
    weir_start_server(loop, weir_line_echo, NULL, "127.0.0.1", 8002, NULL, &echo_tcp);
    weir_http_responder_cfg notfound = {.status = 404, .body = "nope"};
    weir_start_server(loop, weir_http_responder, NULL, "127.0.0.1", 8080, NULL, &http);
    weir_start_server(loop, weir_http_responder, &notfound, "127.0.0.1", 8081, NULL, &custom);
    weir_server_opts small = {.limit = 1024};
    weir_start_server(loop, weir_http_responder, NULL, "127.0.0.1", 8082, &small, &limited);

    weir_endpoint unix_ep = {.path = "/tmp/echo.sock"};
    is_int(run_task(loop, line_client_default_task, &unix_ep), 0,
           "line_client with defaults over a unix socket");
    weir_endpoint tcp_ep = {.host = "127.0.0.1", .port = 8002};
    is_int(run_task(loop, line_client_default_task, &tcp_ep), 0, "and over TCP");
    weir_endpoint nobody = {.host = "127.0.0.1", .port = 9999};
    is_int(run_task(loop, line_client_default_task, &nobody), WEIR_ECONNREFUSED,
           "line_client to nobody: the connect error");

    get_job g = {.target = {.host = "127.0.0.1", .port = 8080}};
    run_task(loop, get_task, &g);
    is_int(g.rc, 0, "http_get against http_responder");
    is_int(g.res.status, 200, "status 200");
    is_int(g.res.nheaders, 3, "three headers");
    is_int(g.res.body_len, 6, "the body, to EOF");

    g = (get_job){.target = {.host = "127.0.0.1", .port = 8081}, .cfg = {.path = "/x"}};
    run_task(loop, get_task, &g);
    is_int(g.res.status, 404, "a configured response");
    is_int(g.res.body_len, 4, "with its body");

    /* The request head over the responder's limit: LimitOverrunError there, 431 here. */
    static char long_path[4001];
    memset(long_path, 'a', 4000);
    long_path[0] = '/';
    g = (get_job){.target = {.host = "127.0.0.1", .port = 8082}, .cfg = {.path = long_path}};
    run_task(loop, get_task, &g);
    is_int(g.rc, 0, "a request head over the server's limit");
    is_int(g.res.status, 431, "is answered 431");

    /* Response heads that go wrong, from a server that sends canned bytes. */
    static char big[8192];
    int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + n, 'x', sizeof big - (size_t)n - 1);
    weir_server *canned;
    weir_start_server(loop, canned_handler, big, "127.0.0.1", 8083, NULL, &canned);
    g = (get_job){.target = {.host = "127.0.0.1", .port = 8083}};
    g.open.limit = 1024;
    g.cfg.open = &g.open;
    run_task(loop, get_task, &g);
    is_int(g.rc, WEIR_ELIMIT, "a response head over the limit: WEIR_ELIMIT");
    ok(g.res.consumed > 0, "with consumed (%lld)", (long long)g.res.consumed);
    ok(g.res.message && strstr(g.res.message, "limit"), "and a message: %s", g.res.message);
    weir_server_free(canned);

    const char *cut = "HTTP/1.1 200 OK\r\nX-A: b\r\n";
    weir_start_server(loop, canned_handler, (void *)cut, "127.0.0.1", 8083, NULL, &canned);
    g = (get_job){.target = {.host = "127.0.0.1", .port = 8083}};
    run_task(loop, get_task, &g);
    is_int(g.rc, WEIR_EINCOMPLETE, "EOF in the middle of the head: WEIR_EINCOMPLETE");
    is_int(g.res.partial, strlen(cut), "with the bytes that came");
    ok(g.res.message && strstr(g.res.message, "EOF"), "and a message: %s", g.res.message);
    weir_server_free(canned);

    const char *bad = "HTTP/1.1 2x0 OK\r\n\r\n";
    weir_start_server(loop, canned_handler, (void *)bad, "127.0.0.1", 8083, NULL, &canned);
    g = (get_job){.target = {.host = "127.0.0.1", .port = 8083}};
    run_task(loop, get_task, &g);
    is_int(g.rc, WEIR_EMALFORMED, "a malformed status line: WEIR_EMALFORMED");
    ok(g.res.message && strstr(g.res.message, "status"), "saying so: %s", g.res.message);
    weir_server_free(canned);

    const char *req = "GET / HTTP/1.1\r\n\r\n";
    weir_start_server(loop, canned_handler, (void *)req, "127.0.0.1", 8083, NULL, &canned);
    g = (get_job){.target = {.host = "127.0.0.1", .port = 8083}};
    run_task(loop, get_task, &g);
    is_int(g.rc, WEIR_EMALFORMED, "a request where a response should be: WEIR_EMALFORMED");
    weir_server_free(canned);

    weir_server_free(echo);
    weir_server_free(echo_tcp);
    weir_server_free(http);
    weir_server_free(custom);
    weir_server_free(limited);
    weir_loop_free(loop);
}

int main(void) {
    test_args_outside_task();
    test_no_net();
    test_refused_and_cancelled();
    test_echo_many();
    test_close_and_wait_closed();
    test_serve_forever();
    test_serve_forever_deadline();
    test_free_with_handlers();
    test_writer_owned_by_server();
    test_free_from_own_handler();
    test_client_task();
    test_accessors();
    test_connect_timeout();
    test_close_refuses_pending();
    test_task_data();
    test_bundled_clients();
    return done_testing();
}
