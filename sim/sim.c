/* sim/sim.c - the simulator as a loop backend: a virtual clock, the run and its bounds,
 * the stall report.
 *
 * The clock stands still while anything is runnable; when nothing is, `wait` jumps it to
 * the next timer. Everything the network does (a segment arriving, a delayed connect) is a
 * timer on the loop, so "nothing runnable and no timer" means nothing can ever happen again.
 * The struct weir_sim is the backend's impl; its `free` op is empty because the simulator
 * owns the loop, not the other way round (weir_sim_free frees both, in a safe order). */
#include <stdio.h>
#include <stdlib.h>

#include "core/net_internal.h"
#include "sim/sim_internal.h"

#define DEFAULT_MAX_TIME (3600 * WEIR_SEC)
#define DEFAULT_MAX_STEPS 100000000ull

/* --- the backend ------------------------------------------------------------------- */

static int64_t sim_now(void *impl) { return ((weir_sim *)impl)->now; }

static int sim_wait(void *impl, weir_loop *loop, int64_t deadline) {
    weir_sim *s = impl;
    /* No timer: nothing outside the loop can make anything happen, so the loop is idle. */
    if (deadline == WEIR_FOREVER) return 0;
    if (deadline > s->max_time) {
        /* The next event lies past the time bound: the clock ends at the bound and the run
         * stops (weir_sim_run turns that into WEIR_ESTALL). This is decided here rather than
         * by weir_loop_run_until, because run_until cannot tell "nothing scheduled" from
         * "scheduled past the bound" (both reach wait with the bound as deadline), and the
         * first must stay a deadlock or a clean finish. */
        if (s->max_time > s->now) s->now = s->max_time;
        s->time_up = true;
        weir_loop_stop(loop);
        return 1;
    }
    if (deadline > s->now) s->now = deadline;
    return 1;
}

static uint64_t sim_random(void *impl) { return weir__sim_draw64(impl, "random"); }

/* The loop never frees the simulator: weir_sim_free does, after the loop. */
static void sim_free_nothing(void *impl) { (void)impl; }

static const weir_backend_ops sim_ops = {
    .name = "sim",
    .now = sim_now,
    .wait = sim_wait,
    .free = sim_free_nothing,
    .random = sim_random,
    .net = &weir__simnet_ops,
};

weir_sim *weir__sim_of(weir_loop *loop) {
    /* The simulator's network ops are unique to it, so they identify a simulator loop
     * through core's one accessor for a loop's backend. */
    void *impl;
    const weir_net_ops *net = weir__loop_net(loop, &impl);
    return net == &weir__simnet_ops ? impl : NULL;
}

/* --- life cycle -------------------------------------------------------------------- */

int weir_sim_new(const weir_sim_opts *opts, weir_sim **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    weir_sim_opts o = opts ? *opts : (weir_sim_opts){0};
    if (o.max_time < 0 || (!o.decisions && o.decisions_len)) return WEIR_EINVAL;
    weir_sim *s = calloc(1, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    s->seed = o.seed;
    s->max_time = o.max_time ? o.max_time : DEFAULT_MAX_TIME;
    s->max_steps = o.max_steps ? o.max_steps : DEFAULT_MAX_STEPS;
    s->keep = o.keep_trace;
    weir__sim_decide_init(s, &o);
    weir__sim_trace_init(s);
    int rc = weir_loop_new(&sim_ops, s, &s->loop);
    if (rc) goto fail;
    rc = weir__simnet_new(s);
    if (rc) goto fail_loop;
    *out = s;
    return WEIR_OK;
fail_loop:
    weir_loop_free(s->loop);
fail:
    free(s);
    return rc;
}

void weir_sim_free(weir_sim *s) {
    if (!s) return;
    /* The loop first: freeing it cancels every task and lets it unwind, and an unwinding
     * task may still close a connection or be woken from one, so the network must outlive
     * it. Draws and trace records made while unwinding land in s, which is still here. */
    weir_loop_free(s->loop);
    s->loop = NULL;
    weir__simnet_free(s);
    weir__sim_trace_free(s);
    free(s->report);
    free(s);
}

weir_loop *weir_sim_loop(weir_sim *s) { return s ? s->loop : NULL; }

weir_sim *weir_sim_current(void) {
    weir_loop *loop = weir_current_loop();
    return loop ? weir__sim_of(loop) : NULL;
}

uint64_t weir_sim_seed(const weir_sim *s) { return s ? s->seed : 0; }

/* --- running ----------------------------------------------------------------------- */

typedef struct report_ctx {
    weir_sim *s;
    FILE *f;
} report_ctx;

static void report_task(void *arg, weir_task *t, const char *what, int64_t since) {
    report_ctx *c = arg;
    const char *name = weir_task_name(t);
    const char *host = weir__simnet_task_host(c->s, t);
    char ms[32];
    fprintf(c->f, "task %s", *name ? name : "(unnamed)");
    if (host) fprintf(c->f, " on %s", host);
    fprintf(c->f, ": blocked in %s since %sms\n", what, weir__sim_fmt_ms(ms, since));
}

/* One line per blocked task, oldest task first. On allocation failure the report is "". */
static void build_report(weir_sim *s) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    report_ctx c = {s, f};
    weir__loop_blocked(s->loop, report_task, &c);
    if (fclose(f) == 0)
        s->report = text;
    else
        free(text);
}

int weir_sim_run(weir_sim *s) {
    if (!s) return WEIR_EINVAL;
    free(s->report);
    s->report = NULL;
    s->time_up = false;
    weir_loop_set_step_limit(s->loop, s->max_steps);
    int rc = weir_loop_run(s->loop);
    if (rc == WEIR_OK && s->time_up) rc = WEIR_ESTALL;
    if (rc == WEIR_ESTALL || rc == WEIR_EDEADLOCK) build_report(s);
    return rc;
}

const char *weir_sim_report(const weir_sim *s) { return s && s->report ? s->report : ""; }
