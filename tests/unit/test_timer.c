/* tests/unit/test_timer.c - timers: (deadline, creation order), stop, restart, move, timers
 * armed from timer callbacks and from tasks, timers in the past, a heap stress test against
 * a reference order. Virtual backend: every firing time is exact. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "tap.h"
#include "virtual_util.h"

/* A timer that logs "name@ms" when it fires. */
typedef struct named_timer {
    weir_timer timer;
    const char *name;
    weir_loop *loop;
    int fired;
    int armed_in_callback;
} named_timer;

static void log_fire(weir_timer *timer, void *arg) {
    named_timer *nt = arg;
    char w[64];
    snprintf(w, sizeof w, "%s@%lld", nt->name, (long long)(weir_loop_now(nt->loop) / WEIR_MS));
    say(w);
    nt->fired++;
    nt->armed_in_callback = weir_timer_armed(timer);
}

static void arm(weir_loop *loop, named_timer *nt, const char *name, int64_t when_ms) {
    nt->name = name;
    nt->loop = loop;
    weir_timer_start(loop, &nt->timer, when_ms * WEIR_MS, log_fire, nt);
}

/* --- order ---------------------------------------------------------------------------- */

static void test_order(void) {
    weir_loop *loop = new_loop();
    reset_order();
    named_timer t[6];
    memset(t, 0, sizeof t);
    arm(loop, &t[0], "a", 30);
    arm(loop, &t[1], "b", 10);
    arm(loop, &t[2], "c", 20);
    arm(loop, &t[3], "d", 10);
    arm(loop, &t[4], "e", 0);
    arm(loop, &t[5], "f", 20);
    for (int i = 0; i < 6; i++) ok(weir_timer_armed(&t[i].timer), "timer %d armed", i);
    is_int(weir_loop_run(loop), 0, "run with only timers returns 0");
    is_str(order, "e@0 b@10 d@10 c@20 f@20 a@30", "fired by deadline, ties in creation order");
    is_int(weir_loop_now(loop), 30 * WEIR_MS, "the clock stops at the last timer");
    for (int i = 0; i < 6; i++) {
        is_int(t[i].fired, 1, "timer %d fired once", i);
        ok(!weir_timer_armed(&t[i].timer), "timer %d disarmed after firing", i);
        ok(!t[i].armed_in_callback, "timer %d already disarmed inside its callback", i);
    }
    weir_loop_free(loop);
}

