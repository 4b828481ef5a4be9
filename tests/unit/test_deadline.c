/* tests/unit/test_deadline.c - task deadlines: nested scopes, sleeps and waits that time out
 * exactly at the deadline, deadlines already passed, joins with a deadline, and the timer
 * behind a deadline being removed once the call returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "tap.h"
#include "virtual_util.h"

/* Run fn as the only task on a fresh loop; return its result and the loop's final clock. */
static int run_one(weir_task_fn fn, void *arg, int64_t *end) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, fn, arg, NULL, &t);
    int rc = weir_loop_run(loop);
    int r = -12345;
    if (rc == 0) weir_join(t, &r);
    if (end) *end = weir_loop_now(loop);
    weir_loop_free(loop);
    return rc == 0 ? r : rc;
}

static int rcs[16];
static int64_t times[16];

static void reset(void) {
    for (int i = 0; i < 16; i++) {
        rcs[i] = 12345;
        times[i] = -1;
    }
    reset_order();
}

/* --- outside a task ------------------------------------------------------------------- */

static void test_outside(void) {
    is_int(weir_deadline_get(), WEIR_FOREVER, "outside a task the deadline is WEIR_FOREVER");
    is_int(weir_deadline_set(5), WEIR_FOREVER, "setting it outside a task returns WEIR_FOREVER");
    is_int(weir_deadline_get(), WEIR_FOREVER, "and does nothing");
}

/* --- nested scopes -------------------------------------------------------------------- */

static int nested(void *arg) {
    (void)arg;
    int64_t d[8];
    d[0] = weir_deadline_get();
    int64_t outer = weir_deadline_set(weir_now() + 100 * WEIR_MS);
    d[1] = outer;
    d[2] = weir_deadline_get();
    {
        int64_t inner = weir_deadline_set(weir_now() + 50 * WEIR_MS);
        d[3] = inner;
        d[4] = weir_deadline_get();
        rcs[0] = weir_sleep(80 * WEIR_MS); /* the inner deadline cuts it short */
        times[0] = weir_now();
        d[5] = weir_deadline_set(inner);
    }
    d[6] = weir_deadline_get();
    rcs[1] = weir_sleep(40 * WEIR_MS); /* 50 + 40 = 90 < 100: completes */
    times[1] = weir_now();
    rcs[2] = weir_sleep(20 * WEIR_MS); /* would end at 110: cut at 100 */
    times[2] = weir_now();
    weir_deadline_set(outer);
    d[7] = weir_deadline_get();
    rcs[3] = weir_sleep(20 * WEIR_MS); /* no deadline now */
    times[3] = weir_now();
    is_int(d[0], WEIR_FOREVER, "a new task has no deadline");
    is_int(d[1], WEIR_FOREVER, "set returns the previous deadline (none)");
    is_int(d[2], 100 * WEIR_MS, "get returns the outer deadline");
    is_int(d[3], 100 * WEIR_MS, "the inner set returns the outer deadline");
    is_int(d[4], 50 * WEIR_MS, "get returns the inner deadline");
    is_int(d[5], 50 * WEIR_MS, "restoring returns the inner deadline");
    is_int(d[6], 100 * WEIR_MS, "the outer deadline is back");
    is_int(d[7], WEIR_FOREVER, "no deadline after the outer scope");
    return 0;
}

static void test_nested(void) {
    reset();
    int64_t end;
    is_int(run_one(nested, NULL, &end), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "sleep past the inner deadline: WEIR_ETIMEDOUT");
    is_int(times[0], 50 * WEIR_MS, "exactly at the inner deadline");
    is_int(rcs[1], 0, "a sleep that ends before the outer deadline succeeds");
    is_int(times[1], 90 * WEIR_MS, "at its own end");
    is_int(rcs[2], WEIR_ETIMEDOUT, "a sleep past the outer deadline: WEIR_ETIMEDOUT");
    is_int(times[2], 100 * WEIR_MS, "exactly at the outer deadline");
    is_int(rcs[3], 0, "with no deadline the sleep completes");
    is_int(times[3], 120 * WEIR_MS, "at its end");
    is_int(end, 120 * WEIR_MS, "no timer was left behind (clock ends at 120 ms)");
}

