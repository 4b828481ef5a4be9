/* fuzz/sim_schedule.c - the simulator's decision stream as the fuzz input, on the bundled
 * line-echo and HTTP examples.
 *
 * The whole input is a decision stream (docs/simulator.md, "Decision stream"). It draws,
 * in this order, one byte each: the mode; for client -> server and then server -> client a
 * link (segment sizes, jitter, latency, bandwidth, window); zero to two faults (kind,
 * direction, trigger, its value, a parameter, a probability); the mode's configuration.
 * Then, as the simulation runs, it draws every segment's size and delay and every fault's
 * probability: the schedule. fuzz/sim_schedule_seeds.py writes seeds byte for byte.
 *
 *   mode 0  line_client sends K distinct lines through line_echo (window, server limit
 *           drawn). Every line must come back once and in order (the client compares each
 *           echo with its line: any loss, reordering or duplication is a mismatch or a
 *           missing echo), or the client reports an error the faults or an over-long line
 *           explain. An echo that differs is never explained: a cut stream gives a partial
 *           last line without "\n", which the client reports as IncompleteReadError.
 *   mode 1  http_get against http_responder (path, status, reason, body, both limits
 *           drawn): the response's status, head length and body, or 431 for a request over
 *           the server's limit, or LimitOverrunError for a response head over the client's,
 *           or an error the faults explain; never a malformed head (sim_schedule_http.c).
 *   mode 2  a scripted server sends a generated response head and body; the client's
 *           weir_http_read_head must give exactly the fields sent, or the exact error (65
 *           headers: malformed at that header; over the limit: LimitOverrunError), or one
 *           the faults explain; the body read after it is a prefix of the one sent.
 *
 * Without a fault that can break the exchange, every run must succeed: that is what
 * catches silent loss. With one, a run may fail, but only with an error that fault can
 * cause, and a run that succeeds must still be exact. The client has a deadline, so only a
 * stall or a hang can run into it; a client still running at the end, or a run stopped by
 * the step bound, is a hang or a livelock.
 *
 * A failure prints the invariant and the run's timeline (the input is run again with its
 * trace kept: the simulator is deterministic), then aborts. WEIR_FUZZ_TRACE=1 prints the
 * timeline of every input. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/sim_schedule.h"

/* Each exchange is a few hundred steps; a million means a livelock. */
#define MAX_STEPS 1000000

bool sched_fail(sched *w, const char *fmt, ...) {
    if (w->failure[0]) return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->failure, sizeof w->failure, fmt, ap);
    va_end(ap);
    return false;
}

bool sched_error_ok(const sched *w, int rc, int extra) {
    if (rc == extra && rc != 0) return true;
    if (rc == WEIR_ETIMEDOUT) return w->can_stall;
    if (rc == WEIR_EINCOMPLETE || rc == WEIR_ECONNRESET || rc == WEIR_ECONNLOST || rc == WEIR_EPIPE)
        return w->may_fail;
    return false;
}

int sched_client_task(void *arg) {
    sched_client *c = arg;
    weir_deadline_set(weir_now() + SCHED_DEADLINE);
    c->rc = c->fn(c->arg);
    c->done = true;
    return c->rc;
}

/* --- the world: links and faults ---------------------------------------------------- */

static void draw_link(sched *w, const char *from, const char *to) {
    static const int64_t segment[] = {0, 1, 2, 5, 16, 64};
    static const int64_t jitter[] = {0, 1000, WEIR_MS, 10 * WEIR_MS};
    static const int64_t latency[] = {0, 100 * WEIR_US, 5 * WEIR_MS};
    static const int64_t bandwidth[] = {0, 1000000, 1000000000};
    static const size_t window[] = {0, 7, 100};
    /* One statement per draw: the order of the draws is the input format, and the order
     * in which an initializer list is evaluated is unspecified. */
    weir_sim_link l = {0};
    l.segment = (weir_sim_range){1, segment[sched_draw(w, "cfg segment", 6)]};
    l.jitter = (weir_sim_range){0, jitter[sched_draw(w, "cfg jitter", 4)]};
    l.latency = latency[sched_draw(w, "cfg latency", 3)];
    l.bandwidth = bandwidth[sched_draw(w, "cfg bandwidth", 3)];
    l.window = window[sched_draw(w, "cfg window", 3)];
    if (l.segment.hi == 0) l.segment.lo = 0; /* whole writes */
    if (weir_sim_set_link(w->s, from, to, &l)) abort();
}

