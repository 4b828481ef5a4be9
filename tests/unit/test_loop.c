/* tests/unit/test_loop.c - the run loop: return codes, the virtual clock, run_until,
 * run_ready, call_soon ordering, custom backends, re-entrancy, teardown. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "tap.h"
#include "virtual_util.h"

static void say_cb(void *arg) { say(arg); }

static int say_task(void *arg) {
    say(arg);
    return 0;
}

static weir_task *spawn_detached(weir_loop *loop, weir_task_fn fn, void *arg) {
    weir_task *t = NULL;
    if (weir_spawn(loop, fn, arg, NULL, &t) == 0) weir_task_detach(t);
    return t;
}

/* --- an empty loop -------------------------------------------------------------------- */

static void test_empty(void) {
    weir_loop *loop = new_loop();
    is_int(weir_loop_now(loop), 0, "a virtual clock starts at 0");
    is_int(weir_loop_live_tasks(loop), 0, "no tasks");
    is_int(weir_loop_run(loop), 0, "running an empty loop returns 0");
    is_int(weir_loop_now(loop), 0, "and does not move the clock");
    is_int(weir_loop_run_ready(loop), 0, "run_ready on an empty loop runs nothing");
    weir_loop_free(loop);
}

/* --- run: 0 when everything finished, the clock jumping from timer to timer ------------ */

static int64_t wake_at[8];

static int sleep_ms(void *arg) {
    intptr_t i = (intptr_t)arg;
    static const int ms[] = {30, 7, 3, 1000, 7};
    int rc = weir_sleep(ms[i] * WEIR_MS);
    wake_at[i] = weir_now();
    char w[32];
    snprintf(w, sizeof w, "s%d@%lld", (int)i, (long long)(weir_now() / WEIR_MS));
    say(w);
    return rc;
}

static void test_clock_jumps(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t[5];
    for (intptr_t i = 0; i < 5; i++) weir_spawn(loop, sleep_ms, (void *)i, NULL, &t[i]);
    is_int(weir_loop_run(loop), 0, "run returns 0 once all tasks finished");
    is_str(order, "s2@3 s1@7 s4@7 s0@30 s3@1000", "woken in time order, ties in sleep order");
    is_int(wake_at[3], 1000 * WEIR_MS, "the clock jumped straight to 1000 ms");
    is_int(weir_loop_now(loop), 1000 * WEIR_MS, "and stayed there");
    for (int i = 0; i < 5; i++) {
        int r = -1;
        weir_join(t[i], &r);
        is_int(r, 0, "sleep %d returned 0", i);
    }
    weir_loop_free(loop);
}

/* The clock does not move while anything is runnable. */
static int busy_ok;

static int busy(void *arg) {
    (void)arg;
    for (int i = 0; i < 50; i++) {
        if (weir_now() != 0) busy_ok = 0;
        weir_yield();
    }
    say("busy-done");
    return 0;
}

static int sleeper_1ns(void *arg) {
    (void)arg;
    weir_sleep(1);
    char w[32];
    snprintf(w, sizeof w, "sleeper@%lld", (long long)weir_now());
    say(w);
    return 0;
}

static void test_clock_waits_for_ready(void) {
    weir_loop *loop = new_loop();
    reset_order();
    busy_ok = 1;
    spawn_detached(loop, sleeper_1ns, NULL);
    spawn_detached(loop, busy, NULL);
    is_int(weir_loop_run(loop), 0, "run");
    ok(busy_ok, "the clock stayed at 0 through 50 yields");
    is_str(order, "busy-done sleeper@1", "a 1 ns sleep waits until nothing else is runnable");
    weir_loop_free(loop);
}

/* A counting backend with the virtual clock's rules, to watch what the loop asks for. */
typedef struct counting {
    int64_t now;
    int waits;
    int64_t deadlines[64];
    int fail_at; /* return fail_rc on this wait (1-based), 0 = never */
    int fail_rc;
    int *freed;
} counting;

static int64_t counting_now(void *impl) { return ((counting *)impl)->now; }

static int counting_wait(void *impl, weir_loop *loop, int64_t deadline) {
    (void)loop;
    counting *c = impl;
    if (c->waits < 64) c->deadlines[c->waits] = deadline;
    c->waits++;
    if (c->fail_at && c->waits >= c->fail_at) return c->fail_rc;
    if (deadline == WEIR_FOREVER) return 0;
    if (deadline > c->now) c->now = deadline;
    return 1;
}