/* --- sleep past / before the deadline ------------------------------------------------- */

static int sleep_past(void *arg) {
    (void)arg;
    weir_deadline_set(30 * WEIR_MS);
    rcs[0] = weir_sleep_until(45 * WEIR_MS);
    times[0] = weir_now();
    return 0;
}

static int sleep_before(void *arg) {
    (void)arg;
    weir_deadline_set(30 * WEIR_MS);
    rcs[0] = weir_sleep(20 * WEIR_MS);
    times[0] = weir_now();
    /* Move the deadline later: the next sleep must not be cut at the old one (30 ms). */
    weir_deadline_set(200 * WEIR_MS);
    rcs[1] = weir_sleep(100 * WEIR_MS);
    times[1] = weir_now();
    return 0; /* returns with the deadline still set: its timer must be gone already */
}

static void test_sleep(void) {
    reset();
    int64_t end;
    is_int(run_one(sleep_past, NULL, &end), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "sleep_until past the deadline: WEIR_ETIMEDOUT");
    is_int(times[0], 30 * WEIR_MS, "at the deadline, not at the sleep's end");
    is_int(end, 30 * WEIR_MS, "the sleep's own timer was removed (clock ends at 30 ms)");

    reset();
    is_int(run_one(sleep_before, NULL, &end), 0, "run");
    is_int(rcs[0], 0, "a sleep ending before the deadline: 0");
    is_int(times[0], 20 * WEIR_MS, "at its end");
    is_int(rcs[1], 0, "after moving the deadline later, a sleep past the old one succeeds");
    is_int(times[1], 120 * WEIR_MS, "at its end");
    is_int(end, 120 * WEIR_MS, "no deadline timer was left behind (clock ends at 120 ms)");
}

/* --- a deadline already passed fails at the next block, without switching ------------- */

static int passed(void *arg) {
    (void)arg;
    weir_sleep(10 * WEIR_MS);
    weir_deadline_set(weir_now() - 1); /* passed 1 ns ago */
    say("p");
    rcs[0] = weir_yield();
    say("p-yield");
    rcs[1] = weir_sleep(0);
    rcs[2] = weir_sleep(WEIR_MS);
    rcs[3] = weir_sleep_until(weir_now() + WEIR_SEC);
    weir__waiter w = {0};
    rcs[4] = weir__wait(&w);
    rcs[5] = w.task == NULL;
    times[0] = weir_now();
    weir_deadline_set(0); /* long past */
    rcs[6] = weir_yield();
    weir_deadline_set(WEIR_FOREVER);
    rcs[7] = weir_yield();
    say("p-end");
    return 0;
}

static int neighbour(void *arg) {
    (void)arg;
    weir_sleep(10 * WEIR_MS);
    say("n");
    weir_yield();
    say("n2");
    return 0;
}

static void test_already_passed(void) {
    reset();
    weir_loop *loop = new_loop();
    weir_task *a, *b;
    weir_spawn(loop, passed, NULL, NULL, &a);
    weir_spawn(loop, neighbour, NULL, NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "yield after the deadline: WEIR_ETIMEDOUT");
    is_int(rcs[1], WEIR_ETIMEDOUT, "sleep(0): WEIR_ETIMEDOUT");
    is_int(rcs[2], WEIR_ETIMEDOUT, "sleep: WEIR_ETIMEDOUT");
    is_int(rcs[3], WEIR_ETIMEDOUT, "sleep_until: WEIR_ETIMEDOUT");
    is_int(rcs[4], WEIR_ETIMEDOUT, "weir__wait: WEIR_ETIMEDOUT");
    is_int(rcs[5], 1, "the waiter was not left pointing at the task");
    is_int(times[0], 10 * WEIR_MS, "all at once, no time passed");
    is_int(rcs[6], WEIR_ETIMEDOUT, "a deadline long past: WEIR_ETIMEDOUT");
    is_int(rcs[7], 0, "with the deadline cleared, yield works again");
    is_str(order, "p p-yield n p-end n2",
           "the failing calls did not switch away; the last yield did");
    is_int(weir_loop_now(loop), 10 * WEIR_MS, "clock");
    weir_join(a, NULL);
    weir_join(b, NULL);
    weir_loop_free(loop);
}

