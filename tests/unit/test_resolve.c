/* tests/unit/test_resolve.c - name resolution on the poll backend runs off the loop's thread.
 *
 * A stand-in for getaddrinfo (weir__poll_set_resolver) answers made-up names under .test:
 * "slow.test" after SLOW of sleep, as a DNS server that takes its time would. While a task
 * waits for it, the loop must go on: timers fire on time and an echo over an existing
 * connection completes. The waiting task's deadline and cancellation end the wait at once,
 * and freeing the loop does not wait for the lookup (ASan checks that the thread that
 * finishes later touches nothing freed). Real getaddrinfo answers "localhost" and
 * "no-such-host.invalid" (from /etc/hosts, and at once from the resolver: .invalid never
 * exists). Everything talks to loopback only. */
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/poll_internal.h"
#include "sock_util.h"
#include "tap.h"
#include "weir/weir.h"

#define SLOW (300 * WEIR_MS) /* how long "slow.test" takes */
#define LIMIT (5 * WEIR_SEC) /* per test body */
#define TICK (10 * WEIR_MS)
/* How late a timer or an echo may be while a lookup runs. An inline lookup would make them
 * SLOW late; this leaves room for a loaded machine and ASan. */
#define LATE (150 * WEIR_MS)

static atomic_int calls;     /* stand-in calls */
static atomic_int in_flight; /* stand-in calls running now */
static atomic_int max_in_flight;

static void sleep_ns(int64_t ns) {
    struct timespec ts = {.tv_sec = ns / WEIR_SEC, .tv_nsec = ns % WEIR_SEC};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The stand-in for getaddrinfo, run by the resolver threads. */
static int fake_gai(const char *host, const char *serv, const struct addrinfo *hints,
                    struct addrinfo **res) {
    atomic_fetch_add(&calls, 1);
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    int max = atomic_load(&max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&max_in_flight, &max, now)) {
    }
    int rc;
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    if (strcmp(host, "slow.test") == 0) {
        sleep_ns(SLOW);
        rc = getaddrinfo("127.0.0.1", serv, &h, res);
    } else if (strcmp(host, "fast.test") == 0) {
        rc = getaddrinfo("127.0.0.1", serv, &h, res);
    } else if (strcmp(host, "nonexistent.test") == 0) {
        rc = EAI_NONAME;
    } else if (strcmp(host, "again.test") == 0) {
        rc = EAI_AGAIN;
    } else if (strcmp(host, "nomem.test") == 0) {
        rc = EAI_MEMORY;
    } else {
        rc = getaddrinfo(host, serv, hints, res);
    }
    atomic_fetch_sub(&in_flight, 1);
    return rc;
}

static void reset_counts(void) {
    atomic_store(&calls, 0);
    atomic_store(&max_in_flight, 0);
}

/* Wait (up to 2 s) until every resolver thread of the process has exited. */
static bool threads_gone(void) {
    for (int i = 0; i < 400 && weir__resolver_threads() > 0; i++) sleep_ns(5 * WEIR_MS);
    return weir__resolver_threads() == 0;
}

static weir_loop *fake_loop(void) {
    weir_loop *loop = new_loop();
    weir__poll_set_resolver(loop, fake_gai);
    return loop;
}

static int run_fake(weir_task_fn fn, void *arg) {
    weir_loop *loop = fake_loop();
    int rc = run_on(loop, fn, arg, LIMIT);
    weir_loop_free(loop);
    return rc;
}

/* Connect to host:port and close again: 0 or the error. */
static int connect_close(const char *host, int port, const weir_open_opts *opts) {
    weir_reader *r;
    weir_writer *w;
    int rc = weir_open_connection(host, port, opts, &r, &w);
    if (rc == 0) weir_writer_free(w);
    return rc;
}

/* --- the loop goes on while a name is looked up --------------------------------------- */

typedef struct slow_case {
    int port;
    int connect_rc;
    bool resolving;     /* the slow connect has not returned yet */
    int64_t took;       /* how long the slow connect took */
    int ticks;          /* ticker wake-ups while it ran */
    int64_t worst_tick; /* the latest a tick woke after it was due */
    int64_t echo_rtt;   /* an echo round trip made while it ran */
    int echo_rc;
} slow_case;

static int slow_connect_main(void *arg) {
    slow_case *c = arg;
    int64_t t0 = weir_now();
    c->connect_rc = connect_close("slow.test", c->port, NULL);
    c->took = weir_now() - t0;
    c->resolving = false;
    return 0;
}

