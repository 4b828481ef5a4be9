/* runner/run.c - run one scenario against a real weir_reader (docs/scenarios.md).
 *
 * Each scenario gets its own virtual loop, reader and probe transport. A step acts on the
 * reader (a read step spawns a task that performs the read), then the loop runs until no
 * task is runnable, then the step's expectation is checked. The first step that does not
 * match ends the scenario. The engine mirrors Session/check_scenario of the reference
 * runner (tests/conformance/pyref.py), including its diagnostics. */
#include <stdlib.h>
#include <string.h>

#include "runner/run_internal.h"

/* A read started by a step and what it produced. Records belong to the run, not to the
 * task: at the end of a scenario weir_loop_free() cancels the reads still waiting, and
 * their tasks write their (cancelled) outcome into a record that is still alive. */
typedef struct read_rec {
    struct run *run;
    const weir__step *step;
    bool done;
    weir__outcome out; /* out.bytes is a malloc'd copy (the reader's view dies at its next
                          read call) */
    struct read_rec *next;
} read_rec;

typedef struct run {
    const weir_scenario_file *file;
    const weir__scenario *sc;
    weir__buf *diag;
    weir_loop *loop;
    weir_reader *reader;
    weir__probe probe;
    bool broken;         /* `reader limit=N` was refused: no reader */
    read_rec *reads;     /* every read started, newest first */
    read_rec *pending;   /* the read `await` checks */
    const char *problem; /* a failure whatever was expected, e.g. nothing to await */
    weir__buf text;      /* scratch for the paused-disagreement problem */
} run;

/* ---- the read task ------------------------------------------------------------------ */

static int keep_copy(weir_bytes v, weir__outcome *o) {
    char *p = weir_bytes_dup(v);
    if (p == NULL) {
        o->kind = WEIR__OUT_UNEXPECTED;
        o->num = WEIR_ENOMEM;
        return WEIR_ENOMEM;
    }
    o->bytes = weir_bytes_of(p, v.len);
    return 0;
}

/* The language's name for what a read returned. Called in the task right after the read,
 * while the view and the error details are still valid. */
static void record(read_rec *rr, int rc, weir_bytes v, const weir_error *e) {
    weir__outcome *o = &rr->out;
    memset(o, 0, sizeof *o);
    if (rc == 0) {
        o->kind = WEIR__OUT_BYTES;
        keep_copy(v, o);
    } else if (rc == WEIR_EINCOMPLETE) {
        o->kind = WEIR__OUT_INCOMPLETE;
        o->num = e->expected;
        o->none = e->expected < 0; /* readuntil's expected=None */
        keep_copy(e->partial, o);
    } else if (rc == WEIR_ELIMIT) {
        o->kind = WEIR__OUT_LIMIT;
        o->num = e->consumed;
    } else if (rc == WEIR_EINVAL || rc == WEIR_ETOOLONG) {
        o->kind = WEIR__OUT_VALUE_ERROR;
    } else if (rc == WEIR_EBUSY) {
        o->kind = WEIR__OUT_RUNTIME_ERROR;
    } else if (rc <= WEIR_EUSER) {
        o->kind = WEIR__OUT_ERROR;
        keep_copy(weir_bytes_of(e->message, e->message_len), o);
    } else {
        o->kind = WEIR__OUT_UNEXPECTED;
        o->num = rc;
    }
}

int weir__step_read(weir_reader *r, const weir__step *s, weir_bytes *v) {
    switch (s->kind) {
        case WEIR__STEP_READ:
            return weir_read(r, s->n, v);
        case WEIR__STEP_READLINE:
            return weir_readline(r, v);
        case WEIR__STEP_READEXACTLY:
            return weir_readexactly(r, s->n, v);
        default:
            if (s->nseps == 1) return weir_readuntil(r, s->seps[0].data, s->seps[0].len, v);
            return weir_readuntil_any(r, s->seps, s->nseps, v);
    }
}

static int read_task(void *arg) {
    read_rec *rr = arg;
    weir_reader *r = rr->run->reader;
    const weir__step *s = rr->step;
    weir_bytes v = {NULL, 0};
    int rc = weir__step_read(r, s, &v);
    record(rr, rc, v, weir_reader_error(r));
    rr->done = true;
    return 0;
}