/* One fault; `pattern` is the mode's line ending (a natural place to cut). */
static void draw_fault(sched *w, const char *pattern) {
    static const weir_sim_fault_kind kinds[] = {WEIR_FAULT_EOF,        WEIR_FAULT_RESET,
                                                WEIR_FAULT_HOLD,       WEIR_FAULT_LIMIT_DATA,
                                                WEIR_FAULT_SLOW_CLOSE, WEIR_FAULT_STALL};
    weir_sim_fault f = weir_sim_fault_init(kinds[sched_draw(w, "cfg fault kind", 6)]);
    bool to_client = sched_draw(w, "cfg fault direction", 2);
    f.from = to_client ? "server" : "client";
    f.to = to_client ? "client" : "server";
    switch (sched_draw(w, "cfg fault trigger", 4)) {
        case 1:
            f.after_bytes = (int64_t)sched_draw(w, "cfg fault after", 100);
            break;
        case 2:
            f.at = (int64_t)sched_draw(w, "cfg fault at", 50) * WEIR_MS;
            break;
        case 3:
            f.pattern = weir_bytes_of(pattern, strlen(pattern));
            break;
        default: /* no trigger: from set-up */
            break;
    }
    bool cut = true;
    switch (f.kind) {
        case WEIR_FAULT_HOLD: {
            static const int64_t hold[] = {0, WEIR_MS, 30 * WEIR_MS};
            f.duration = hold[sched_draw(w, "cfg hold", 3)];
            /* A hold that heals only delays; one that never does is a stall. */
            cut = f.duration == 0;
            w->can_stall |= cut;
            break;
        }
        case WEIR_FAULT_SLOW_CLOSE:
            f.duration = sched_draw(w, "cfg slow close", 2) ? 30 * WEIR_MS : WEIR_MS;
            cut = false;
            break;
        case WEIR_FAULT_LIMIT_DATA:
            f.bytes = (int64_t)sched_draw(w, "cfg limit data", 100);
            w->cs_cut = w->sc_cut = true; /* it cuts both directions */
            break;
        case WEIR_FAULT_RESET:
            w->cs_cut = w->sc_cut = true; /* both ends are reset */
            break;
        case WEIR_FAULT_STALL:
            w->can_stall = true;
            break;
        default:
            break;
    }
    if (sched_draw(w, "cfg fault p", 2)) f.probability = 0.5;
    if (cut) {
        w->may_fail = true;
        if (to_client)
            w->sc_cut = true;
        else
            w->cs_cut = true;
    }
    if (weir_sim_add_fault(w->s, &f)) abort();
}

static void draw_world(sched *w, const char *pattern) {
    if (weir_sim_add_host(w->s, "client", "10.0.0.1") ||
        weir_sim_add_host(w->s, "server", "10.0.0.2"))
        abort();
    draw_link(w, "client", "server");
    draw_link(w, "server", "client");
    for (uint64_t n = sched_draw(w, "cfg faults", 3); n > 0; n--) draw_fault(w, pattern);
}

/* --- mode 0: line_client through line_echo ----------------------------------------- */

#define MAX_LINES 16

typedef struct line_run {
    weir_endpoint target;
    weir_line_client_cfg cfg;
} line_run;

static int run_line_client(void *arg) {
    line_run *l = arg;
    return weir_line_client(&l->target, &l->cfg);
}

