/* tests/unit/test_timer_model.c - the timer heap against a reference model, with callbacks
 * that arm, re-arm and stop timers (their own and others, armed or not, in the past or the
 * future) while the loop is firing.
 *
 * core/loop.c keeps (when, seq) keys in a 4-ary heap and leaves the fired timer's root slot
 * empty while its callback runs (the next timer armed goes straight into it). Those are
 * shortcuts the firing order must not see. The model here is the rule as docs/architecture.md
 * states it, written the slow way: an array of timers; a pass fires, at the current time,
 * the earliest armed timer by (when, seq) for as long as that one is due and was armed
 * before the pass began (one armed during the pass, even in the past, ends it: it waits for
 * the next pass, and so does everything after it); when a pass fires nothing, the clock
 * jumps to the earliest armed timer. Both run the same
 * callbacks, whose random choices come from one generator restarted per run, so as long as
 * the firing orders agree the actions agree; the test compares the two orders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "tap.h"

enum { NTIMERS = 64, MAX_FIRES = 20000 };

/* What the callbacks act on: the real loop or the model. */
typedef struct world {
    bool real;
    weir_loop *loop;
    weir_timer timers[NTIMERS];
    /* the model */
    bool armed[NTIMERS];
    int64_t when[NTIMERS];
    uint64_t seq[NTIMERS];
    uint64_t next_seq;
    int64_t now;
    /* what happened */
    int fired[MAX_FIRES];
    int64_t fired_at[MAX_FIRES];
    int nfired;
    uint64_t rng;
    int budget; /* arms left, so the run ends */
} world;

static uint64_t next_rand(world *w) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static int64_t now_of(world *w) { return w->real ? weir_loop_now(w->loop) : w->now; }

static void on_fire(weir_timer *t, void *arg);

static void arm(world *w, int i, int64_t when) {
    if (w->budget <= 0) return;
    w->budget--;
    if (w->real) {
        weir_timer_start(w->loop, &w->timers[i], when, on_fire, w);
    } else {
        w->armed[i] = true;
        w->when[i] = when;
        w->seq[i] = ++w->next_seq;
    }
}

static void stop(world *w, int i) {
    if (w->real)
        weir_timer_stop(w->loop, &w->timers[i]);
    else
        w->armed[i] = false;
}

/* A fired timer records itself, then does zero to three random things. */
static void act(world *w, int i) {
    if (w->nfired < MAX_FIRES) {
        w->fired[w->nfired] = i;
        w->fired_at[w->nfired] = now_of(w);
        w->nfired++;
    }
    int n = (int)(next_rand(w) % 4);
    for (int k = 0; k < n; k++) {
        uint64_t r = next_rand(w);
        int j = (int)(r % NTIMERS);
        int64_t now = now_of(w);
        switch ((r >> 8) % 6) {
            case 0:
                arm(w, i, now + (int64_t)((r >> 16) % 50));
                break; /* itself, later */
            case 1:
                arm(w, j, now + (int64_t)((r >> 16) % 50));
                break; /* another, later */
            case 2:
                arm(w, j, now);
                break; /* due now: next pass */
            case 3:
                arm(w, j, now - (int64_t)((r >> 16) % 5));
                break; /* in the past */
            case 4:
                stop(w, j);
                break;
            default:
                arm(w, j, now + (int64_t)((r >> 16) % 3));
                break; /* many ties */
        }
    }
}

static void on_fire(weir_timer *t, void *arg) {
    world *w = arg;
    act(w, (int)(t - w->timers));
}

static void start(world *w, bool real, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->real = real;
    w->rng = seed;
    w->budget = 5000;
    if (real && weir_loop_new_virtual(&w->loop) != 0) {
        printf("Bail out! weir_loop_new_virtual failed\n");
        exit(1);
    }
    for (int i = 0; i < NTIMERS; i++) arm(w, i, (int64_t)(next_rand(w) % 100));
}

/* The armed timer with the earliest (when, seq), or -1. */
static int earliest(world *w) {
    int best = -1;
    for (int i = 0; i < NTIMERS; i++) {
        if (!w->armed[i]) continue;
        if (best < 0 || w->when[i] < w->when[best] ||
            (w->when[i] == w->when[best] && w->seq[i] < w->seq[best]))
            best = i;
    }
    return best;
}

static void run_model(world *w) {
    for (;;) {
        uint64_t armed_before = w->next_seq;
        int fired = 0, i;
        while ((i = earliest(w)) >= 0 && w->when[i] <= w->now && w->seq[i] <= armed_before) {
            w->armed[i] = false;
            act(w, i);
            fired++;
        }
        if (fired) continue;
        if (i < 0) return;
        if (w->when[i] > w->now) w->now = w->when[i];
    }
}

static world real_w, model_w;

static void compare(uint64_t seed) {
    start(&real_w, true, seed);
    is_int(weir_loop_run(real_w.loop), 0, "seed %llu: the loop runs out", (unsigned long long)seed);
    start(&model_w, false, seed);
    run_model(&model_w);
    int same = real_w.nfired == model_w.nfired;
    int first = -1;
    int common = real_w.nfired < model_w.nfired ? real_w.nfired : model_w.nfired;
    for (int k = 0; first < 0 && k < common; k++)
        if (real_w.fired[k] != model_w.fired[k] || real_w.fired_at[k] != model_w.fired_at[k]) {
            same = 0;
            first = k;
        }
    if (!same && first < 0) printf("# %d firings, the model %d\n", real_w.nfired, model_w.nfired);
    if (first >= 0)
        printf("# first difference at firing %d: timer %d at %lld, model: timer %d at %lld\n",
               first, real_w.fired[first], (long long)real_w.fired_at[first], model_w.fired[first],
               (long long)model_w.fired_at[first]);
    ok(same, "seed %llu: %d firings, in the model's order and at its times",
       (unsigned long long)seed, real_w.nfired);
    bool none_armed = true;
    for (int i = 0; i < NTIMERS; i++)
        none_armed = none_armed && !weir_timer_armed(&real_w.timers[i]);
    ok(none_armed, "seed %llu: nothing left armed", (unsigned long long)seed);
    weir_loop_free(real_w.loop);
}

int main(void) {
    for (uint64_t seed = 1; seed <= 50; seed++) compare(seed * 0x9E3779B97F4A7C15ull);
    return done_testing();
}