static int ticker_main(void *arg) {
    slow_case *c = arg;
    while (c->resolving) {
        int64_t due = weir_now() + TICK;
        if (weir_sleep_until(due)) break;
        int64_t late = weir_now() - due;
        if (late > c->worst_tick) c->worst_tick = late;
        c->ticks++;
    }
    return 0;
}

static int slow_body(void *arg) {
    slow_case *c = arg;
    weir_server *s;
    weir_reader *r;
    weir_writer *w;
    int rc = serve_and_connect(weir_line_echo, NULL, &s, &r, &w);
    if (rc) return rc;
    c->port = weir_server_port(s);
    c->resolving = true;
    /* The ticker first, so that its first tick is due while the lookup runs. */
    weir_task *ticker = spawn(ticker_main, c);
    weir_task *slow = spawn(slow_connect_main, c);
    /* Let the lookup start, then echo over the connection made before it. */
    weir_sleep(50 * WEIR_MS);
    int64_t t0 = weir_now();
    c->echo_rc = weir_write(w, "ping\n", 5);
    weir_bytes line = {0};
    if (!c->echo_rc) c->echo_rc = weir_readline(r, &line);
    if (!c->echo_rc && !weir_bytes_eq(line, WEIR_LIT("ping\n"))) c->echo_rc = WEIR_EMISMATCH;
    c->echo_rtt = weir_now() - t0;
    if (!c->resolving) c->echo_rc = WEIR_ESTATE; /* the echo must happen during the lookup */
    join(slow);
    join(ticker);
    weir_writer_free(w);
    stop_server(s);
    return 0;
}

static void test_loop_goes_on(void) {
    reset_counts();
    slow_case c = {0};
    is_int(run_fake(slow_body, &c), 0, "slow lookup: the body ran");
    is_int(c.connect_rc, 0, "a name that takes %d ms resolves, and the connect succeeds",
           (int)(SLOW / WEIR_MS));
    ok(c.took >= SLOW - 5 * WEIR_MS, "the connect waited for the lookup (%lld ms)",
       (long long)(c.took / WEIR_MS));
    is_int(atomic_load(&calls), 1, "the stand-in was called once");
    ok(c.ticks >= (int)(SLOW / TICK / 2), "a 10 ms ticker kept ticking during the lookup (%d)",
       c.ticks);
    ok(c.worst_tick < LATE, "no tick was late by more than %d ms (worst %lld ms)",
       (int)(LATE / WEIR_MS), (long long)(c.worst_tick / WEIR_MS));
    is_int(c.echo_rc, 0, "an echo over an existing connection completed during the lookup");
    ok(c.echo_rtt < LATE, "in %lld ms", (long long)(c.echo_rtt / WEIR_MS));
    ok(threads_gone(), "the resolver threads exit once the loop is freed");
}

/* start_server with a name, from a task, waits in the task too. */
static int listen_name_body(void *arg) {
    (void)arg;
    int64_t t0 = weir_now();
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, "slow.test", 0, NULL, &s);
    if (rc) return rc;
    int64_t took = weir_now() - t0;
    const char *addr = weir_server_address(s, 0);
    if (!addr || strncmp(addr, "127.0.0.1:", 10) != 0 || took < SLOW - 5 * WEIR_MS)
        rc = WEIR_EMISMATCH;
    if (!rc) rc = connect_close("127.0.0.1", weir_server_port(s), NULL);
    stop_server(s);
    return rc;
}

static void test_listen_name(void) {
    is_int(run_fake(listen_name_body, NULL), 0,
           "start_server on a slow name from a task: listens on its address");
    ok(threads_gone(), "its resolver thread exits with the loop");
    /* Outside a task there is nobody to block: the lookup runs on the calling thread. */
    weir_loop *loop = fake_loop();
    reset_counts();
    weir_server *s = NULL;
    is_int(weir_start_server(loop, weir_line_echo, NULL, "fast.test", 0, NULL, &s), 0,
           "start_server on a name outside a task");
    is_int(weir__resolver_threads(), 0, "... looks it up without a thread");
    is_int(atomic_load(&calls), 1, "... through the stand-in");
    weir_server_free(s);
    weir_loop_free(loop);
}

/* --- deadline and cancellation ------------------------------------------------------ */

static int deadline_body(void *arg) {
    int64_t *took = arg;
    int64_t t0 = weir_now();
    int64_t old = weir_deadline_set(t0 + 50 * WEIR_MS);
    int rc = connect_close("slow.test", 9, NULL);
    weir_deadline_set(old);
    took[0] = weir_now() - t0;
    if (rc != WEIR_ETIMEDOUT) return rc ? rc : WEIR_EMISMATCH;
    t0 = weir_now();
    weir_open_opts o = {.connect_timeout = 50 * WEIR_MS};
    rc = connect_close("slow.test", 9, &o);
    took[1] = weir_now() - t0;
    return rc;
}

