/* runner/net_run.c - run one network scenario on a simulator (docs/scenarios.md, "Network
 * scenarios").
 *
 * The declarations build the network in file order (hosts, links, faults; a range given
 * for a fixed setting is drawn here, once, from the seed's decision stream). Then every
 * server, peer and run gets a task on its host, servers first so that they listen before
 * anyone connects, and the simulator runs until nothing is left to happen. Each step is
 * checked as it completes, inside its task; the first mismatch is recorded and stops the
 * simulation. A peer or run still unfinished at the end fails the scenario with what every
 * blocked task waits for.
 *
 * Everything shown (diagnostics, verbose lines, the trace) depends only on the scenario and
 * the seed: times are virtual, and nothing prints a pointer or reads a clock. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/net_internal.h"
#include "sim/sim_internal.h"
#include "weir/net.h"
#include "weir/sim.h"
#include "weir/weir.h"

/* ---- outcomes ----------------------------------------------------------------------- */

void weir__net_outcome(int rc, weir__outcome *o) {
    memset(o, 0, sizeof *o);
    switch (rc) {
        case 0:
            o->kind = WEIR__OUT_NONE;
            break;
        case WEIR_ECONNRESET:
        case WEIR_ECONNLOST: /* asyncio: ConnectionResetError('Connection lost') */
            o->kind = WEIR__OUT_RESET;
            break;
        case WEIR_ECONNREFUSED:
            o->kind = WEIR__OUT_REFUSED;
            break;
        case WEIR_EPIPE:
            o->kind = WEIR__OUT_BROKEN_PIPE;
            break;
        case WEIR_ETIMEDOUT:
            o->kind = WEIR__OUT_TIMEOUT;
            break;
        case WEIR_EINCOMPLETE:
            o->kind = WEIR__OUT_INCOMPLETE;
            o->any = true;
            break;
        case WEIR_ELIMIT:
            o->kind = WEIR__OUT_LIMIT;
            o->any = true;
            break;
        case WEIR_EINVAL:
        case WEIR_ETOOLONG:
            o->kind = WEIR__OUT_VALUE_ERROR;
            break;
        case WEIR_EBUSY:
            o->kind = WEIR__OUT_RUNTIME_ERROR;
            break;
        default:
            o->kind =
                strcmp(weir__code_name(rc), "WEIR_E?") != 0 ? WEIR__OUT_CODE : WEIR__OUT_UNEXPECTED;
            o->num = rc;
    }
}

/* ---- checking ----------------------------------------------------------------------- */

static int time_clauses(weir__buf *b, const weir__step *s) {
    int rc = 0;
    if (s->has_within) {
        rc = weir__buf_printf(b, " within ");
        if (rc == 0) rc = weir__fmt_duration(b, s->within);
    }
    if (rc == 0 && s->has_after) {
        rc = weir__buf_printf(b, " after ");
        if (rc == 0) rc = weir__fmt_duration(b, s->after);
    }
    return rc;
}

/* A step that expects success when it has no `=>`: everything but a read's. */
static bool expects_success(const weir__step *s) {
    return !weir__step_is_read(s->kind) && s->kind != WEIR__STEP_EXPECT &&
           s->kind != WEIR__STEP_SLEEP;
}

static void stop(weir__netrun *R) {
    R->failed = true;
    weir_loop_stop(weir_sim_loop(R->sim));
}

static void where(weir__netrun *R, const weir__step *s) {
    weir__buf *d = &R->failure;
    if (weir__buf_printf(d, "# %s:%d: ", R->file->name, s->line) != 0 ||
        weir__fmt_step(d, s) != 0 || weir__buf_putc(d, '\n') != 0)
        R->error = WEIR_ENOMEM;
}

void weir__net_fail(weir__netrun *R, const weir__step *s, const char *fmt, ...) {
    if (R->failed || R->stopping) return;
    where(R, s);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (weir__buf_printf(&R->failure, "#   %s\n", msg) != 0) R->error = WEIR_ENOMEM;
    stop(R);
}