static void counting_free(void *impl) {
    counting *c = impl;
    if (c->freed) (*c->freed)++;
}

static const weir_backend_ops counting_ops = {
    .name = "counting", .now = counting_now, .wait = counting_wait, .free = counting_free};

static void test_backend_calls(void) {
    counting c = {0};
    int freed = 0;
    c.freed = &freed;
    weir_loop *loop = NULL;
    is_int(weir_loop_new(&counting_ops, &c, &loop), 0, "loop on a custom backend");
    reset_order();
    for (intptr_t i = 0; i < 5; i++) spawn_detached(loop, sleep_ms, (void *)i);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(c.waits, 5, "one wait per distinct timer time, plus the final idle wait");
    is_int(c.deadlines[0], 3 * WEIR_MS, "wait 1 until the first timer");
    is_int(c.deadlines[1], 7 * WEIR_MS, "wait 2 until the next");
    is_int(c.deadlines[2], 30 * WEIR_MS, "wait 3");
    is_int(c.deadlines[3], 1000 * WEIR_MS, "wait 4");
    is_int(c.deadlines[4], WEIR_FOREVER, "the last wait has no timer to wait for");
    weir_loop_free(loop);
    is_int(freed, 1, "weir_loop_free frees the backend once");

    /* A backend error stops the run and is returned. */
    counting e = {.fail_at = 2, .fail_rc = WEIR_EUSER - 1};
    is_int(weir_loop_new(&counting_ops, &e, &loop), 0, "loop");
    for (intptr_t i = 0; i < 5; i++) spawn_detached(loop, sleep_ms, (void *)i);
    is_int(weir_loop_run(loop), WEIR_EUSER - 1, "a backend error is returned by run");
    is_int(weir_loop_now(loop), 3 * WEIR_MS, "after the first wait");
    is_int(weir_loop_live_tasks(loop), 4, "four sleepers left");
    weir_loop_free(loop);

    /* weir_loop_new argument checks. */
    weir_backend_ops no_wait = {.name = "x", .now = counting_now, .wait = NULL, .free = NULL};
    weir_backend_ops no_now = {.name = "x", .now = NULL, .wait = counting_wait, .free = NULL};
    loop = (weir_loop *)&c;
    is_int(weir_loop_new(NULL, &c, &loop), WEIR_EINVAL, "weir_loop_new(NULL ops)");
    ok(loop == NULL, "*out cleared");
    is_int(weir_loop_new(&no_wait, &c, &loop), WEIR_EINVAL, "ops without wait");
    is_int(weir_loop_new(&no_now, &c, &loop), WEIR_EINVAL, "ops without now");
    is_int(weir_loop_new(&counting_ops, &c, NULL), WEIR_EINVAL, "NULL out");
}

/* --- WEIR_EDEADLOCK --------------------------------------------------------------------- */

static weir__waiter stuck_waiter;
static int stuck_rc = 1;

static int stuck(void *arg) {
    (void)arg;
    say("stuck-wait");
    stuck_rc = weir__wait(&stuck_waiter);
    say("stuck-woken");
    return 0;
}

static void test_deadlock(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t;
    weir_spawn(loop, stuck, NULL, NULL, &t);
    spawn_detached(loop, sleep_ms, (void *)(intptr_t)2);
    is_int(weir_loop_run(loop), WEIR_EDEADLOCK, "a task blocked forever: WEIR_EDEADLOCK");
    is_int(weir_loop_now(loop), 3 * WEIR_MS, "after everything else finished");
    ok(!weir_task_done(t), "the blocked task stays blocked");
    is_int(weir_loop_live_tasks(loop), 1, "one live task");
    ok(stuck_waiter.task == t, "the waiter names the blocked task");
    is_int(weir_loop_run(loop), WEIR_EDEADLOCK, "running again: still WEIR_EDEADLOCK");
    is_int(weir_join(t, NULL), WEIR_EAGAIN, "cannot join it from outside");

    /* Waking it from outside any task makes it runnable again. */
    weir__wake(&stuck_waiter, 42);
    ok(stuck_waiter.task == NULL, "the waiter is empty after the wake");
    weir__wake(&stuck_waiter, 43); /* a second wake is a no-op */
    is_int(weir_loop_run(loop), 0, "run after the wake returns 0");
    is_int(stuck_rc, 42, "the wait returned the wake's result (not the second wake's)");
    is_str(order, "stuck-wait s2@3 stuck-woken", "order");
    is_int(weir_join(t, NULL), 0, "join");
    weir_loop_free(loop);
}