typedef struct cancel_case {
    int rc;
    int64_t started_at, cancelled_at, returned_at;
} cancel_case;

static int cancelled_main(void *arg) {
    cancel_case *c = arg;
    c->rc = connect_close("slow.test", 9, NULL);
    c->returned_at = weir_now();
    return 0;
}

static int cancel_body(void *arg) {
    cancel_case *c = arg;
    c->started_at = weir_now();
    weir_task *t = spawn(cancelled_main, c);
    weir_sleep(30 * WEIR_MS);
    c->cancelled_at = weir_now();
    weir_task_cancel(t);
    return join(t);
}

static void test_deadline_cancel(void) {
    int64_t took[2] = {0, 0};
    is_int(run_fake(deadline_body, took), WEIR_ETIMEDOUT,
           "connect_timeout shorter than the lookup: WEIR_ETIMEDOUT");
    ok(took[0] >= 50 * WEIR_MS && took[0] < 50 * WEIR_MS + LATE,
       "the task's deadline ends the lookup's wait at the deadline (%lld ms)",
       (long long)(took[0] / WEIR_MS));
    ok(took[1] >= 50 * WEIR_MS && took[1] < 50 * WEIR_MS + LATE,
       "so does connect_timeout (%lld ms)", (long long)(took[1] / WEIR_MS));
    ok(threads_gone(), "the abandoned lookups finish and their threads exit");

    cancel_case c = {0};
    is_int(run_fake(cancel_body, &c), 0, "cancel run");
    is_int(c.rc, WEIR_ECANCELED, "a cancelled task's lookup: WEIR_ECANCELED");
    ok(c.returned_at - c.cancelled_at < LATE, "at once (%lld ms)",
       (long long)((c.returned_at - c.cancelled_at) / WEIR_MS));
    ok(c.returned_at - c.started_at < 30 * WEIR_MS + LATE,
       "the cancel came during the lookup, not after it (%lld ms after the start)",
       (long long)((c.returned_at - c.started_at) / WEIR_MS));
    ok(threads_gone(), "the abandoned lookup finishes and its thread exits");
}

/* --- freeing the loop during a lookup ------------------------------------------------ */

static int lookup_main(void *arg) {
    (void)arg;
    return connect_close("slow.test", 9, NULL);
}

/* Start n slow lookups, run the loop until they are under way, free it: how long the free
 * took. */
static int64_t free_during(int n) {
    weir_loop *loop = fake_loop();
    for (int i = 0; i < n; i++) {
        weir_task *t;
        weir_spawn(loop, lookup_main, NULL, NULL, &t);
        weir_task_detach(t);
    }
    /* Until every thread is in its lookup (thread start-up can be slow on a loaded box). */
    int running = n < 4 ? n : 4;
    for (int i = 0; i < 100 && atomic_load(&in_flight) < running; i++)
        weir_loop_run_until(loop, weir_loop_now(loop) + 10 * WEIR_MS);
    int64_t t0 = weir_loop_now(loop);
    weir_loop_free(loop);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WEIR_SEC + ts.tv_nsec - t0;
}

static void test_free_during(void) {
    reset_counts();
    int64_t took = free_during(1);
    ok(took < 100 * WEIR_MS, "weir_loop_free during a %d ms lookup returns at once (%lld ms)",
       (int)(SLOW / WEIR_MS), (long long)(took / WEIR_MS));
    ok(weir__resolver_threads() == 1, "the thread is still in its lookup");
    ok(threads_gone(), "... and exits when it is done, touching nothing freed (ASan)");
    /* Six: four threads busy and two requests still queued when the loop goes. */
    reset_counts();
    took = free_during(6);
    ok(took < 100 * WEIR_MS, "freeing with lookups running and queued returns at once (%lld ms)",
       (long long)(took / WEIR_MS));
    ok(threads_gone(), "... and the threads exit");
    is_int(atomic_load(&calls), 4, "the queued lookups were dropped, never started");
}

/* --- the pool is bounded ------------------------------------------------------------- */

static int many_lookup_main(void *arg) {
    int *port = arg;
    return connect_close("slow.test", *port, NULL);
}

static int pool_body(void *arg) {
    int64_t *took = arg;
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    int port = weir_server_port(s);
    int64_t t0 = weir_now();
    weir_task *t[6];
    for (int i = 0; i < 6; i++) t[i] = spawn(many_lookup_main, &port);
    for (int i = 0; i < 6; i++) {
        int r = join(t[i]);
        if (!rc) rc = r;
    }
    *took = weir_now() - t0;
    if (weir__resolver_threads() > 4) rc = WEIR_EMISMATCH;
    stop_server(s);
    return rc;
}