static void test_equal_deadlines(void) {
    weir_loop *loop = new_loop();
    reset_order();
    named_timer t[8];
    memset(t, 0, sizeof t);
    const char *names[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
    for (int i = 0; i < 8; i++) arm(loop, &t[i], names[i], 10);
    weir_loop_run(loop);
    is_str(order, "t0@10 t1@10 t2@10 t3@10 t4@10 t5@10 t6@10 t7@10",
           "equal deadlines fire in creation order");

    /* Restarting gives the timer a new place in the creation order. */
    reset_order();
    arm(loop, &t[0], "A", 20);
    arm(loop, &t[1], "B", 20);
    arm(loop, &t[2], "C", 20);
    arm(loop, &t[0], "A", 20);
    weir_loop_run(loop);
    is_str(order, "B@20 C@20 A@20", "a re-armed timer goes behind timers with the same deadline");
    is_int(t[0].fired, 2, "re-arming an armed timer does not make it fire twice");
    weir_loop_free(loop);
}

/* --- stop, restart, move -------------------------------------------------------------- */

static void test_stop_move(void) {
    weir_loop *loop = new_loop();
    reset_order();
    named_timer a, b, c, d, never;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    memset(&d, 0, sizeof d);
    memset(&never, 0, sizeof never);
    ok(!weir_timer_armed(&never.timer), "a zeroed timer is not armed");
    weir_timer_stop(loop, &never.timer);
    ok(!weir_timer_armed(&never.timer), "stopping a never-armed timer is a no-op");

    arm(loop, &a, "a", 10);
    arm(loop, &b, "b", 20);
    arm(loop, &c, "c", 100);
    arm(loop, &d, "d", 5);
    weir_timer_stop(loop, &a.timer);
    ok(!weir_timer_armed(&a.timer), "stopped timer is disarmed");
    weir_timer_stop(loop, &a.timer);
    ok(!weir_timer_armed(&a.timer), "stopping twice is a no-op");
    arm(loop, &c, "c", 15); /* moved earlier */
    arm(loop, &d, "d", 50); /* moved later */
    weir_loop_run(loop);
    is_str(order, "c@15 b@20 d@50", "stopped timer never fires; moved timers fire at the new time");
    is_int(a.fired, 0, "a never fired");
    is_int(c.fired, 1, "c fired once");
    is_int(d.fired, 1, "d fired once");
    is_int(weir_loop_now(loop), 50 * WEIR_MS, "the clock did not visit c's old time (100)");

    /* Stop everything: run returns at once and the clock stays. */
    reset_order();
    arm(loop, &a, "a", 70);
    arm(loop, &b, "b", 80);
    weir_timer_stop(loop, &b.timer);
    weir_timer_stop(loop, &a.timer);
    is_int(weir_loop_run(loop), 0, "run with every timer stopped");
    is_str(order, "", "nothing fired");
    is_int(weir_loop_now(loop), 50 * WEIR_MS, "the clock did not move");

    /* A stopped timer can be started again. */
    arm(loop, &a, "a", 60);
    weir_loop_run(loop);
    is_str(order, "a@60", "restart after stop");
    weir_loop_free(loop);
}

/* --- timers armed and stopped from timer callbacks ------------------------------------ */

typedef struct chain {
    named_timer self;
    named_timer *other;
    int64_t other_when_ms; /* -1: stop `other` instead of starting it */
    const char *other_name;
} chain;

static void chain_fire(weir_timer *timer, void *arg) {
    chain *c = arg;
    log_fire(timer, &c->self);
    if (c->other_when_ms < 0)
        weir_timer_stop(c->self.loop, &c->other->timer);
    else
        arm(c->self.loop, c->other, c->other_name, c->other_when_ms);
}

static void test_from_callbacks(void) {
    weir_loop *loop = new_loop();
    reset_order();
    named_timer before, victim, later, past, plain;
    memset(&before, 0, sizeof before);
    memset(&victim, 0, sizeof victim);
    memset(&later, 0, sizeof later);
    memset(&past, 0, sizeof past);
    memset(&plain, 0, sizeof plain);
    chain stopper = {.other = &victim, .other_when_ms = -1};
    chain starter = {.other = &later, .other_when_ms = 25, .other_name = "later"};
    chain back = {.other = &past, .other_when_ms = 3, .other_name = "past"};
    stopper.self.name = "stopper";
    stopper.self.loop = loop;
    starter.self.name = "starter";
    starter.self.loop = loop;
    back.self.name = "back";
    back.self.loop = loop;

    arm(loop, &before, "before", 10);
    weir_timer_start(loop, &stopper.self.timer, 10 * WEIR_MS, chain_fire, &stopper);
    arm(loop, &victim, "victim", 10);
    weir_timer_start(loop, &starter.self.timer, 10 * WEIR_MS, chain_fire, &starter);
    weir_timer_start(loop, &back.self.timer, 20 * WEIR_MS, chain_fire, &back);
    arm(loop, &plain, "plain", 30);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "before@10 stopper@10 starter@10 back@20 past@20 later@25 plain@30",
           "a timer stopped by an earlier callback at the same time does not fire; timers "
           "started from callbacks fire at their time (a past one at the current time)");
    is_int(victim.fired, 0, "victim never fired");
    weir_loop_free(loop);
}

/* A periodic timer: re-arms itself from its own callback. */
typedef struct periodic {
    weir_timer timer;
    weir_loop *loop;
    int64_t period;
    int left;
    int64_t times[8];
    int n;
} periodic;

static void periodic_fire(weir_timer *timer, void *arg) {
    periodic *p = arg;
    p->times[p->n++] = weir_loop_now(p->loop);
    if (--p->left > 0)
        weir_timer_start(p->loop, timer, weir_loop_now(p->loop) + p->period, periodic_fire, p);
}

static void test_periodic(void) {
    weir_loop *loop = new_loop();
    periodic p = {.loop = loop, .period = 10 * WEIR_MS, .left = 5};
    weir_timer_start(loop, &p.timer, 10 * WEIR_MS, periodic_fire, &p);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(p.n, 5, "a self-re-arming timer fired 5 times");
    for (int i = 0; i < p.n && i < 5; i++)
        is_int(p.times[i], (i + 1) * 10 * WEIR_MS, "firing %d at %d ms", i, (i + 1) * 10);
    weir_loop_free(loop);
}