/* A task sleeping "forever" (or a timer at WEIR_FOREVER) can never be woken by the clock:
 * run must report the deadlock, not spin. Checked in a child with an alarm so a spinning
 * loop fails the test instead of hanging it. */
static int sleep_forever(void *arg) {
    (void)arg;
    return weir_sleep(WEIR_FOREVER);
}

static void nop_timer(weir_timer *t, void *arg) {
    (void)t;
    (void)arg;
}

static int run_in_child(int which) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        alarm(2);
        weir_loop *loop = new_loop();
        int rc;
        weir_timer timer = {0};
        if (which == 0) {
            weir_task *t;
            weir_spawn(loop, sleep_forever, NULL, NULL, &t);
            rc = weir_loop_run(loop);
            _exit(rc == WEIR_EDEADLOCK ? 0 : 1);
        }
        weir_timer_start(loop, &timer, WEIR_FOREVER, nop_timer, NULL);
        rc = weir_loop_run(loop);
        _exit(rc == 0 || rc == WEIR_EDEADLOCK ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return status;
}

static void test_forever_timer(void) {
    int status = run_in_child(0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "weir_sleep(WEIR_FOREVER) alone: run returns WEIR_EDEADLOCK instead of spinning "
       "(child %s %d)",
       WIFSIGNALED(status) ? "killed by signal" : "exit",
       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    status = run_in_child(1);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "a timer armed at WEIR_FOREVER: run returns instead of spinning (child %s %d)",
       WIFSIGNALED(status) ? "killed by signal" : "exit",
       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* --- run_until -------------------------------------------------------------------------- */

static void test_run_until(void) {
    weir_loop *loop = new_loop();
    reset_order();
    for (intptr_t i = 0; i < 5; i++) spawn_detached(loop, sleep_ms, (void *)i);
    is_int(weir_loop_run_until(loop, 7 * WEIR_MS), 0, "run_until 7 ms");
    is_str(order, "s2@3 s1@7 s4@7", "timers due at or before the bound fired");
    is_int(weir_loop_now(loop), 7 * WEIR_MS, "clock at the bound");
    is_int(weir_loop_live_tasks(loop), 2, "two sleepers left");

    is_int(weir_loop_run_until(loop, 20 * WEIR_MS), 0, "run_until 20 ms (no timer there)");
    is_int(weir_loop_now(loop), 20 * WEIR_MS, "the clock ends at the bound");
    is_str(order, "s2@3 s1@7 s4@7", "nothing fired");

    is_int(weir_loop_run_until(loop, 10 * WEIR_MS), 0, "run_until a bound already passed");
    is_int(weir_loop_now(loop), 20 * WEIR_MS, "the clock does not go back");

    is_int(weir_loop_run_until(loop, 30 * WEIR_MS - 1), 0, "run_until 1 ns before a timer");
    is_str(order, "s2@3 s1@7 s4@7", "the timer 1 ns later did not fire");
    is_int(weir_loop_now(loop), 30 * WEIR_MS - 1, "clock");

    is_int(weir_loop_run(loop), 0, "run the rest");
    is_str(order, "s2@3 s1@7 s4@7 s0@30 s3@1000", "all fired");
    is_int(weir_loop_live_tasks(loop), 0, "no tasks left");
    is_int(weir_loop_run_until(loop, 2000 * WEIR_MS), 0, "run_until with nothing to do");
    is_int(weir_loop_now(loop), 2000 * WEIR_MS, "moves the clock to the bound");
    weir_loop_free(loop);
}

/* --- run_ready -------------------------------------------------------------------------- */

static int yield_twice(void *arg) {
    say(arg);
    weir_yield();
    say(arg);
    weir_yield();
    say(arg);
    return 0;
}

static void test_run_ready(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t[5];
    for (intptr_t i = 0; i < 5; i++) weir_spawn(loop, sleep_ms, (void *)i, NULL, &t[i]);
    is_int(weir_loop_run_ready(loop), 5, "run_ready ran the five tasks once each");
    is_int(weir_loop_now(loop), 0, "without advancing time");
    is_str(order, "", "all are asleep");
    is_int(weir_loop_run_ready(loop), 0, "again: nothing ready");
    is_int(weir_loop_now(loop), 0, "the clock still at 0");
    is_int(weir_loop_live_tasks(loop), 5, "five live");
    is_int(weir_loop_run(loop), 0, "run");
    is_int(weir_loop_now(loop), 1000 * WEIR_MS, "now time moves");
    for (int i = 0; i < 5; i++) weir_join(t[i], NULL);

    reset_order();
    spawn_detached(loop, yield_twice, "a");
    spawn_detached(loop, yield_twice, "b");
    weir_call_soon(loop, say_cb, "cb");
    is_int(weir_loop_run_ready(loop), 7, "run_ready counts every task step and callback");
    is_str(order, "a b cb a b a b", "in FIFO order");
    is_int(weir_loop_live_tasks(loop), 0, "both finished");
    weir_loop_free(loop);
}

/* --- call_soon -------------------------------------------------------------------------- */

static weir_loop *soon_loop;

static void chain_cb(void *arg) {
    say(arg);
    weir_call_soon(soon_loop, say_cb, "chained");
}

static int task_calls_soon(void *arg) {
    say(arg);
    weir_call_soon(weir_current_loop(), say_cb, "from-task");
    weir_yield();
    say("A2");
    return 0;
}

static void test_call_soon(void) {
    weir_loop *loop = soon_loop = new_loop();
    reset_order();
    spawn_detached(loop, say_task, "A");
    is_int(weir_call_soon(loop, say_cb, "X"), 0, "call_soon");
    spawn_detached(loop, say_task, "B");
    weir_call_soon(loop, say_cb, "Y");
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "A X B Y", "callbacks and tasks share one FIFO");

    reset_order();
    spawn_detached(loop, task_calls_soon, "A");
    weir_call_soon(loop, say_cb, "X");
    spawn_detached(loop, say_task, "B");
    weir_call_soon(loop, chain_cb, "Y");
    weir_call_soon(loop, say_cb, "Z");
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "A X B Y Z from-task A2 chained",
           "work queued while running goes behind what was already queued");
    is_int(weir_loop_now(loop), 0, "callbacks take no time");
    weir_loop_free(loop);
}