static void test_pool_bound(void) {
    reset_counts();
    int64_t took = 0;
    is_int(run_fake(pool_body, &took), 0, "six slow lookups at once all resolve and connect");
    is_int(atomic_load(&max_in_flight), 4, "at most four run at a time");
    ok(took >= 2 * SLOW - 10 * WEIR_MS, "the other two waited in the queue (%lld ms)",
       (long long)(took / WEIR_MS));
    ok(threads_gone(), "the four threads exit with the loop");
}

/* --- literals, real names, errors ---------------------------------------------------- */

static int literal_body(void *arg) {
    (void)arg;
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    rc = connect_close("127.0.0.1", weir_server_port(s), NULL);
    /* ::1 may be refused or missing here; what matters is that it is never looked up. */
    (void)connect_close("::1", weir_server_port(s), NULL);
    weir_open_opts o = {.local_host = "127.0.0.1"};
    if (!rc) rc = connect_close("127.0.0.1", weir_server_port(s), &o);
    stop_server(s);
    weir_server *s6;
    if (weir_start_server(NULL, weir_line_echo, NULL, "::1", 0, NULL, &s6) == 0) stop_server(s6);
    return rc;
}

static void test_literals(void) {
    reset_counts();
    is_int(run_fake(literal_body, NULL), 0, "connect and listen on 127.0.0.1 and ::1");
    is_int(atomic_load(&calls), 0, "address literals never reach the resolver threads");
}

typedef struct name_case {
    const char *host;
    int rc;
    int threads; /* resolver threads alive after the connect */
} name_case;

static int name_body(void *arg) {
    name_case *c = arg;
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    c->rc = connect_close(c->host, weir_server_port(s), NULL);
    c->threads = weir__resolver_threads();
    stop_server(s);
    return 0;
}

static int local_name_body(void *arg) {
    (void)arg;
    weir_server *s;
    int rc = weir_start_server(NULL, weir_line_echo, NULL, "127.0.0.1", 0, NULL, &s);
    if (rc) return rc;
    weir_open_opts o = {.local_host = "fast.test"};
    rc = connect_close("127.0.0.1", weir_server_port(s), &o);
    o.local_host = "nonexistent.test";
    int bad = connect_close("127.0.0.1", weir_server_port(s), &o);
    if (!rc && bad != WEIR_EINVAL) rc = WEIR_EMISMATCH;
    stop_server(s);
    return rc;
}

static void test_names(void) {
    /* Real getaddrinfo, through a thread. */
    name_case lh = {.host = "localhost"};
    is_int(run_limited(name_body, &lh, LIMIT), 0, "localhost run");
    is_int(lh.rc, 0, "localhost resolves (real getaddrinfo) and connects");
    is_int(lh.threads, 1, "... through a resolver thread");
    ok(threads_gone(), "... which exits with the loop");
    name_case nx = {.host = "no-such-host.invalid"};
    is_int(run_limited(name_body, &nx, LIMIT), 0, "no-such-host.invalid run");
    is_int(nx.rc, WEIR_ENOENT, "a name that does not exist: WEIR_ENOENT");

    /* The stand-in's failures map as getaddrinfo's do (docs/net.md). */
    const struct {
        const char *host;
        int rc;
        const char *what;
    } errs[] = {
        {"nonexistent.test", WEIR_ENOENT, "EAI_NONAME"},
        {"again.test", WEIR_ENOENT, "EAI_AGAIN"},
        {"nomem.test", WEIR_ENOMEM, "EAI_MEMORY"},
        {"fast.test", 0, "an answer"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        name_case c = {.host = errs[i].host};
        run_fake(name_body, &c);
        is_int(c.rc, errs[i].rc, "%s from the resolver thread: %s", errs[i].what,
               errs[i].rc ? weir_errname(errs[i].rc) : "connected");
    }
    reset_counts();
    is_int(run_fake(local_name_body, NULL), 0,
           "local_host as a name resolves in a thread too (and a bad one is WEIR_EINVAL)");
    is_int(atomic_load(&calls), 2, "both local names went to the stand-in");
    ok(threads_gone(), "every resolver thread has exited");
}

int main(void) {
    alarm(60); /* a hang is a failure, not a stuck CI job */
    test_literals();
    test_loop_goes_on();
    test_listen_name();
    test_deadline_cancel();
    test_free_during();
    test_pool_bound();
    test_names();
    return done_testing();
}
