/* runner/net_peer.c - a scripted peer: one connection, and the steps written for it
 * ("NAME: send ...", "NAME: readline => ..."), run in order in the peer's task.
 *
 * A connecting peer connects first (its `connect` step, or implicitly before its first
 * step); a listening peer runs its steps in the handler of the first connection it
 * accepts, and closes any later one. Each step may wait for a time (`at`), runs under a
 * deadline when it has `within`, and is checked as soon as it completes. When the script
 * is done the peer closes its connection, as a server's handler does by returning. */
#include <stdlib.h>
#include <string.h>

#include "runner/net_internal.h"
#include "weir/net.h"
#include "weir/sim.h"
#include "weir/weir.h"

/* The bytes of a send, write or expect step: data repeated `repeat` times. *owned is set
 * when they had to be built (and must be freed). */
static weir_bytes payload(const weir__step *s, uint8_t **owned) {
    *owned = NULL;
    if (s->repeat <= 1) return s->data;
    size_t n = s->data.len * (size_t)s->repeat; /* bounded by the parser */
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL) return weir_bytes_of(NULL, 0);
    for (uint64_t i = 0; i < s->repeat; i++) memcpy(p + i * s->data.len, s->data.data, s->data.len);
    *owned = p;
    return weir_bytes_of(p, n);
}

/* What a read returned, in the language's terms; bytes are copied (the view dies at the
 * next read). *copy is what to free. */
static void read_outcome(weir_reader *r, int rc, weir_bytes v, weir__outcome *o, char **copy) {
    *copy = NULL;
    if (rc == 0) {
        memset(o, 0, sizeof *o);
        o->kind = WEIR__OUT_BYTES;
        *copy = weir_bytes_dup(v);
        o->bytes = weir_bytes_of(*copy, *copy ? v.len : 0);
        return;
    }
    const weir_error *e = weir_reader_error(r);
    if (rc == WEIR_EINCOMPLETE && e != NULL) {
        memset(o, 0, sizeof *o);
        o->kind = WEIR__OUT_INCOMPLETE;
        o->num = e->expected;
        o->none = e->expected < 0;
        *copy = weir_bytes_dup(e->partial);
        o->bytes = weir_bytes_of(*copy, *copy ? e->partial.len : 0);
        return;
    }
    if (rc == WEIR_ELIMIT && e != NULL) {
        memset(o, 0, sizeof *o);
        o->kind = WEIR__OUT_LIMIT;
        o->num = e->consumed;
        return;
    }
    weir__net_outcome(rc, o);
}

static int do_read(weir__actor *a, const weir__step *s, weir__outcome *got, char **copy) {
    weir_reader *r = a->r;
    weir_bytes v = {NULL, 0};
    int rc = weir__step_read(r, s, &v);
    read_outcome(r, rc, v, got, copy);
    return rc;
}

/* `expect "..."`: exactly those bytes; `expect eof` / `expect reset`: what the next read
 * finds, which must be the end of the stream or a reset (data shows as itself). */
static void do_expect(weir__actor *a, const weir__step *s, weir__outcome *got, char **copy) {
    weir_bytes v = {NULL, 0};
    if (s->expect.kind == WEIR__OUT_BYTES) {
        uint8_t *owned = NULL;
        weir_bytes want = payload(s, &owned);
        int rc = weir_readexactly(a->r, (int64_t)want.len, &v);
        read_outcome(a->r, rc, v, got, copy);
        /* A repeated string matched in full reads as the step wrote it. */
        if (rc == 0 && owned != NULL && weir_bytes_eq(v, want)) *got = s->expect;
        free(owned);
        return;
    }
    int rc = weir_read(a->r, WEIR_DEFAULT_LIMIT, &v);
    read_outcome(a->r, rc, v, got, copy);
    if (rc == 0 && v.len == 0) got->kind = WEIR__OUT_EOF;
}

static int do_send(weir__actor *a, const weir__step *s) {
    uint8_t *owned = NULL;
    weir_bytes data = payload(s, &owned);
    if (data.data == NULL && s->data.len > 0) return WEIR_ENOMEM;
    int rc = weir_write(a->w, data.data, data.len);
    free(owned);
    if (rc == 0 && s->kind == WEIR__STEP_SEND) rc = weir_drain(a->w);
    return rc;
}