/* Pending callbacks at weir_loop_free are not leaked (checked by ASan). */
static void test_free_with_pending_callbacks(void) {
    weir_loop *loop = new_loop();
    for (int i = 0; i < 10; i++) weir_call_soon(loop, say_cb, "late");
    weir_loop_free(loop);
    ok(1, "weir_loop_free with pending callbacks");
}

/* --- re-entrancy ---------------------------------------------------------------------- */

static int reentry_rc[3];
static size_t reentry_ready;

static int run_inside_task(void *arg) {
    weir_loop *loop = arg;
    reentry_rc[0] = weir_loop_run(loop);
    reentry_rc[1] = weir_loop_run_until(loop, WEIR_SEC);
    reentry_ready = weir_loop_run_ready(loop);
    return 0;
}

static void run_inside_callback(void *arg) { reentry_rc[2] = weir_loop_run(arg); }

static void test_reentry(void) {
    weir_loop *loop = new_loop();
    reset_order();
    spawn_detached(loop, run_inside_task, loop);
    spawn_detached(loop, say_task, "other");
    weir_call_soon(loop, run_inside_callback, loop);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(reentry_rc[0], WEIR_ESTATE, "weir_loop_run inside a task: WEIR_ESTATE");
    is_int(reentry_rc[1], WEIR_ESTATE, "weir_loop_run_until inside a task: WEIR_ESTATE");
    is_int(reentry_ready, 0, "weir_loop_run_ready inside a task runs nothing");
    is_int(reentry_rc[2], WEIR_ESTATE, "weir_loop_run inside a callback: WEIR_ESTATE");
    is_str(order, "other", "the other task ran once, from the outer run");
    is_int(weir_loop_now(loop), 0, "the clock did not move");

    /* The second loop is independent: spawning into it from a task of the first works. */
    weir_loop *other = new_loop();
    weir_task *t;
    weir_spawn(other, say_task, "second-loop", NULL, &t);
    is_int(weir_loop_run(other), 0, "run the second loop");
    is_int(weir_join(t, NULL), 0, "join");
    is_str(order, "other second-loop", "order");
    weir_loop_free(other);
    weir_loop_free(loop);
}

/* --- spawning after/while freeing ------------------------------------------------------- */

static int spawn_rc_during_free = 1;
static weir_task *spawned_during_free = (weir_task *)&spawn_rc_during_free;
static weir_loop *freeing_loop;

static int spawn_in_cleanup(void *arg) {
    (void)arg;
    weir_sleep(WEIR_SEC); /* cancelled by weir_loop_free */
    spawn_rc_during_free = weir_spawn(freeing_loop, say_task, "never", NULL, &spawned_during_free);
    return 0;
}