/* A timer whose callback re-arms it for the current time must not fire again in the same
 * tick: "a time in the past fires on the next tick", so ready work runs in between (as in
 * asyncio, where call_at(now) from a callback runs on the next _run_once). Otherwise a
 * callback that keeps re-arming itself at `now` would spin inside one tick forever. */
typedef struct rearm_now {
    weir_timer timer;
    weir_loop *loop;
    int left;
} rearm_now;

static void rearm_now_fire(weir_timer *timer, void *arg) {
    rearm_now *r = arg;
    say("T");
    if (--r->left > 0) weir_timer_start(r->loop, timer, weir_loop_now(r->loop), rearm_now_fire, r);
}

static void say_cb(void *arg) { say(arg); }

static void test_rearm_now_next_tick(void) {
    weir_loop *loop = new_loop();
    reset_order();
    rearm_now r = {.loop = loop, .left = 3};
    weir_timer_start(loop, &r.timer, 0, rearm_now_fire, &r);
    weir_call_soon(loop, say_cb, "X");
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "T X T T",
           "a timer re-armed at `now` from its callback fires on the next tick, after ready "
           "work");
    weir_loop_free(loop);
}

/* --- timers in the past --------------------------------------------------------------- */

static void test_past(void) {
    weir_loop *loop = new_loop();
    reset_order();
    named_timer a, b, c, x, y;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    is_int(weir_loop_run_until(loop, 50 * WEIR_MS), 0, "advance the clock to 50 ms");
    is_int(weir_loop_now(loop), 50 * WEIR_MS, "clock at 50 ms");
    arm(loop, &a, "a", 60);
    arm(loop, &b, "b", 10);  /* in the past */
    arm(loop, &c, "c", -20); /* before time began */
    weir_loop_run_ready(loop);
    is_str(order, "c@50 b@50", "past timers fire on the next tick, earliest deadline first");
    is_int(weir_loop_now(loop), 50 * WEIR_MS, "the clock did not go backwards or forwards");
    ok(weir_timer_armed(&a.timer), "the future timer is still armed");

    reset_order();
    arm(loop, &x, "x", 50); /* due now, created first */
    arm(loop, &y, "y", 40); /* in the past, created later: the earlier deadline wins */
    weir_loop_run(loop);
    is_str(order, "y@50 x@50 a@60", "(deadline, creation order), not creation order alone");
    weir_loop_free(loop);
}

/* --- timers armed from tasks ---------------------------------------------------------- */

static named_timer task_timer;

static int arm_past_then_yield(void *arg) {
    weir_loop *loop = arg;
    weir_sleep_until(50 * WEIR_MS);
    arm(loop, &task_timer, "p", 0);
    say("armed");
    weir_yield();
    say("resumed");
    return 0;
}

static int sleep_and_say(void *arg) {
    weir_sleep_until(10 * WEIR_MS);
    say(arg);
    return 0;
}

static int yield_sleep_and_say(void *arg) {
    weir_yield();
    weir_sleep_until(10 * WEIR_MS);
    say(arg);
    return 0;
}

static named_timer tt[3];

static int arm_from_task(void *arg) {
    weir_loop *loop = arg;
    arm(loop, &tt[1], "from-task-15", 15);
    arm(loop, &tt[2], "from-task-5", 5);
    weir_sleep(20 * WEIR_MS);
    say("task-done");
    return 0;
}

static void test_from_tasks(void) {
    weir_loop *loop = new_loop();
    reset_order();
    memset(&task_timer, 0, sizeof task_timer);
    weir_task *t;
    weir_spawn(loop, arm_past_then_yield, loop, NULL, &t);
    weir_task_detach(t);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "armed p@50 resumed",
           "a past timer armed by a task fires on the next tick, before the task resumes");

    /* Sleeps are timers too: equal wake times go in the order the sleeps began. */
    reset_order();
    weir_loop *l2 = new_loop();
    weir_task *a, *b;
    weir_spawn(l2, yield_sleep_and_say, "A", NULL, &a); /* sleeps second */
    weir_spawn(l2, sleep_and_say, "B", NULL, &b);       /* sleeps first */
    weir_task_detach(a);
    weir_task_detach(b);
    weir_loop_run(l2);
    is_str(order, "B A", "tasks sleeping to the same time wake in the order they slept");
    weir_loop_free(l2);

    /* Timers armed from a task interleave with timers armed from outside. */
    reset_order();
    weir_loop *l3 = new_loop();
    memset(tt, 0, sizeof tt);
    arm(l3, &tt[0], "outside-15", 15);
    weir_spawn(l3, arm_from_task, l3, NULL, &t);
    weir_task_detach(t);
    weir_loop_run(l3);
    is_str(order, "from-task-5@5 outside-15@15 from-task-15@15 task-done",
           "timers from a task and from outside share one (deadline, creation) order");
    is_int(weir_loop_now(l3), 20 * WEIR_MS, "clock at the task's wake-up");
    weir_loop_free(l3);
    weir_loop_free(loop);
}