/* Perform step s; *got is what it produced (NONE: success). */
static void perform(weir__actor *a, const weir__step *s, weir__outcome *got, char **copy) {
    const weir__decl *d = a->decl->decl;
    int rc = 0;
    *copy = NULL;
    memset(got, 0, sizeof *got);
    if (a->w == NULL && s->kind != WEIR__STEP_CONNECT && s->kind != WEIR__STEP_SLEEP) {
        weir__net_fail(a->run, s, "peer %s has no connection (its connect failed)",
                       (const char *)d->name.data);
        return;
    }
    switch (s->kind) {
        case WEIR__STEP_CONNECT:
            rc = weir_open_connection((const char *)d->target.data, (int)d->port, NULL, &a->r,
                                      &a->w);
            a->own_conn = rc == 0;
            break;
        case WEIR__STEP_ACCEPT:
            break; /* the connection came: that is what started the script */
        case WEIR__STEP_SEND:
        case WEIR__STEP_WRITE:
            rc = do_send(a, s);
            break;
        case WEIR__STEP_DRAIN:
            rc = weir_drain(a->w);
            break;
        case WEIR__STEP_SLEEP:
            rc = weir_sleep(s->n);
            break;
        case WEIR__STEP_EXPECT:
            do_expect(a, s, got, copy);
            return;
        case WEIR__STEP_READ:
        case WEIR__STEP_READLINE:
        case WEIR__STEP_READEXACTLY:
        case WEIR__STEP_READUNTIL:
            do_read(a, s, got, copy);
            return;
        case WEIR__STEP_AT_EOF:
            got->kind = weir_reader_at_eof(a->r) ? WEIR__OUT_TRUE : WEIR__OUT_FALSE;
            return;
        case WEIR__STEP_BUFFERED:
            got->kind = WEIR__OUT_COUNT;
            got->num = (int64_t)weir_reader_buffered(a->r);
            return;
        case WEIR__STEP_EOF:
            rc = weir_write_eof(a->w);
            break;
        case WEIR__STEP_CLOSE:
            weir_writer_close(a->w);
            rc = weir_wait_closed(a->w);
            break;
        case WEIR__STEP_ABORT: {
            weir_transport *t = weir_writer_transport(a->w);
            if (t != NULL && t->ops->abort != NULL) t->ops->abort(t);
            break;
        }
        default:
            break;
    }
    weir__net_outcome(rc, got);
}

static bool over(const weir__actor *a) { return a->run->stopping || a->run->failed; }

/* One step: wait for its time, run it (under its deadline), check it. false: stop. */
static bool step(weir__actor *a, const weir__step *s) {
    if (s->has_at && weir_sleep_until(s->at) != 0) return false;
    if (over(a)) return false;
    a->cur = s;
    int64_t start = weir_now();
    int64_t old = WEIR_FOREVER;
    if (s->has_within)
        old =
            weir_deadline_set(s->within > WEIR_FOREVER - start ? WEIR_FOREVER : start + s->within);
    weir__outcome got;
    char *copy = NULL;
    perform(a, s, &got, &copy);
    if (s->has_within) weir_deadline_set(old);
    bool ok = !over(a) && weir__net_check(a, s, &got, weir_now() - start, NULL);
    free(copy);
    return ok;
}

/* The script from step `first` on; then close, unless the script already let go. */
static void script(weir__actor *a, size_t first) {
    bool ok = true;
    for (size_t k = first; k < a->nsteps && ok; k++) ok = step(a, a->steps[k]);
    if (!ok) return;
    a->done = true;
    a->cur = NULL;
    if (a->w != NULL && !weir_writer_is_closing(a->w)) weir_writer_close(a->w);
}

int weir__peer_connect_task(void *arg) {
    weir__actor *a = arg;
    const weir__decl *d = a->decl->decl;
    size_t first = 0;
    if (a->nsteps == 0 || a->steps[0]->kind != WEIR__STEP_CONNECT) {
        /* Connect before the first step, checked as the peer line: it must succeed. */
        a->cur = a->decl;
        int64_t start = weir_now();
        int rc =
            weir_open_connection((const char *)d->target.data, (int)d->port, NULL, &a->r, &a->w);
        a->own_conn = rc == 0;
        weir__outcome got;
        weir__net_outcome(rc, &got);
        if (over(a) || !weir__net_check(a, a->decl, &got, weir_now() - start, NULL)) {
            a->finished = true;
            return 0;
        }
    }
    script(a, first);
    a->finished = true;
    return 0;
}

/* The handler of a listening peer's server: the first connection runs the script. */
static int peer_handler(weir_reader *r, weir_writer *w, void *arg) {
    weir__actor *a = arg;
    if (a->accepted || over(a)) return 0; /* one connection per peer: the server closes it */
    a->accepted = true;
    a->r = r;
    a->w = w;
    script(a, 0);
    a->r = NULL; /* the server frees the connection once we return */
    a->w = NULL;
    return 0;
}

int weir__peer_listen_task(void *arg) {
    weir__actor *a = arg;
    const weir__decl *d = a->decl->decl;
    int rc = weir_start_server(NULL, peer_handler, a, NULL, (int)d->port, NULL, &a->server);
    if (rc != 0)
        weir__net_fail(a->run, a->decl, "cannot listen on port %d: %s (%s)", (int)d->port,
                       weir_errname(rc), weir_strerror(rc));
    a->finished = true;
    return 0;
}