/* An outcome, cut short when it is long (a repeated string of 64 KiB would otherwise fill
 * the diagnostics twice over): at most MAX_SHOWN bytes of its text, then its size. */
#define MAX_SHOWN 200

static int fmt_short(weir__buf *b, const weir__outcome *o) {
    weir__buf t = {0};
    int rc = weir__fmt_outcome(&t, o);
    if (rc == 0 && t.len <= MAX_SHOWN)
        rc = weir__buf_append(b, t.data, t.len);
    else if (rc == 0)
        rc = weir__buf_printf(b, "%.*s... (%zu bytes)", MAX_SHOWN, t.data, o->bytes.len);
    weir__buf_free(&t);
    return rc;
}

/* A repeated string as the step wrote it: "ab" * 1000. */
static int fmt_payload(weir__buf *b, const weir__step *s) {
    weir__outcome one = s->expect;
    int rc = fmt_short(b, &one);
    return rc ? rc : weir__buf_printf(b, " * %" PRIu64, s->repeat);
}

/* What step s got. A repeated `expect` that read all its bytes reports them as the step's
 * expectation, one copy of the string (net_peer.c), so they are shown as the step wrote
 * them: not one copy, and not thousands of bytes. */
static int fmt_got(weir__buf *b, const weir__step *s, const weir__outcome *got) {
    if (s->kind == WEIR__STEP_EXPECT && s->repeat > 1 && weir__outcome_eq(&s->expect, got))
        return fmt_payload(b, s);
    return fmt_short(b, got);
}

/* "=> RESULT KEY=N ... within D after D" as the step would be written to pass with `got`;
 * or nothing for a step that needed no `=>` and succeeded. An `expect` that failed cannot
 * be written so: what it got follows as a comment. */
static int fmt_result(weir__buf *b, const weir__step *s, const weir__outcome *got,
                      const char *extra) {
    int rc = 0;
    if (s->kind == WEIR__STEP_EXPECT) {
        rc = time_clauses(b, s);
        if (rc == 0 && !weir__outcome_eq(&s->expect, got)) {
            rc = weir__buf_printf(b, "  # got ");
            if (rc == 0) rc = fmt_short(b, got);
        }
        return rc;
    }
    if (!(got->kind == WEIR__OUT_NONE && s->expect.kind == WEIR__OUT_NONE)) {
        rc = weir__buf_printf(b, " => ");
        if (rc == 0) rc = fmt_short(b, got);
        if (rc == 0 && extra != NULL && *extra) rc = weir__buf_printf(b, " %s", extra);
    }
    return rc ? rc : time_clauses(b, s);
}