static void test_spawn_during_free(void) {
    weir_loop *loop = freeing_loop = new_loop();
    reset_order();
    spawn_detached(loop, spawn_in_cleanup, NULL);
    weir_loop_run_ready(loop);
    weir_loop_free(loop);
    ok(spawn_rc_during_free < 0, "spawn while the loop is being freed fails (%d)",
       spawn_rc_during_free);
    ok(spawned_during_free == NULL, "and hands back no task");
    is_str(order, "", "the refused task never ran");
}

/* --- stop and the step limit ----------------------------------------------------------- */

static weir_loop *stop_loop;

static int stopper(void *arg) {
    say(arg);
    weir_loop_stop(stop_loop);
    return 0;
}

static int yield_once(void *arg) {
    say(arg);
    weir_yield();
    say("B2");
    return 0;
}

static void timer_say(weir_timer *t, void *arg) {
    (void)t;
    say(arg);
}

static int spin_until_cancelled(void *arg) {
    (void)arg;
    while (weir_yield() == 0) {
    }
    return 0;
}

static void test_stop_and_steps(void) {
    weir_loop *loop = stop_loop = new_loop();
    reset_order();
    weir_timer timer = {0};
    weir_timer_start(loop, &timer, 5 * WEIR_MS, timer_say, "timer");
    spawn_detached(loop, stopper, "A");
    spawn_detached(loop, yield_once, "B");
    is_int(weir_loop_run(loop), 0, "a stopped run returns 0");
    is_str(order, "A B", "the iteration in progress finished, the next did not start");
    is_int(weir_loop_now(loop), 0, "the clock did not move");
    is_int(weir_loop_live_tasks(loop), 1, "B is still alive");
    is_int(weir_loop_run(loop), 0, "the next run goes on");
    is_str(order, "A B B2 timer", "from where it stopped");
    is_int(weir_loop_now(loop), 5 * WEIR_MS, "clock");

    reset_order();
    spawn_detached(loop, stopper, "S");
    spawn_detached(loop, yield_once, "B");
    is_int(weir_loop_run_until(loop, WEIR_SEC), 0, "stop works for run_until too");
    is_str(order, "S B", "order");
    is_int(weir_loop_now(loop), 5 * WEIR_MS, "and leaves the clock where it was");
    weir_loop_run(loop);

    /* Steps count tasks and callbacks. */
    uint64_t before = weir_loop_steps(loop);
    reset_order();
    spawn_detached(loop, say_task, "t1");
    spawn_detached(loop, yield_once, "t2"); /* two steps */
    weir_call_soon(loop, say_cb, "cb");
    is_int(weir_loop_run(loop), 0, "run");
    is_int(weir_loop_steps(loop) - before, 4, "four steps: t1, t2 twice, the callback");

    /* A livelock hits the step limit; each run call gets the full budget again. */
    weir_task *spin;
    weir_spawn(loop, spin_until_cancelled, NULL, NULL, &spin);
    weir_loop_set_step_limit(loop, 100);
    before = weir_loop_steps(loop);
    is_int(weir_loop_run(loop), WEIR_ESTALL, "a task that never stops yielding: WEIR_ESTALL");
    uint64_t used = weir_loop_steps(loop) - before;
    ok(used >= 100 && used <= 101, "after the limit of 100 steps (%llu)", (unsigned long long)used);
    before = weir_loop_steps(loop);
    is_int(weir_loop_run(loop), WEIR_ESTALL, "again");
    used = weir_loop_steps(loop) - before;
    ok(used >= 100 && used <= 101, "with a fresh budget (%llu)", (unsigned long long)used);
    is_int(weir_loop_now(loop), 5 * WEIR_MS, "no time passed");
    weir_task_cancel(spin);
    weir_loop_set_step_limit(loop, 0);
    is_int(weir_loop_run(loop), 0, "cancelled, it finishes");
    ok(weir_task_done(spin), "done");
    weir_join(spin, NULL);
    weir_loop_free(loop);
}

int main(void) {
    test_empty();
    test_clock_jumps();
    test_clock_waits_for_ready();
    test_backend_calls();
    test_deadlock();
    test_forever_timer();
    test_run_until();
    test_run_ready();
    test_call_soon();
    test_free_with_pending_callbacks();
    test_reentry();
    test_spawn_during_free();
    test_stop_and_steps();
    return done_testing();
}