static int start_read(run *R, const weir__step *s, read_rec **out) {
    read_rec *rr = calloc(1, sizeof *rr);
    if (rr == NULL) return WEIR_ENOMEM;
    rr->run = R;
    rr->step = s;
    rr->next = R->reads;
    R->reads = rr;
    weir_task *t;
    weir_task_opts opts = {0, "scenario-read"};
    int rc = weir_spawn(R->loop, read_task, rr, &opts, &t);
    if (rc != 0) return rc;
    weir_task_detach(t);
    *out = rr;
    return 0;
}

/* ---- steps -------------------------------------------------------------------------- */

static weir__outcome boolean(bool v) {
    weir__outcome o = {v ? WEIR__OUT_TRUE : WEIR__OUT_FALSE, {NULL, 0}, 0, false, false};
    return o;
}

static int new_reader(run *R, int64_t limit) {
    int rc = weir_reader_new(limit, &R->reader);
    if (rc != 0) return rc;
    weir__probe_init(&R->probe);
    weir_reader_set_transport(R->reader, &R->probe.base);
    return 0;
}

/* Perform step s and let the loop settle; *got is what it produced (NONE for a step with
 * nothing to report, or for a reader/feed step that succeeded). A condition that fails
 * the scenario whatever was expected goes to R->problem. */
static int do_step(run *R, const weir__step *s, weir__outcome *got) {
    memset(got, 0, sizeof *got);
    R->problem = NULL;
    if (R->broken) {
        R->problem = "no reader: `reader limit=...` raised ValueError";
        return 0;
    }
    weir_reader *r = R->reader;
    read_rec *rr = NULL;
    int rc = 0;
    switch (s->kind) {
        case WEIR__STEP_READER:
            rc = new_reader(R, s->n);
            if (rc == WEIR_EINVAL) {
                got->kind = WEIR__OUT_VALUE_ERROR;
                R->broken = true;
                rc = 0;
            }
            return rc;
        case WEIR__STEP_FEED:
            rc = weir_reader_feed(r, s->data.data, s->data.len);
            if (rc == WEIR_EEOF)
                got->kind = WEIR__OUT_ASSERTION_ERROR;
            else if (rc != 0) {
                got->kind = WEIR__OUT_UNEXPECTED;
                got->num = rc;
            }
            rc = 0;
            break;
        case WEIR__STEP_EOF:
            weir_reader_feed_eof(r);
            break;
        case WEIR__STEP_FAIL:
            rc = weir_reader_set_exception(r, WEIR_EUSER, s->data.data, s->data.len);
            break;
        case WEIR__STEP_READ:
        case WEIR__STEP_READLINE:
        case WEIR__STEP_READEXACTLY:
        case WEIR__STEP_READUNTIL:
            rc = start_read(R, s, &rr);
            break;
        default:
            break;
    }
    if (rc != 0) return rc;

    /* Settle, as the reference's quiesce() does: run every task the step made runnable,
     * and what they make runnable in turn, until none is. Time does not move. */
    weir_loop_run_ready(R->loop);

    switch (s->kind) {
        case WEIR__STEP_READ:
        case WEIR__STEP_READLINE:
        case WEIR__STEP_READEXACTLY:
        case WEIR__STEP_READUNTIL:
            if (rr->done) {
                *got = rr->out;
            } else {
                got->kind = WEIR__OUT_PENDING;
                /* An unchecked read, or one expected to wait, is the one `await` looks at. */
                if (s->expect.kind == WEIR__OUT_NONE || s->expect.kind == WEIR__OUT_PENDING)
                    R->pending = rr;
            }
            break;
        case WEIR__STEP_AT_EOF:
            *got = boolean(weir_reader_at_eof(r));
            break;
        case WEIR__STEP_BUFFERED:
            got->kind = WEIR__OUT_COUNT;
            got->num = (int64_t)weir_reader_buffered(r);
            break;
        case WEIR__STEP_PAUSED: {
            bool a = weir_reader_paused(r), b = R->probe.paused;
            *got = boolean(a);
            if (a != b) {
                weir__buf_reset(&R->text);
                if (weir__buf_printf(&R->text, "weir_reader_paused() is %s but the transport is %s",
                                     a ? "true" : "false", b ? "paused" : "not paused") != 0)
                    return WEIR_ENOMEM;
                R->problem = R->text.data;
            }
            break;
        }
        case WEIR__STEP_EXCEPTION: {
            const weir_error *e = weir_reader_exception(r);
            if (e == NULL) {
                got->kind = WEIR__OUT_EXC_NONE;
            } else if (e->code <= WEIR_EUSER) {
                got->kind = WEIR__OUT_ERROR;
                got->bytes = weir_bytes_of(e->message, e->message_len);
            } else {
                got->kind = WEIR__OUT_UNEXPECTED;
                got->num = e->code;
            }
            break;
        }
        case WEIR__STEP_AWAIT:
            if (R->pending == NULL) {
                R->problem = "no pending read to await";
            } else if (R->pending->done) {
                *got = R->pending->out;
                R->pending = NULL;
            } else {
                got->kind = WEIR__OUT_PENDING;
            }
            break;
        default:
            break;
    }
    return 0;
}