/* --- the deadline is inclusive (task.h): what is due at the deadline's instant is in time - */

static weir__waiter iw1, iw2, iw3;

static int inclusive_reader(void *arg) {
    (void)arg;
    weir_deadline_set(10 * WEIR_MS);
    rcs[0] = weir__wait(&iw1); /* blocked since 0; satisfied at exactly 10 ms */
    times[0] = weir_now();
    rcs[1] = weir__wait(&iw2); /* begins at 10 ms; satisfied later in that same instant */
    times[1] = weir_now();
    rcs[2] = weir__wait(&iw3); /* begins at 10 ms; nothing comes: times out at 10 ms */
    times[2] = weir_now();
    return 0;
}

static int inclusive_writer(void *arg) {
    (void)arg;
    weir_sleep_until(10 * WEIR_MS); /* its timer is armed after the reader's deadline timer */
    weir__wake(&iw1, 1);
    weir_yield(); /* the reader runs and starts its second wait */
    weir_yield();
    weir__wake(&iw2, 2);
    return 0;
}

static void test_inclusive(void) {
    reset();
    memset(&iw1, 0, sizeof iw1);
    memset(&iw2, 0, sizeof iw2);
    memset(&iw3, 0, sizeof iw3);
    weir_loop *loop = new_loop();
    weir_task *r, *w;
    weir_spawn(loop, inclusive_reader, NULL, NULL, &r);
    weir_spawn(loop, inclusive_writer, NULL, NULL, &w);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], 1, "a wake at exactly the deadline is in time");
    is_int(times[0], 10 * WEIR_MS, "at 10 ms");
    is_int(rcs[1], 2,
           "a wait that begins at the deadline instant and is satisfied later in that instant "
           "is in time too");
    is_int(times[1], 10 * WEIR_MS, "at 10 ms");
    is_int(rcs[2], WEIR_ETIMEDOUT, "a wait nothing satisfies in that instant times out");
    is_int(times[2], 10 * WEIR_MS, "still at 10 ms");
    is_int(weir_loop_now(loop), 10 * WEIR_MS, "the clock never passed the deadline");
    weir_join(r, NULL);
    weir_join(w, NULL);
    weir_loop_free(loop);
}

/* --- weir__wait with a deadline ------------------------------------------------------- */

static weir__waiter dw;

static int wait_with_deadline(void *arg) {
    int64_t deadline = *(int64_t *)arg;
    weir_deadline_set(deadline);
    rcs[0] = weir__wait(&dw);
    times[0] = weir_now();
    rcs[1] = dw.task == NULL;
    /* With no deadline, a later sleep is not cut short by what is left of the old one. */
    weir_deadline_set(WEIR_FOREVER);
    rcs[2] = weir_sleep(deadline + WEIR_SEC - weir_now());
    times[2] = weir_now();
    return 0;
}

static int waker(void *arg) {
    weir_sleep(*(int64_t *)arg);
    say("wake");
    weir__wake(&dw, 42);
    return 0;
}