/* --- heap stress against a reference order -------------------------------------------- */

enum { NSTRESS = 3000 };

typedef struct stress_timer {
    weir_timer timer;
    int64_t when;
    uint64_t order; /* reference creation order (last start) */
    bool armed;     /* reference: armed when the run begins */
} stress_timer;

static stress_timer st[NSTRESS];
static int fired_seq[NSTRESS], nfired, bad_time;
static weir_loop *stress_loop;

static void stress_fire(weir_timer *timer, void *arg) {
    stress_timer *s = arg;
    int i = (int)(s - st);
    if (weir_loop_now(stress_loop) != s->when) bad_time++;
    if (nfired < NSTRESS) fired_seq[nfired++] = i;
    (void)timer;
    /* Every fifth timer stops the next one (a no-op if that one fired already). */
    if (i % 5 == 0 && i + 1 < NSTRESS) weir_timer_stop(stress_loop, &st[i + 1].timer);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int by_key(const void *pa, const void *pb) {
    const stress_timer *a = &st[*(const int *)pa], *b = &st[*(const int *)pb];
    if (a->when != b->when) return a->when < b->when ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void test_heap_stress(void) {
    weir_loop *loop = stress_loop = new_loop();
    memset(st, 0, sizeof st);
    uint64_t counter = 0;
    for (int i = 0; i < NSTRESS; i++) {
        st[i].when = (int64_t)(rng() % 64) * WEIR_MS; /* many ties */
        st[i].order = counter++;
        st[i].armed = true;
        weir_timer_start(loop, &st[i].timer, st[i].when, stress_fire, &st[i]);
    }
    /* Churn: stop some, move some, restart some at the same time. */
    for (int k = 0; k < 4 * NSTRESS; k++) {
        int i = (int)(rng() % NSTRESS);
        switch (rng() % 3) {
            case 0:
                weir_timer_stop(loop, &st[i].timer);
                st[i].armed = false;
                break;
            case 1:
                st[i].when = (int64_t)(rng() % 64) * WEIR_MS;
                /* fallthrough */
            default:
                st[i].order = counter++;
                st[i].armed = true;
                weir_timer_start(loop, &st[i].timer, st[i].when, stress_fire, &st[i]);
                break;
        }
    }
    int armed_ok = 1;
    for (int i = 0; i < NSTRESS; i++)
        if (weir_timer_armed(&st[i].timer) != st[i].armed) armed_ok = 0;
    ok(armed_ok, "weir_timer_armed matches the reference after churn");

    /* The reference: armed timers sorted by (when, order), minus those stopped by an
     * earlier callback. */
    static int expect[NSTRESS];
    int n = 0;
    for (int i = 0; i < NSTRESS; i++)
        if (st[i].armed) expect[n++] = i;
    qsort(expect, (size_t)n, sizeof expect[0], by_key);
    static bool stopped[NSTRESS], done[NSTRESS];
    int m = 0;
    for (int k = 0; k < n; k++) {
        int i = expect[k];
        if (stopped[i]) continue;
        expect[m++] = i;
        done[i] = true;
        if (i % 5 == 0 && i + 1 < NSTRESS && !done[i + 1]) stopped[i + 1] = true;
    }

    nfired = bad_time = 0;
    is_int(weir_loop_run(loop), 0, "run");
    is_int(nfired, m, "as many timers fired as the reference says");
    int same = nfired == m;
    for (int k = 0; same && k < m; k++)
        if (fired_seq[k] != expect[k]) {
            same = 0;
            printf("# first difference at %d: fired %d, expected %d\n", k, fired_seq[k], expect[k]);
        }
    ok(same, "fired in exactly the reference (deadline, creation order)");
    is_int(bad_time, 0, "every timer fired with the clock at its deadline");
    weir_loop_free(loop);
}

/* --- callbacks that stop and move other timers, against a reference scheduler ---------- */

enum { NMODEL = 2000, MAX_FIRES = 20000 };

typedef struct model_timer {
    weir_timer timer;
    int64_t when; /* when it was last armed for */
    int fires;
} model_timer;

static model_timer mt[NMODEL];
static weir_loop *model_loop;
static int real_seq[MAX_FIRES], real_n, model_bad_time;
static int64_t real_when[MAX_FIRES];

/* The reference: a plain array scanned for the earliest (when, order). */
static int64_t ref_when[NMODEL];
static uint64_t ref_order[NMODEL], ref_counter;
static bool ref_armed[NMODEL];
static int ref_fires[NMODEL];

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* What the c-th firing of timer i does: the same in the real run and in the reference. */
typedef struct action {
    int kind; /* 0 nothing, 1 stop j, 2 (re)arm j at now + d */
    int j;
    int64_t d;
} action;

static action action_for(int i, int c, int total) {
    uint64_t r = splitmix((uint64_t)i * 1000003u + (uint64_t)c);
    action a = {0, (int)((r >> 8) % NMODEL), (int64_t)(1 + (r >> 24) % 50) * WEIR_MS};
    if (total >= MAX_FIRES - 1) return a;
    switch (r % 4) {
        case 0:
            a.kind = 1;
            break;
        case 1:
            a.kind = 2;
            break;
        case 2:
            if (c < 3) {
                a.kind = 2;
                a.j = i;
            }
            break;
        default:
            break;
    }
    return a;
}

static void model_fire(weir_timer *timer, void *arg) {
    model_timer *m = arg;
    int i = (int)(m - mt);
    int64_t now = weir_loop_now(model_loop);
    (void)timer;
    if (now != m->when) model_bad_time++;
    if (real_n < MAX_FIRES) {
        real_seq[real_n] = i;
        real_when[real_n] = now;
    }
    action a = action_for(i, m->fires++, real_n++);
    if (a.kind == 1) weir_timer_stop(model_loop, &mt[a.j].timer);
    if (a.kind == 2) {
        mt[a.j].when = now + a.d;
        weir_timer_start(model_loop, &mt[a.j].timer, now + a.d, model_fire, &mt[a.j]);
    }
}

static void test_model(void) {
    weir_loop *loop = model_loop = new_loop();
    memset(mt, 0, sizeof mt);
    real_n = model_bad_time = 0;
    ref_counter = 0;
    for (int i = 0; i < NMODEL; i++) {
        int64_t when = (int64_t)(splitmix((uint64_t)i) % 64) * WEIR_MS;
        mt[i].when = when;
        weir_timer_start(loop, &mt[i].timer, when, model_fire, &mt[i]);
        ref_when[i] = when;
        ref_order[i] = ref_counter++;
        ref_armed[i] = true;
        ref_fires[i] = 0;
    }
    is_int(weir_loop_run(loop), 0, "run");

    /* The reference run. */
    int n = 0, same = 1, first_diff = -1;
    for (;;) {
        int best = -1;
        for (int i = 0; i < NMODEL; i++)
            if (ref_armed[i] && (best < 0 || ref_when[i] < ref_when[best] ||
                                 (ref_when[i] == ref_when[best] && ref_order[i] < ref_order[best])))
                best = i;
        if (best < 0) break;
        int64_t now = ref_when[best];
        ref_armed[best] = false;
        if (n < MAX_FIRES && same && (n >= real_n || real_seq[n] != best || real_when[n] != now)) {
            same = 0;
            first_diff = n;
        }
        action a = action_for(best, ref_fires[best]++, n++);
        if (a.kind == 1) ref_armed[a.j] = false;
        if (a.kind == 2) {
            ref_armed[a.j] = true;
            ref_when[a.j] = now + a.d;
            ref_order[a.j] = ref_counter++;
        }
    }
    ok(n > NMODEL, "the reference fired %d times (timers re-armed by callbacks)", n);
    is_int(real_n, n, "the loop fired as many times as the reference");
    ok(same && real_n == n,
       "same timers in the same order at the same times (first difference: %d)", first_diff);
    is_int(model_bad_time, 0, "each timer fired with the clock at its deadline");
    weir_loop_free(loop);
}

int main(void) {
    test_order();
    test_equal_deadlines();
    test_stop_move();
    test_from_callbacks();
    test_periodic();
    test_rearm_now_next_tick();
    test_past();
    test_from_tasks();
    test_heap_stress();
    test_model();
    return done_testing();
}
