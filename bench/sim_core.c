/* bench/sim_core.c - the simulator's inner costs, each beside a baseline timed in the same
 * run:
 *
 * 1. Context switches: two tasks on a simulator loop yield to each other N times. One yield
 *    is two switches (task -> loop, loop -> other task) plus a ready-queue push and pop.
 *    Baselines: a bare weir__ctx_switch ping-pong between two stacks (what the switch
 *    itself costs) and an indirect function call (what "doing nothing" costs).
 * 2. Timers, two patterns. (a) N timers armed at scattered virtual times, then fired in
 *    (time, creation) order by running the simulator; baseline: the same (time, seq) pairs
 *    sorted with qsort and walked in order, calling the same callback. (b) The shape of a
 *    simulation: K timers in flight, each re-armed a scattered delay later when it fires,
 *    N fires in all; baseline: a sorted array of K (time, seq) entries, popped from the
 *    front and re-inserted by binary search and memmove.
 * 3. Draws: bounded draws from the decision stream, each recorded and hashed into the
 *    trace (what every simulated choice costs). Baseline: bare xoshiro256** outputs.
 *
 * Figures are the best of REPS repetitions (the machines are noisy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/ctx.h"
#include "sim/sim_internal.h"

#define REPS 5
#define YIELDS 1000000
#define TIMERS 1000000
#define DRAWS 5000000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static weir_sim *new_sim(void) {
    weir_sim *s;
    if (weir_sim_new(NULL, &s)) abort();
    return s;
}

/* --- 1. context switches ----------------------------------------------------------- */

static int yielder(void *arg) {
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        if (weir_yield()) abort();
    return 0;
}

/* ns per yield (task to task through the loop). */
static double yield_ns(void) {
    weir_sim *s = new_sim();
    long n = YIELDS;
    weir_task *a, *b;
    weir_spawn(weir_sim_loop(s), yielder, &n, NULL, &a);
    weir_spawn(weir_sim_loop(s), yielder, &n, NULL, &b);
    double t0 = now_s();
    if (weir_sim_run(s)) abort();
    double t = now_s() - t0;
    weir_join(a, NULL);
    weir_join(b, NULL);
    weir_sim_free(s);
    return t / (2.0 * YIELDS) * 1e9;
}

static weir__ctx main_ctx, side_ctx;
static volatile long side_count;

static void side_entry(void *arg) {
    (void)arg;
    for (;;) {
        side_count++;
        weir__ctx_switch(&side_ctx, &main_ctx);
    }
}

/* ns per bare switch (there and back counts as two). */
static double raw_switch_ns(void) {
    size_t size = 64 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) abort();
    weir__ctx_make(&side_ctx, stack, size, side_entry, NULL);
    double t0 = now_s();
    for (long i = 0; i < YIELDS; i++) weir__ctx_switch(&main_ctx, &side_ctx);
    double t = now_s() - t0;
    munmap(stack, size);
    if (side_count < YIELDS) abort();
    side_count = 0;
    return t / (2.0 * YIELDS) * 1e9;
}

static long sink;
static void noop(long i) { sink += i; }
static void (*volatile call)(long) = noop;

static double call_ns(void) {
    double t0 = now_s();
    for (long i = 0; i < YIELDS; i++) call(i);
    return (now_s() - t0) / YIELDS * 1e9;
}

/* --- 2. timers --------------------------------------------------------------------- */

static long fired;
static void on_timer(weir_timer *t, void *arg) {
    (void)t;
    (void)arg;
    fired++;
}

/* Scattered times in [0, 1 s): a multiplicative hash of i, so ties and disorder both
 * occur, the same in every run. */