bool weir__net_check(weir__actor *a, const weir__step *s, const weir__outcome *got, int64_t elapsed,
                     const char *extra_got) {
    weir__netrun *R = a->run;
    if (R->stopping) return false;
    int64_t now = weir_now();
    bool match;
    if (s->expect.kind == WEIR__OUT_NONE)
        match = expects_success(s) ? got->kind == WEIR__OUT_NONE : true;
    else
        match = weir__outcome_eq(&s->expect, got);
    /* The client's numbers: each KEY=N must be what it reported ("status=200 ..."). */
    const char *extra_want = NULL;
    weir__buf *t = &R->scratch;
    if (s->nchecks > 0) {
        /* Built even when the result differs: a failure shows the whole expectation. */
        weir__buf_reset(t);
        for (size_t i = 0; i < s->nchecks; i++)
            weir__buf_printf(t, "%s%s=%s", i ? " " : "", (const char *)s->checks[i].key.data,
                             (const char *)s->checks[i].value.data);
        extra_want = t->data;
        if (match) match = extra_got != NULL && t->data != NULL && strcmp(t->data, extra_got) == 0;
    }
    bool early = s->has_after && elapsed < s->after;
    bool late = s->has_within && elapsed > s->within;
    bool ok = match && !early && !late;

    /* A note in the trace: the outcome is part of what must repeat for a seed. */
    weir__buf line = {0};
    int rc = weir__fmt_step(&line, s);
    if (rc == 0) rc = fmt_result(&line, s, got, extra_got);
    if (rc == 0) weir_sim_note(R->sim, "step %d %s", s->line, line.data);
    if (rc == 0 && (R->flags & WEIR_SCENARIO_VERBOSE)) {
        rc = weir__buf_printf(&R->verbose, "#   %d: %s  # done at ", s->line, line.data);
        if (rc == 0) rc = weir__fmt_duration(&R->verbose, now);
        if (rc == 0 && elapsed > 0) {
            rc = weir__buf_printf(&R->verbose, ", took ");
            if (rc == 0) rc = weir__fmt_duration(&R->verbose, elapsed);
        }
        if (rc == 0) rc = weir__buf_putc(&R->verbose, '\n');
    }
    weir__buf_free(&line);
    if (rc != 0) R->error = rc;
    if (ok || R->failed) return ok;

    where(R, s);
    weir__buf *d = &R->failure;
    rc = weir__buf_printf(d, "#   expected: ");
    if (rc == 0) {
        if (s->expect.kind == WEIR__OUT_NONE && !expects_success(s))
            rc = weir__buf_printf(d, "anything");
        else if (s->kind == WEIR__STEP_EXPECT && s->repeat > 1)
            rc = fmt_payload(d, s);
        else
            rc = fmt_short(d, &s->expect);
    }
    if (rc == 0 && extra_want != NULL) rc = weir__buf_printf(d, " %s", extra_want);
    if (rc == 0) rc = time_clauses(d, s);
    if (rc == 0) rc = weir__buf_printf(d, "\n#        got: ");
    if (rc == 0) rc = fmt_got(d, s, got);
    if (rc == 0 && extra_want != NULL && extra_got != NULL && *extra_got)
        rc = weir__buf_printf(d, " %s", extra_got);
    if (rc == 0) rc = weir__buf_printf(d, " in ");
    if (rc == 0) rc = weir__fmt_duration(d, elapsed);
    if (rc == 0) rc = weir__buf_printf(d, " (at ");
    if (rc == 0) rc = weir__fmt_duration(d, now);
    if (rc == 0) rc = weir__buf_printf(d, ")\n");
    if (rc != 0) R->error = rc;
    stop(R);
    return false;
}

/* ---- building the network ----------------------------------------------------------- */

/* A fixed setting: its value, or a draw when the scenario gave a range. */
static int64_t fixed(weir__netrun *R, const weir__step *s, const char *what, weir__range r) {
    if (r.lo == r.hi) return r.lo;
    char label[96];
    snprintf(label, sizeof label, "line %d %s", s->line, what);
    return weir__sim_range(R->sim, label, (weir_sim_range){r.lo, r.hi});
}

static weir_sim_range per_use(weir__range r) { return (weir_sim_range){r.lo, r.hi}; }

static const char *any_host(weir_bytes name) {
    return name.len == 1 && name.data[0] == '*' ? "*" : (const char *)name.data;
}

