/* tests/unit/test_poll.c - the poll backend: clock, timers, fd watches, idleness, EINTR.
 *
 * Times are checked against CLOCK_MONOTONIC read here, with generous upper bounds (a loaded
 * CI machine is slow, never early). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/poll_internal.h"
#include "tap.h"
#include "weir/weir.h"

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WEIR_SEC + ts.tv_nsec;
}

static weir_loop *new_loop(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_poll(&loop) != 0) {
        printf("Bail out! weir_loop_new_poll failed\n");
        exit(1);
    }
    return loop;
}

/* A watch callback that must not run. */
static void never_called(weir__io *io, int revents) {
    (void)io;
    (void)revents;
    printf("Bail out! a watch that wants nothing was called\n");
    abort();
}

/* --- the clock and timers ------------------------------------------------------------- */

static int sleeper(void *arg) {
    int64_t ns = *(int64_t *)arg;
    return weir_sleep(ns);
}

static void test_basics(void) {
    is_int(weir_loop_new_poll(NULL), WEIR_EINVAL, "weir_loop_new_poll(NULL)");
    weir_loop *loop = new_loop();
    int64_t a = weir_loop_now(loop), m = mono_ns();
    int64_t b = weir_loop_now(loop);
    ok(b >= a, "the clock does not go backwards");
    ok(a > m - WEIR_SEC && a <= mono_ns(), "the clock is CLOCK_MONOTONIC");
    int64_t t0 = mono_ns();
    is_int(weir_loop_run(loop), 0, "an empty loop is idle at once");
    ok(mono_ns() - t0 < 100 * WEIR_MS, "... without waiting");
    ok(weir__poll_of(loop) != NULL, "weir__poll_of finds the backend");
    weir_loop *v;
    weir_loop_new_virtual(&v);
    ok(weir__poll_of(v) == NULL, "weir__poll_of(virtual loop) is NULL");
    weir_loop_free(v);
    weir_loop_free(loop);
}

static void test_sleep(void) {
    weir_loop *loop = new_loop();
    int64_t ns = 60 * WEIR_MS;
    weir_task *t;
    weir_spawn(loop, sleeper, &ns, NULL, &t);
    int64_t t0 = mono_ns(), l0 = weir_loop_now(loop);
    uint64_t polls0 = weir__poll_calls(loop);
    is_int(weir_loop_run(loop), 0, "a sleeping task runs to the end");
    int64_t took = mono_ns() - t0;
    ok(took >= ns && took < ns + 2 * WEIR_SEC, "sleep(60ms) took %lld ms",
       (long long)(took / WEIR_MS));
    ok(weir_loop_now(loop) - l0 >= ns, "the loop's clock moved as far");
    uint64_t polls = weir__poll_calls(loop) - polls0;
    ok(polls >= 1 && polls <= 4, "one blocking poll, not a spin (%llu polls)",
       (unsigned long long)polls);
    int rc = -1;
    weir_join(t, &rc);
    is_int(rc, 0, "sleep returned 0");
    weir_loop_free(loop);
}

static void test_run_until(void) {
    weir_loop *loop = new_loop();
    int fds[2];
    if (pipe(fds) != 0) return;
    /* A watched fd that never becomes ready: run_until must still come back. */
    weir__io io = {0};
    weir__poll *p = weir__poll_of(loop);
    weir__io_start(p, &io, fds[0], never_called, NULL);
    weir__io_want(p, &io, POLLIN);
    int64_t t0 = mono_ns();
    is_int(weir_loop_run_until(loop, weir_loop_now(loop) + 30 * WEIR_MS), 0,
           "run_until with a silent watch returns 0");
    int64_t took = mono_ns() - t0;
    ok(took >= 30 * WEIR_MS && took < 2 * WEIR_SEC, "at its deadline (%lld ms)",
       (long long)(took / WEIR_MS));
    weir__io_stop(p, &io);
    close(fds[0]);
    close(fds[1]);
    weir_loop_free(loop);
}

/* --- watches -------------------------------------------------------------------------- */

typedef struct pipe_watch {
    weir__io io;
    weir__poll *p;
    int fds[2];
    int calls;
    int revents;
    char got[16];
    struct pipe_watch *victim; /* stopped and freed by this one's callback */
} pipe_watch;