static bool line_echo_mode(sched *w) {
    /* K distinct lines: "L<i>:" and drawn filler, which holds no "\n" but CR, NUL, ... */
    static const char filler[] = "ab \r\t-~\0xyz";
    char text[MAX_LINES][48];
    weir_bytes lines[MAX_LINES];
    size_t k = 1 + sched_draw(w, "cfg lines", MAX_LINES), total = 0, longest = 0;
    for (size_t i = 0; i < k; i++) {
        size_t len = (size_t)snprintf(text[i], sizeof text[i], "L%zu:", i);
        for (size_t n = sched_draw(w, "cfg line length", 24); n > 0; n--, len++)
            text[i][len] = filler[(i + len) % (sizeof filler - 1)];
        lines[i] = weir_bytes_of(text[i], len);
        total += len + 1;
        if (len > longest) longest = len;
    }
    static const int64_t limits[] = {0, 16, 6};
    int64_t limit = limits[sched_draw(w, "cfg server limit", 3)];
    size_t windows[] = {0, 1, 2, k};
    size_t window = windows[sched_draw(w, "cfg window", 4)];
    /* A line over the server's limit stops line_echo (readline's ValueError), which then
     * closes: the client sees EOF or a reset, as with a fault. */
    bool over = limit && (int64_t)longest > limit;
    w->may_fail |= over;

    weir_line_echo_stats stats = {0};
    weir_line_client_result res = {0};
    line_run l = {.target = {.host = "server", .port = 7},
                  .cfg = {.lines = lines, .nlines = k, .window = window, .result = &res}};
    sched_client c = {.fn = run_line_client, .arg = &l};
    weir_server *srv = NULL;
    weir_server_opts so = {.limit = limit};
    if (weir_start_server(weir_sim_loop(w->s), weir_line_echo, &stats, "server", 7, &so, &srv) ||
        weir_sim_spawn(w->s, "client", sched_client_task, &c, NULL, NULL))
        abort();
    int run = weir_sim_run(w->s);
    weir_server_free(srv);
    snprintf(w->outcome, sizeof w->outcome,
             "line_client %s: %zu lines, %zu sent, %zu received; line_echo echoed %zu",
             weir_errname(c.rc), k, res.sent, res.received, stats.lines);

    if (!c.done)
        return sched_fail(w, "line_client did not finish (run: %s): a hang", weir_errname(run));
    if (run == WEIR_ESTALL) return sched_fail(w, "the run hit its step bound: a livelock");
    if (c.rc != res.error)
        return sched_fail(w, "line_client returned %s but reported %s", weir_errname(c.rc),
                          weir_errname(res.error));
    if (res.sent > k || res.received > res.sent)
        return sched_fail(w, "line_client: %zu sent, %zu received of %zu lines", res.sent,
                          res.received, k);
    /* A write that fails (the connection reset while it was being sent) may still have
     * put a prefix of its line on the wire: line_echo can echo that line, partially. */
    size_t tried = res.sent + (c.rc != 0 && res.sent < k), tried_bytes = 0;
    for (size_t i = 0; i < tried; i++) tried_bytes += lines[i].len + 1;
    if (stats.lines > tried || stats.bytes > tried_bytes)
        return sched_fail(w, "line_echo echoed %zu lines (%zu bytes) of %zu sent: duplication",
                          stats.lines, stats.bytes, res.sent);
    if (c.rc == WEIR_EMISMATCH)
        return sched_fail(w,
                          "the echo of line %zu differed from it: loss, reordering or "
                          "duplication",
                          res.mismatch);
    /* line_echo counts a line once its drain returned: under a fault that resets it, the
     * echo may have passed while its drain failed, so its counts are exact only without. */
    if (c.rc == 0 && (res.received != k || res.sent != k ||
                      (!w->may_fail && (stats.lines != k || stats.bytes != total))))
        return sched_fail(w, "line_client succeeded with %zu of %zu lines received, %zu echoed",
                          res.received, k, stats.lines);
    if (c.rc && !sched_error_ok(w, c.rc, 0))
        return sched_fail(w,
                          "line_client failed with %s, which nothing drawn explains (%zu of "
                          "%zu lines received)",
                          weir_errname(c.rc), res.received, k);
    if (!w->may_fail && run != 0)
        return sched_fail(w, "the run ended with %s, with nothing to break it", weir_errname(run));
    return true;
}

/* --- the entry point ---------------------------------------------------------------- */

/* One run of the input; false with w->failure set when an invariant failed. */
static bool run_input(const uint8_t *data, size_t size, FILE *trace) {
    sched w = {0};
    weir_sim_opts o = {.decisions = data ? data : (const uint8_t *)"",
                       .decisions_len = size,
                       .keep_trace = trace != NULL,
                       .max_steps = MAX_STEPS};
    if (weir_sim_new(&o, &w.s)) abort();
    uint64_t mode = sched_draw(&w, "cfg mode", 3);
    draw_world(&w, mode == 0 ? "\n" : "\r\n");
    bool ok = mode == 0   ? line_echo_mode(&w)
              : mode == 1 ? sched_http_responder(&w)
                          : sched_http_scripted(&w);
    if (trace) {
        weir_sim_trace_write(w.s, trace);
        fprintf(trace, "# mode %d, may fail %d, cut c->s %d s->c %d, can stall %d\n# %s\n",
                (int)mode, w.may_fail, w.cs_cut, w.sc_cut, w.can_stall, w.outcome);
    }
    weir_sim_free(w.s);
    if (ok) return true;
    if (trace) fflush(trace); /* abort() does not flush */
    fprintf(stderr, "sim_schedule: %s\n", w.failure);
    if (!trace) {
        /* Again, with the timeline: the same input gives the same run, which fails the
         * same way and aborts there. */
        fprintf(stderr, "# the run's timeline:\n");
        run_input(data, size, stderr);
        fprintf(stderr, "sim_schedule: the run with its trace kept passed: not deterministic\n");
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int trace = -1;
    if (trace < 0) {
        const char *t = getenv("WEIR_FUZZ_TRACE");
        trace = t && *t && strcmp(t, "0") != 0;
    }
    run_input(data, size, trace ? stdout : NULL);
    return 0;
}