static int declare(weir__netrun *R, const weir__step *s) {
    const weir__decl *d = s->decl;
    weir_sim *sim = R->sim;
    int rc = 0;
    switch (s->kind) {
        case WEIR__STEP_HOST:
            rc = weir_sim_add_host(sim, (const char *)d->name.data,
                                   d->addrs.len ? (const char *)d->addrs.data : NULL);
            if (rc != 0 && rc != WEIR_ENOMEM)
                weir__net_fail(R, s, "cannot add the host: %s (%s)", weir_errname(rc),
                               rc == WEIR_EADDRINUSE ? "name or address already taken"
                                                     : weir_strerror(rc));
            return rc == WEIR_ENOMEM ? rc : 0;
        case WEIR__STEP_LINK: {
            weir_sim_link l;
            memset(&l, 0, sizeof l);
            if (d->latency.set) l.latency = fixed(R, s, "latency", d->latency);
            if (d->jitter.set) l.jitter = per_use(d->jitter);
            if (d->bandwidth.set) l.bandwidth = fixed(R, s, "bandwidth", d->bandwidth);
            if (d->segment.set) l.segment = per_use(d->segment);
            if (d->connect_delay.set) l.connect_delay = per_use(d->connect_delay);
            if (d->window.set) l.window = (size_t)fixed(R, s, "window", d->window);
            const char *from = any_host(d->from), *to = any_host(d->to);
            rc = weir_sim_set_link(sim, from, to, &l);
            if (rc == 0 && d->both_ways) rc = weir_sim_set_link(sim, to, from, &l);
            break;
        }
        case WEIR__STEP_FAULT: {
            weir_sim_fault f = weir_sim_fault_init((weir_sim_fault_kind)d->fault);
            f.from = any_host(d->from);
            f.to = any_host(d->to);
            f.port = (int)d->port;
            if (d->at.set) f.at = fixed(R, s, "at", d->at);
            if (d->after.set) f.after_bytes = fixed(R, s, "after", d->after);
            if (d->has_pattern) f.pattern = d->pattern;
            if (d->nth.set) {
                int64_t nth = fixed(R, s, "nth", d->nth);
                f.nth = nth > INT32_MAX ? INT32_MAX : (int)nth;
            }
            f.probability = d->p;
            if (d->duration.set) f.duration = fixed(R, s, "for", d->duration);
            if (d->bytes.set) f.bytes = fixed(R, s, "bytes", d->bytes);
            rc = weir_sim_add_fault(sim, &f);
            break;
        }
        default:
            return 0;
    }
    if (rc == WEIR_ENOMEM) return rc;
    if (rc != 0)
        weir__net_fail(R, s, "the simulator refused it: %s (%s)", weir_errname(rc),
                       weir_strerror(rc));
    return 0;
}

/* ---- actors ------------------------------------------------------------------------- */

static int make_actors(weir__netrun *R) {
    const weir__scenario *sc = R->sc;
    R->actors = calloc(sc->nactors ? sc->nactors : 1, sizeof *R->actors);
    if (R->actors == NULL) return WEIR_ENOMEM;
    for (size_t k = 0; k < sc->nsteps; k++) {
        const weir__step *s = &sc->steps[k];
        if (s->kind != WEIR__STEP_SERVER && s->kind != WEIR__STEP_PEER && s->kind != WEIR__STEP_RUN)
            continue;
        weir__actor *a = &R->actors[R->nactors++];
        a->run = R;
        a->decl = s;
        a->kind = s->kind == WEIR__STEP_SERVER ? WEIR__ACTOR_SERVER
                  : s->kind == WEIR__STEP_PEER ? WEIR__ACTOR_PEER
                                               : WEIR__ACTOR_RUN;
        if (a->kind == WEIR__ACTOR_PEER && s->decl->nsteps > 0) {
            a->steps = calloc(s->decl->nsteps, sizeof *a->steps);
            if (a->steps == NULL) return WEIR_ENOMEM;
        }
    }
    /* A peer's steps, in file order: the n-th peer declared is peer index n. */
    size_t *peer_actor = calloc(sc->npeers ? sc->npeers : 1, sizeof *peer_actor);
    if (peer_actor == NULL) return WEIR_ENOMEM;
    for (size_t i = 0, n = 0; i < R->nactors; i++)
        if (R->actors[i].kind == WEIR__ACTOR_PEER) peer_actor[n++] = i;
    for (size_t k = 0; k < sc->nsteps; k++) {
        const weir__step *s = &sc->steps[k];
        if (s->peer < 0) continue;
        weir__actor *a = &R->actors[peer_actor[s->peer]];
        a->steps[a->nsteps++] = s;
    }
    free(peer_actor);
    return 0;
}