static void on_pipe(weir__io *io, int revents) {
    pipe_watch *w = io->arg;
    w->calls++;
    w->revents = revents;
    ssize_t n = read(w->fds[0], w->got, sizeof w->got - 1);
    if (n > 0) w->got[n] = '\0';
    weir__io_stop(w->p, io);
    if (w->victim) {
        weir__io_stop(w->p, &w->victim->io);
        close(w->victim->fds[0]);
        close(w->victim->fds[1]);
        free(w->victim);
        w->victim = NULL;
    }
}

static void write_later(weir_timer *timer, void *arg) {
    (void)timer;
    pipe_watch *w = arg;
    ssize_t n = write(w->fds[1], "ping", 4);
    (void)n;
}

static void test_watch(void) {
    weir_loop *loop = new_loop();
    pipe_watch w = {.p = weir__poll_of(loop)};
    if (pipe(w.fds) != 0) return;
    is_int(weir__io_start(w.p, &w.io, w.fds[0], on_pipe, &w), 0, "io_start");
    weir__io_want(w.p, &w.io, POLLIN);
    weir_timer timer = {0};
    weir_timer_start(loop, &timer, weir_loop_now(loop) + 20 * WEIR_MS, write_later, &w);
    is_int(weir_loop_run(loop), 0, "the loop waits for the watch, then is idle");
    is_int(w.calls, 1, "the callback ran once");
    ok(w.revents & POLLIN, "with POLLIN");
    ok(strcmp(w.got, "ping") == 0, "and read what the timer wrote");
    close(w.fds[0]);
    close(w.fds[1]);

    /* A watch that wants nothing is not polled: the loop is idle with it registered, even
     * when its fd is hung up (poll would report POLLHUP for it whatever it asked for). */
    int fds[2];
    if (pipe(fds) != 0) return;
    close(fds[1]);
    weir__io quiet = {0};
    weir__io_start(w.p, &quiet, fds[0], never_called, NULL);
    int64_t t0 = mono_ns();
    is_int(weir_loop_run(loop), 0, "a watch wanting nothing leaves the loop idle");
    ok(mono_ns() - t0 < 500 * WEIR_MS, "at once");
    weir__io_want(w.p, &quiet, POLLIN);
    weir__io_want(w.p, &quiet, 0);
    is_int(weir_loop_run(loop), 0, "... also after wanting and unwanting");
    weir__io_stop(w.p, &quiet);
    close(fds[0]);
    weir_loop_free(loop);
}

static void test_stop_other_in_round(void) {
    weir_loop *loop = new_loop();
    weir__poll *p = weir__poll_of(loop);
    pipe_watch *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    a->p = b->p = p;
    if (pipe(a->fds) != 0 || pipe(b->fds) != 0) return;
    /* Both readable before the poll; a comes first in the table and frees b. */
    weir__io_start(p, &a->io, a->fds[0], on_pipe, a);
    weir__io_start(p, &b->io, b->fds[0], on_pipe, b);
    weir__io_want(p, &a->io, POLLIN);
    weir__io_want(p, &b->io, POLLIN);
    a->victim = b;
    ssize_t n = write(a->fds[1], "a", 1) + write(b->fds[1], "b", 1);
    (void)n;
    is_int(weir_loop_run(loop), 0, "the round ends and the loop is idle");
    is_int(a->calls, 1, "the first watch ran");
    ok(a->victim == NULL, "and stopped and freed the second (a second call would be a UAF)");
    close(a->fds[0]);
    close(a->fds[1]);
    free(a);

    /* Many watches, stopped in an order that moves slots around. */
    enum { N = 40 };
    pipe_watch *ws = calloc(N, sizeof *ws);
    int started = 0;
    for (int i = 0; i < N; i++) {
        ws[i].p = p;
        if (pipe(ws[i].fds) != 0) break;
        weir__io_start(p, &ws[i].io, ws[i].fds[0], on_pipe, &ws[i]);
        weir__io_want(p, &ws[i].io, POLLIN);
        started++;
    }
    for (int i = 0; i < started; i += 3) {
        weir__io_stop(p, &ws[i].io);
        ws[i].calls = -100;
    }
    for (int i = 0; i < started; i++) {
        n = write(ws[i].fds[1], "x", 1);
        (void)n;
    }
    is_int(weir_loop_run(loop), 0, "%d watches, a third stopped early: idle at the end", started);
    int right = 0;
    for (int i = 0; i < started; i++)
        right += (i % 3 == 0) ? ws[i].calls == -100 : ws[i].calls == 1;
    is_int(right, started, "each live watch ran once, no stopped one ran");
    for (int i = 0; i < started; i++) {
        close(ws[i].fds[0]);
        close(ws[i].fds[1]);
    }
    free(ws);
    weir_loop_free(loop);
}