static void test_wait_deadline(void) {
    /* Nobody wakes it: the deadline ends the wait. */
    reset();
    memset(&dw, 0, sizeof dw);
    int64_t deadline = 25 * WEIR_MS, end;
    is_int(run_one(wait_with_deadline, &deadline, &end), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "weir__wait nobody wakes: WEIR_ETIMEDOUT");
    is_int(times[0], 25 * WEIR_MS, "exactly at the deadline");
    is_int(rcs[1], 1, "the waiter is empty afterwards");
    is_int(rcs[2], 0, "with the deadline cleared, a sleep works again");
    is_int(end, 25 * WEIR_MS + WEIR_SEC, "and ends on time");

    /* Woken before the deadline: the wake's result, and the deadline timer is gone. */
    reset();
    memset(&dw, 0, sizeof dw);
    weir_loop *loop = new_loop();
    weir_task *a, *b;
    int64_t late = 500 * WEIR_MS, soon = 7 * WEIR_MS;
    weir_spawn(loop, wait_with_deadline, &late, NULL, &a);
    weir_spawn(loop, waker, &soon, NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], 42, "woken before the deadline: the wake's result");
    is_int(times[0], 7 * WEIR_MS, "at the wake");
    is_int(rcs[2], 0, "a later sleep past the old deadline, with none set, succeeds");
    is_int(times[2], 500 * WEIR_MS + WEIR_SEC, "at its end");
    weir_join(a, NULL);
    weir_join(b, NULL);

    weir_loop_free(loop);

    /* Woken after the deadline fired: the late wake is a no-op. */
    reset();
    memset(&dw, 0, sizeof dw);
    loop = new_loop();
    int64_t early = 12 * WEIR_MS, after = 16 * WEIR_MS;
    weir_spawn(loop, wait_with_deadline, &early, NULL, &a);
    weir_spawn(loop, waker, &after, NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "the deadline came first");
    is_int(times[0], 12 * WEIR_MS, "at the deadline (12 ms), before the wake at 16 ms");
    is_str(order, "wake", "the waker still ran, its wake found nobody");
    is_int(rcs[2], 0, "the late wake did not cut the next sleep short");
    is_int(times[2], 12 * WEIR_MS + WEIR_SEC, "it ended on time");
    is_int(weir_join(a, NULL), 0, "join");
    is_int(weir_join(b, NULL), 0, "join");
    weir_loop_free(loop);
}

/* --- the same deadline for several tasks ---------------------------------------------- */

static int block_until(void *arg) {
    weir_yield(); /* B blocks first: A yields once before blocking */
    weir_deadline_set(10 * WEIR_MS);
    weir__waiter w = {0};
    int rc = weir__wait(&w);
    char word[32];
    snprintf(word, sizeof word, "%s:%lld", (const char *)arg, (long long)(weir_now() / WEIR_MS));
    say(word);
    return rc;
}

static int block_now(void *arg) {
    weir_deadline_set(10 * WEIR_MS);
    weir__waiter w = {0};
    int rc = weir__wait(&w);
    char word[32];
    snprintf(word, sizeof word, "%s:%lld", (const char *)arg, (long long)(weir_now() / WEIR_MS));
    say(word);
    return rc;
}

static void test_equal_deadlines(void) {
    reset();
    weir_loop *loop = new_loop();
    weir_task *a, *b;
    weir_spawn(loop, block_until, "A", NULL, &a);
    weir_spawn(loop, block_now, "B", NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "B:10 A:10", "equal deadlines expire in the order the tasks blocked");
    int ra = 0, rb = 0;
    weir_join(a, &ra);
    weir_join(b, &rb);
    is_int(ra, WEIR_ETIMEDOUT, "A timed out");
    is_int(rb, WEIR_ETIMEDOUT, "B timed out");
    weir_loop_free(loop);
}

/* --- join with a deadline ------------------------------------------------------------- */

static int slow(void *arg) {
    (void)arg;
    weir_sleep(40 * WEIR_MS);
    return 8;
}

static int join_with_deadline(void *arg) {
    weir_task *target = arg;
    int r = -1;
    weir_deadline_set(15 * WEIR_MS);
    rcs[0] = weir_join(target, &r);
    times[0] = weir_now();
    rcs[1] = r;
    rcs[2] = weir_task_done(target);
    weir_deadline_set(WEIR_FOREVER);
    rcs[3] = weir_join(target, &r);
    times[1] = weir_now();
    rcs[4] = r;
    return 0;
}

static void test_join_deadline(void) {
    reset();
    weir_loop *loop = new_loop();
    weir_task *target, *j;
    weir_spawn(loop, slow, NULL, NULL, &target);
    weir_spawn(loop, join_with_deadline, target, NULL, &j);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], WEIR_ETIMEDOUT, "join past the deadline: WEIR_ETIMEDOUT");
    is_int(times[0], 15 * WEIR_MS, "at the deadline");
    is_int(rcs[1], -1, "no result stored");
    ok(!rcs[2], "the target is still running");
    is_int(rcs[3], 0, "joining again without a deadline succeeds");
    is_int(times[1], 40 * WEIR_MS, "when the target finished");
    is_int(rcs[4], 8, "with its result");
    weir_join(j, NULL);
    weir_loop_free(loop);
}