static int spawn(weir__netrun *R, weir__actor *a, weir_task_fn fn) {
    char name[96];
    const weir__decl *d = a->decl->decl;
    if (a->kind == WEIR__ACTOR_PEER)
        snprintf(name, sizeof name, "peer %s", (const char *)d->name.data);
    else if (a->kind == WEIR__ACTOR_SERVER)
        snprintf(name, sizeof name, "server %s:%" PRId64, (const char *)d->host.data, d->port);
    else
        snprintf(name, sizeof name, "run %s (line %d)", (const char *)d->handler.data,
                 a->decl->line);
    weir_task_opts o = {0, name};
    weir_task *t = NULL;
    int rc = weir_sim_spawn(R->sim, (const char *)d->host.data, fn, a, &o, &t);
    if (rc == WEIR_ENOMEM) return rc;
    if (rc != 0) {
        a->finished = true;
        weir__net_fail(R, a->decl, "cannot start it: %s", weir_errname(rc));
        return 0;
    }
    a->task = t;
    weir_task_detach(t);
    return 0;
}

/* Servers first, then listening peers, then the rest, each group in file order: at time
 * 0 everything that listens does so before anything connects. */
static int start_actors(weir__netrun *R) {
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < R->nactors && !R->failed; i++) {
            weir__actor *a = &R->actors[i];
            bool listens = a->kind == WEIR__ACTOR_PEER && a->decl->decl->listen;
            int want = a->kind == WEIR__ACTOR_SERVER ? 0 : listens ? 1 : 2;
            if (want != pass) continue;
            weir_task_fn fn = a->kind == WEIR__ACTOR_SERVER ? weir__server_task
                              : a->kind == WEIR__ACTOR_RUN  ? weir__run_task
                              : listens                     ? weir__peer_listen_task
                                                            : weir__peer_connect_task;
            int rc = spawn(R, a, fn);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

/* After the simulation: a peer or run that did not get to its end fails the scenario. */
static void unfinished(weir__netrun *R, int sim_rc) {
    for (size_t i = 0; i < R->nactors && !R->failed; i++) {
        weir__actor *a = &R->actors[i];
        if (a->done || a->kind == WEIR__ACTOR_SERVER) continue;
        const weir__step *s = a->cur != NULL ? a->cur : a->decl;
        weir__buf *t = &R->scratch;
        weir__buf_reset(t);
        weir__fmt_duration(t, weir_loop_now(weir_sim_loop(R->sim)));
        const char *why = sim_rc == WEIR_ESTALL ? "the time or step bound was hit"
                                                : "nothing left could make progress";
        if (a->kind == WEIR__ACTOR_PEER && a->decl->decl->listen && !a->accepted)
            weir__net_fail(R, s, "no connection came (the run ended at %s: %s)", t->data, why);
        else
            weir__net_fail(R, s, "still waiting when the run ended at %s: %s", t->data, why);
        /* What each blocked task waits for, from the simulator. */
        const char *rep = weir_sim_report(R->sim);
        while (rep != NULL && *rep) {
            const char *nl = strchr(rep, '\n');
            size_t n = nl ? (size_t)(nl - rep) : strlen(rep);
            weir__buf_printf(&R->failure, "#   %.*s\n", (int)n, rep);
            rep = nl ? nl + 1 : NULL;
        }
    }
}

/* Let every task that is still running unwind: cancel them and run the loop until they
 * have returned, so that they free what they hold while the network is still there. */
static void wind_down(weir__netrun *R) {
    R->stopping = true;
    weir_loop *loop = weir_sim_loop(R->sim);
    for (size_t i = 0; i < R->nactors; i++) {
        weir__actor *a = &R->actors[i];
        if (a->server != NULL) {
            weir_server_free(a->server);
            a->server = NULL;
        }
        if (!a->finished && a->task != NULL) weir_task_cancel(a->task);
    }
    weir_loop_run(loop);
    for (size_t i = 0; i < R->nactors; i++) {
        weir__actor *a = &R->actors[i];
        if (a->w != NULL && a->own_conn) {
            weir_writer_free(a->w);
            a->w = NULL;
            a->r = NULL;
        }
    }
    weir_loop_run(loop);
}

static void append_trace(weir__netrun *R, weir__buf *diag, uint64_t seed) {
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL) return;
    weir_sim_trace_write(R->sim, fp);
    if (fclose(fp) != 0) {
        free(text);
        return;
    }
    weir__buf_printf(diag, "# trace (seed %" PRIu64 "):\n", seed);
    for (const char *p = text; p != NULL && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        weir__buf_printf(diag, "#   %.*s\n", (int)n, p);
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    weir__buf_printf(diag, "# trace hash 0x%016" PRIx64 " (%zu records)\n",
                     weir_sim_trace_hash(R->sim), weir_sim_trace_count(R->sim));
}

int weir__net_run(const weir_scenario_file *f, size_t i, unsigned flags, uint64_t seed,
                  weir__buf *diag, uint64_t *hash, size_t *records, weir__buf *trace_lines) {
    weir__netrun R;
    memset(&R, 0, sizeof R);
    R.file = f;
    R.sc = &f->scenarios[i];
    R.flags = flags;
    weir_sim_opts so = {0};
    so.seed = seed;
    so.keep_trace = (flags & WEIR_SCENARIO_TRACE) != 0 || trace_lines != NULL;
    /* A scenario that never settles (a handler that loops) ends as a stall in well under
     * a second instead of the simulator's default 100 million steps. */
    so.max_steps = WEIR__NET_MAX_STEPS;
    int rc = weir_sim_new(&so, &R.sim);
    if (rc != 0) return rc;
    const weir__scenario *sc = R.sc;
    for (size_t k = 0; k < sc->nsteps && rc == 0 && !R.failed; k++) rc = declare(&R, &sc->steps[k]);
    if (rc == 0 && !R.failed) rc = make_actors(&R);
    if (rc == 0 && !R.failed) rc = start_actors(&R);
    int sim_rc = 0;
    if (rc == 0 && !R.failed) {
        sim_rc = weir_sim_run(R.sim);
        if (!R.failed) unfinished(&R, sim_rc);
    }
    if (rc == 0) rc = R.error;
    if (hash != NULL) *hash = weir_sim_trace_hash(R.sim);
    if (records != NULL) *records = weir_sim_trace_count(R.sim);
    if (trace_lines != NULL) {
        for (size_t k = 0; k < weir_sim_trace_count(R.sim); k++) {
            const char *l = weir_sim_trace_line(R.sim, k);
            weir__buf_append(trace_lines, l ? l : "", l ? strlen(l) + 1 : 1);
        }
    }
    if (rc == 0 && (flags & WEIR_SCENARIO_VERBOSE))
        rc = weir__buf_append(diag, R.verbose.data, R.verbose.len);
    if (rc == 0 && R.failed) rc = weir__buf_append(diag, R.failure.data, R.failure.len);
    if (rc == 0 && (flags & WEIR_SCENARIO_TRACE)) append_trace(&R, diag, seed);
    wind_down(&R);
    weir_sim_free(R.sim);
    for (size_t k = 0; k < R.nactors; k++) {
        weir__program_free(&R.actors[k]);
        free((void *)R.actors[k].steps);
    }
    free(R.actors);
    weir__buf_free(&R.failure);
    weir__buf_free(&R.verbose);
    weir__buf_free(&R.scratch);
    return rc != 0 ? rc : !R.failed;
}