/* --- deadlock and EINTR --------------------------------------------------------------- */

static int read_forever(void *arg) {
    weir_bytes line;
    return weir_readline(arg, &line);
}

static void test_deadlock(void) {
    weir_loop *loop = new_loop();
    weir_reader *r;
    weir_reader_new(1024, &r);
    weir_task *t;
    weir_spawn(loop, read_forever, r, NULL, &t);
    int64_t t0 = mono_ns();
    is_int(weir_loop_run(loop), WEIR_EDEADLOCK, "a task blocked with nothing watched: deadlock");
    ok(mono_ns() - t0 < 500 * WEIR_MS, "reported at once, not after a hang");
    weir_task_detach(t);
    weir_loop_free(loop);
    weir_reader_free(r);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void test_eintr(void) {
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll fails with EINTR */
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {.it_interval = {0, 15000}, .it_value = {0, 15000}};
    setitimer(ITIMER_REAL, &it, NULL);

    weir_loop *loop = new_loop();
    int64_t ns = 120 * WEIR_MS;
    weir_task *t;
    weir_spawn(loop, sleeper, &ns, NULL, &t);
    int64_t t0 = mono_ns();
    uint64_t polls0 = weir__poll_calls(loop);
    int rc = weir_loop_run(loop);
    int64_t took = mono_ns() - t0;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);

    is_int(rc, 0, "signals during the wait do not fail the loop");
    ok(alarms >= 2, "signals arrived during the wait (%d)", (int)alarms);
    ok(weir__poll_calls(loop) - polls0 >= 2, "and poll was retried after EINTR");
    ok(took >= ns, "the sleep still lasted its full time (%lld ms)", (long long)(took / WEIR_MS));
    int res = -1;
    weir_join(t, &res);
    is_int(res, 0, "sleep returned 0");
    weir_loop_free(loop);
}

/* A task that spins on weir_yield() waiting for socket data must still get it: the loop
 * polls with a zero timeout on every busy iteration (weir once polled only when idle, so
 * this task spun for ever). */
typedef struct spinner {
    weir_reader *r;
    long spins;
} spinner;

static int spin_until_data(void *arg) {
    spinner *sp = arg;
    while (weir_reader_buffered(sp->r) == 0 && sp->spins < 100000) {
        sp->spins++;
        if (weir_yield() != 0) break;
    }
    return 0;
}

static void test_yield_does_not_starve_io(void) {
    weir_loop *loop;
    weir_loop_new_poll(&loop);
    int sv[2];
    ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    weir_reader *r;
    weir_writer *w;
    is_int(weir_open_connection_fd(loop, sv[0], NULL, &r, &w), 0, "adopt one end");
    ok(write(sv[1], "x", 1) == 1, "the peer writes a byte");
    spinner sp = {r, 0};
    weir_task *t;
    weir_spawn(loop, spin_until_data, &sp, NULL, &t);
    weir_loop_run_until(loop, weir_loop_now(loop) + 2 * WEIR_SEC);
    is_int(weir_reader_buffered(r), 1, "the byte arrived while the task kept yielding");
    ok(sp.spins < 100000, "the task stopped spinning (%ld yields)", sp.spins);
    weir_join(t, NULL);
    weir_writer_free(w);
    close(sv[1]);
    weir_loop_free(loop);
}

int main(void) {
    test_yield_does_not_starve_io();
    test_basics();
    test_sleep();
    test_run_until();
    test_watch();
    test_stop_other_in_round();
    test_deadlock();
    test_eintr();
    return done_testing();
}