static int64_t when_of(long i) { return (int64_t)(((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 34); }

/* Timers armed and fired per second. */
static double timers_per_s(weir_timer *timers) {
    weir_sim *s = new_sim();
    memset(timers, 0, sizeof *timers * TIMERS);
    fired = 0;
    double t0 = now_s();
    for (long i = 0; i < TIMERS; i++)
        weir_timer_start(weir_sim_loop(s), &timers[i], when_of(i), on_timer, NULL);
    if (weir_sim_run(s)) abort();
    double t = now_s() - t0;
    if (fired != TIMERS) abort();
    weir_sim_free(s);
    return TIMERS / t;
}

typedef struct entry {
    int64_t when;
    uint64_t seq;
} entry;

static int by_time(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->when != y->when) return x->when < y->when ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static double sorted_per_s(entry *e) {
    fired = 0;
    double t0 = now_s();
    for (long i = 0; i < TIMERS; i++) e[i] = (entry){when_of(i), (uint64_t)i};
    qsort(e, TIMERS, sizeof *e, by_time);
    for (long i = 0; i < TIMERS; i++) on_timer(NULL, &e[i]);
    double t = now_s() - t0;
    if (fired != TIMERS) abort();
    return TIMERS / t;
}

/* (b) K in flight. The delay of the i-th fire is scattered in [0, 1 ms). */
#define INFLIGHT 1000
static int64_t delay_of(long i) { return (int64_t)(((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 44); }

typedef struct rearm {
    weir_timer t;
    weir_loop *loop;
} rearm;

static void on_rearm(weir_timer *t, void *arg) {
    rearm *r = arg;
    if (++fired + INFLIGHT <= TIMERS)
        weir_timer_start(r->loop, t, weir_loop_now(r->loop) + delay_of(fired), on_rearm, r);
}

static double inflight_per_s(void) {
    weir_sim *s = new_sim();
    static rearm r[INFLIGHT];
    memset(r, 0, sizeof r);
    fired = 0;
    double t0 = now_s();
    for (long i = 0; i < INFLIGHT; i++) {
        r[i].loop = weir_sim_loop(s);
        weir_timer_start(r[i].loop, &r[i].t, delay_of(i), on_rearm, &r[i]);
    }
    if (weir_sim_run(s)) abort();
    double t = now_s() - t0;
    if (fired != TIMERS) abort();
    weir_sim_free(s);
    return TIMERS / t;
}

/* Sorted descending, so the earliest is at the end and popping is free. */
static double inflight_sorted_per_s(void) {
    static entry e[INFLIGHT];
    size_t n = 0;
    uint64_t seq = 0;
    int64_t now = 0;
    fired = 0;
    double t0 = now_s();
    for (long i = 0; i < INFLIGHT + TIMERS; i++) {
        entry x;
        if (i < INFLIGHT) {
            x = (entry){delay_of(i), seq++};
        } else {
            entry first = e[--n];
            now = first.when;
            on_timer(NULL, &first);
            if (fired + INFLIGHT > TIMERS) continue;
            x = (entry){now + delay_of(fired), seq++};
        }
        size_t lo = 0, hi = n; /* first index whose entry comes before x */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (by_time(&e[mid], &x) > 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(&e[lo + 1], &e[lo], (n - lo) * sizeof *e);
        e[lo] = x;
        n++;
    }
    double t = now_s() - t0;
    while (n) on_timer(NULL, &e[--n]);
    if (fired != TIMERS) abort();
    return TIMERS / t;
}

/* --- 3. draws ---------------------------------------------------------------------- */

static double draws_per_s(void) {
    weir_sim *s = new_sim();
    uint64_t acc = 0;
    double t0 = now_s();
    for (long i = 0; i < DRAWS; i++) acc += weir__sim_draw(s, "segment", 1000);
    double t = now_s() - t0;
    sink += (long)acc;
    weir_sim_free(s);
    return DRAWS / t;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static double raw_xoshiro_per_s(void) {
    uint64_t st[4] = {1, 2, 3, 4}, acc = 0;
    double t0 = now_s();
    for (long i = 0; i < DRAWS; i++) {
        uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
        st[2] ^= st[0], st[3] ^= st[1], st[1] ^= st[2], st[0] ^= st[3], st[2] ^= t;
        st[3] = rotl(st[3], 45);
        acc += r % 1000;
    }
    double t = now_s() - t0;
    sink += (long)acc;
    return DRAWS / t;
}

/* --- report ------------------------------------------------------------------------ */

static double best_min(double (*f)(void)) {
    double best = 1e30;
    for (int i = 0; i < REPS; i++) {
        double v = f();
        if (v < best) best = v;
    }
    return best;
}

static double best_max(double (*f)(void)) {
    double best = 0;
    for (int i = 0; i < REPS; i++) {
        double v = f();
        if (v > best) best = v;
    }
    return best;
}

static weir_timer *g_timers;
static entry *g_entries;
static double timers_rep(void) { return timers_per_s(g_timers); }
static double sorted_rep(void) { return sorted_per_s(g_entries); }

int main(void) {
    g_timers = malloc(sizeof *g_timers * TIMERS);
    g_entries = malloc(sizeof *g_entries * TIMERS);
    if (!g_timers || !g_entries) abort();

    double yield = best_min(yield_ns), raw = best_min(raw_switch_ns), fn = best_min(call_ns);
    double tim = best_max(timers_rep), sorted = best_max(sorted_rep);
    double infl = best_max(inflight_per_s), infl_sorted = best_max(inflight_sorted_per_s);
    double draws = best_max(draws_per_s), xo = best_max(raw_xoshiro_per_s);

    printf("context switch: %s; %d yields per task, 2 tasks; timers: %d; draws: %d; "
           "best of %d\n\n",
           weir__ctx_kind(), YIELDS, TIMERS, DRAWS, REPS);
    printf("| measure | weir | baseline | baseline is |\n");
    printf("|---|---:|---:|---|\n");
    printf("| ns per task switch (a yield is two) | %.1f | %.1f | bare weir__ctx_switch |\n",
           yield / 2, raw);
    printf("| ns per yield, task to task | %.1f | %.1f | indirect function call |\n", yield, fn);
    printf("| timers: %d armed, then fired; per s | %.2f M | %.2f M | qsort + walk of "
           "(time, seq) |\n",
           TIMERS, tim / 1e6, sorted / 1e6);
    printf("| timers: %d in flight, re-armed on firing; fires per s | %.2f M | %.2f M | "
           "sorted array, binary-search insert |\n",
           INFLIGHT, infl / 1e6, infl_sorted / 1e6);
    printf("| draws recorded + hashed, per s | %.1f M | %.1f M | bare xoshiro256** mod 1000 |\n",
           draws / 1e6, xo / 1e6);

    free(g_timers);
    free(g_entries);
    return sink == 42 ? 1 : 0;
}