/* --- cancel during a deadline-bounded wait -------------------------------------------- */

static int bounded_sleeper(void *arg) {
    (void)arg;
    weir_deadline_set(50 * WEIR_MS);
    rcs[0] = weir_sleep(WEIR_SEC);
    times[0] = weir_now();
    return 0;
}

static int canceller(void *arg) {
    weir_sleep(20 * WEIR_MS);
    weir_task_cancel(arg);
    return 0;
}

static void test_cancel_before_deadline(void) {
    reset();
    weir_loop *loop = new_loop();
    weir_task *s, *c;
    weir_spawn(loop, bounded_sleeper, NULL, NULL, &s);
    weir_spawn(loop, canceller, s, NULL, &c);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(rcs[0], WEIR_ECANCELED, "a cancel before the deadline: WEIR_ECANCELED");
    is_int(times[0], 20 * WEIR_MS, "at the cancel");
    is_int(weir_loop_now(loop), 20 * WEIR_MS, "neither the deadline nor the sleep timer remains");
    weir_join(s, NULL);
    weir_join(c, NULL);
    weir_loop_free(loop);
}

/* --- a deadline stays in force after it fired, for every later call ------------------ */

static int deadline_then_yields(void *arg) {
    (void)arg;
    weir_deadline_set(5 * WEIR_MS);
    for (int i = 0; i < 3; i++)
        if (weir_yield() != 0) return -1;
    rcs[0] = weir_sleep(2 * WEIR_MS);
    rcs[1] = weir_sleep(2 * WEIR_MS);
    rcs[2] = weir_sleep(2 * WEIR_MS);
    times[0] = weir_now();
    rcs[3] = weir_sleep(2 * WEIR_MS);
    return 0;
}

static void test_deadline_persists(void) {
    reset();
    int64_t end;
    is_int(run_one(deadline_then_yields, NULL, &end), 0, "yields before the deadline succeed");
    is_int(rcs[0], 0, "sleep to 2 ms");
    is_int(rcs[1], 0, "sleep to 4 ms");
    is_int(rcs[2], WEIR_ETIMEDOUT, "sleep to 6 ms cut at 5 ms");
    is_int(times[0], 5 * WEIR_MS, "at 5 ms");
    is_int(rcs[3], WEIR_ETIMEDOUT, "the deadline stays in force for later calls");
    is_int(end, 5 * WEIR_MS, "and the failed call added no timer");
}

/* --- nothing of a deadline remains once the call it bounded returned ----------------- */

static weir__waiter leftover_w;

static int deadline_then_plain_wait(void *arg) {
    (void)arg;
    weir_deadline_set(30 * WEIR_MS);
    rcs[0] = weir_sleep(20 * WEIR_MS); /* ends before the deadline */
    weir_deadline_set(WEIR_FOREVER);
    rcs[1] = weir__wait(&leftover_w); /* no deadline: only a wake ends it */
    times[1] = weir_now();
    return 0;
}

static void test_no_leftover(void) {
    reset();
    memset(&leftover_w, 0, sizeof leftover_w);
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, deadline_then_plain_wait, NULL, NULL, &t);
    is_int(weir_loop_run(loop), WEIR_EDEADLOCK, "the plain wait is stuck");
    is_int(rcs[0], 0, "the sleep ended before the deadline");
    is_int(weir_loop_now(loop), 20 * WEIR_MS,
           "the clock stayed at 20 ms: no timer of the old deadline (30 ms) was left armed");
    weir__wake(&leftover_w, 5);
    is_int(weir_loop_run(loop), 0, "woken from outside, it finishes");
    is_int(rcs[1], 5, "with the wake's result");
    is_int(times[1], 20 * WEIR_MS, "at 20 ms");
    weir_join(t, NULL);
    weir_loop_free(loop);
}

int main(void) {
    test_outside();
    test_nested();
    test_sleep();
    test_already_passed();
    test_inclusive();
    test_wait_deadline();
    test_equal_deadlines();
    test_join_deadline();
    test_cancel_before_deadline();
    test_deadline_persists();
    test_no_leftover();
    return done_testing();
}