/* ---- checking and reporting --------------------------------------------------------- */

/* Whether step s, having produced `got`, fails the scenario. */
static bool mismatch(const weir__step *s, const weir__outcome *got) {
    /* A reader or feed step without `=>` expects success, so an error is a failure. */
    if (s->kind == WEIR__STEP_READER || s->kind == WEIR__STEP_FEED)
        return !weir__outcome_eq(&s->expect, got);
    return s->expect.kind != WEIR__OUT_NONE && !weir__outcome_eq(&s->expect, got);
}

/* "# FILE:LINE: STEP" */
static int where(run *R, const weir__step *s) {
    weir__buf *d = R->diag;
    int rc = weir__buf_printf(d, "# %s:%d: ", R->file->name, s->line);
    if (rc == 0) rc = weir__fmt_step(d, s);
    return rc;
}

/* The --verbose trace line of a step: "#   LINE: STEP => WHAT IT PRODUCED", the arrow
 * left out when there is nothing to report (eof, fail, a feed that succeeded), so that
 * the text after "LINE: " is a valid step that passes. */
static int trace(run *R, const weir__step *s, const weir__outcome *got) {
    weir__buf *d = R->diag;
    int rc = weir__buf_printf(d, "#   %d: ", s->line);
    if (rc == 0) rc = weir__fmt_step(d, s);
    if (rc == 0 && got->kind != WEIR__OUT_NONE) {
        rc = weir__buf_printf(d, " => ");
        if (rc == 0) rc = weir__fmt_outcome(d, got);
    }
    if (rc == 0 && R->problem != NULL) rc = weir__buf_printf(d, " (%s)", R->problem);
    return rc ? rc : weir__buf_putc(d, '\n');
}

static int report_failure(run *R, const weir__step *s, const weir__outcome *got) {
    weir__buf *d = R->diag;
    int rc = where(R, s);
    if (rc != 0) return rc;
    if (R->problem != NULL) return weir__buf_printf(d, "\n#   %s\n", R->problem);
    rc = weir__buf_printf(d, "\n#   expected: ");
    if (rc == 0) rc = weir__fmt_outcome(d, &s->expect);
    if (rc == 0) rc = weir__buf_printf(d, "\n#        got: ");
    if (rc == 0) rc = weir__fmt_outcome(d, got);
    return rc ? rc : weir__buf_putc(d, '\n');
}

static void run_free(run *R) {
    /* The loop goes first: cancelling the waiting reads runs their tasks once more, and
     * they still use the reader and their records. */
    weir_loop_free(R->loop);
    weir_reader_free(R->reader);
    read_rec *rr = R->reads;
    while (rr != NULL) {
        read_rec *next = rr->next;
        free((void *)rr->out.bytes.data);
        free(rr);
        rr = next;
    }
    weir__buf_free(&R->text);
}

int weir__scenario_run(const weir_scenario_file *f, size_t i, unsigned flags, weir__buf *diag) {
    if (f == NULL || i >= f->count || diag == NULL) return WEIR_EINVAL;
    run R;
    memset(&R, 0, sizeof R);
    R.file = f;
    R.sc = &f->scenarios[i];
    R.diag = diag;
    int rc = weir_loop_new_virtual(&R.loop);
    const weir__scenario *sc = R.sc;
    /* Without a `reader limit=N` first step, the reader has asyncio's default limit. */
    if (rc == 0 && (sc->nsteps == 0 || sc->steps[0].kind != WEIR__STEP_READER))
        rc = new_reader(&R, WEIR_DEFAULT_LIMIT);
    int passed = 1;
    for (size_t k = 0; rc == 0 && k < sc->nsteps && passed; k++) {
        const weir__step *s = &sc->steps[k];
        weir__outcome got;
        rc = do_step(&R, s, &got);
        if (rc == 0 && (flags & WEIR_SCENARIO_VERBOSE)) rc = trace(&R, s, &got);
        if (rc == 0 && (R.problem != NULL || mismatch(s, &got))) {
            passed = 0;
            rc = report_failure(&R, s, &got);
        }
    }
    run_free(&R);
    return rc != 0 ? rc : passed;
}
