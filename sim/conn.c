/* sim/conn.c - a simulated connection: two transports, one flow each way.
 *
 * The transport calls follow TCP as asyncio sees it:
 *   write      queue the bytes; the flow takes them onto the link as the window allows.
 *   write_eof  FIN after the queued bytes; the peer's eof_received, then it may answer.
 *   close      the same FIN once the queue is flushed, then connection_lost(0). From the
 *              call on this end reads nothing: bytes that arrive (or had arrived unread, a
 *              paused reader's) are discarded, and the FIN becomes an RST, as Linux does
 *              when a socket is closed with unread data.
 *   abort      drop the queue; an RST follows the bytes already in flight, so the peer gets
 *              connection_lost(WEIR_ECONNRESET) and loses whatever it had not read; this end
 *              gets connection_lost(0).
 * An RST is noticed as the poll transport (net/sock.c) notices it: at once by an end that
 * is watched (reading, or with bytes queued to send), else when the end next writes (the
 * send fails) or resumes reading (the bytes that waited come first). See flow.c.
 * Every event reaches a protocol from a callback on a later tick, never from inside the
 * transport call that caused it.
 *
 * Memory: a connection is freed once both transports are freed (ops->free) and no
 * callback it queued with weir_call_soon is outstanding (those cannot be taken back, so
 * they are counted). Timers are stopped instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net_internal.h"

static sim_end *end_of(weir_transport *t) { return (sim_end *)t; }
static sim_flow *out_flow(sim_end *e) { return &e->c->flow[e->index]; }
static sim_flow *in_flow(sim_end *e) { return &e->c->flow[1 - e->index]; }

/* --- events on a later tick --------------------------------------------------------- */

void weir__event_init(sim_event *ev, sim_conn *c, void (*fn)(void *), void *arg) {
    ev->c = c;
    ev->fn = fn;
    ev->arg = arg;
    ev->queued = false;
    memset(&ev->timer, 0, sizeof ev->timer);
}

static void event_soon(void *arg) {
    sim_event *ev = arg;
    sim_conn *c = ev->c;
    ev->queued = false;
    c->queued--;
    if (c->refs > 0) ev->fn(ev->arg);
    weir__conn_maybe_free(c);
}

static void event_timer(weir_timer *timer, void *arg) {
    (void)timer;
    sim_event *ev = arg;
    ev->fn(ev->arg);
    weir__conn_maybe_free(ev->c);
}

void weir__event_schedule(sim_event *ev) {
    weir_loop *loop = weir__net_loop(ev->c->net);
    if (!loop || ev->queued || weir_timer_armed(&ev->timer)) return;
    if (weir_call_soon(loop, event_soon, ev) == 0) {
        ev->queued = true;
        ev->c->queued++;
    } else {
        /* No memory for a queued call: a timer due now does the same job a little earlier
         * in the tick, and can be stopped. */
        weir_timer_start(loop, &ev->timer, weir__net_now(ev->c->net), event_timer, ev);
    }
}

void weir__event_cancel(sim_event *ev) { weir_timer_stop(weir__net_loop(ev->c->net), &ev->timer); }

/* --- an end's life ------------------------------------------------------------------ */

static void report_lost(void *arg) {
    sim_end *e = arg;
    if (e->freed || e->lost_reported || !e->handed) return;
    e->lost_reported = true;
    char note[64];
    snprintf(note, sizeof note, "%s end lost: %s", e->index == 0 ? "client" : "server",
             e->lost_error ? weir_errname(e->lost_error) : "clean");
    weir__conn_record(e->c, WEIR__TR_CLOSE, -1, 0, 0, NULL, 0, note);
    weir_protocol *p = e->t.protocol;
    if (p && p->ops && p->ops->connection_lost) p->ops->connection_lost(p, e->lost_error);
}

void weir__end_lose(sim_end *e, int error) {
    if (e->lost) return;
    e->lost = true;
    e->lost_error = error;
    weir__wbuf_clear(&e->wbuf);
    sim_flow *out = out_flow(e);
    out->dropping = true;
    out->staged = 0;
    if (!out->drop_why) out->drop_why = "sender gone";
    /* An end not handed to its owner yet has nobody to tell; weir__end_hand reports it. */
    if (!e->freed && e->handed) weir__event_schedule(&e->lost_event);
    weir__flow_kick(in_flow(e));
}

void weir__end_reset(sim_end *e, int error) {
    if (e->lost) return;
    e->aborted = true;
    e->closing = true;
    weir__end_lose(e, error);
}

void weir__end_flushed(sim_end *e) {
    sim_flow *out = out_flow(e);
    if (e->unread)
        weir__flow_send_rst(out);
    else
        weir__flow_send_fin(out);
    weir__end_lose(e, 0);
}

void weir__end_hand(sim_end *e) {
    e->handed = true;
    if (e->lost && !e->lost_reported) weir__event_schedule(&e->lost_event);
    weir__flow_kick(in_flow(e));
}

/* --- transport ops ------------------------------------------------------------------ */

static int sim_write(weir_transport *t, const void *data, size_t len) {
    sim_end *e = end_of(t);
    if (e->write_closed) return WEIR_ECLOSED;
    if (len == 0) return WEIR_OK;
    if (!data) return WEIR_EINVAL;
    if (e->lost) return WEIR_ECONNLOST;
    /* An RST that reached us while nothing polled the socket is noticed by this send(), which
     * fails. As in asyncio's transport the write itself succeeds; the loss reaches the
     * protocol through connection_lost, and drain and reads fail with it. */
    if (in_flow(e)->rst_at >= 0 && weir__flow_notice_rst(in_flow(e))) return WEIR_OK;
    if (weir__flow_write(out_flow(e), data, len)) return WEIR_OK;
    int rc = weir__wbuf_append(&e->wbuf, data, len);
    if (rc) return rc;
    weir__flow_pump(out_flow(e));
    return WEIR_OK;
}

static int sim_write_eof(weir_transport *t) {
    sim_end *e = end_of(t);
    if (e->write_closed || e->lost) return WEIR_OK;
    e->write_closed = true;
    out_flow(e)->fin_wanted = true;
    weir__flow_pump(out_flow(e));
    return WEIR_OK;
}

static bool sim_can_write_eof(weir_transport *t) {
    (void)t;
    return true;
}

static void sim_close(weir_transport *t) {
    sim_end *e = end_of(t);
    bool was = e->closing || e->lost;
    e->closing = true;
    e->write_closed = true;
    if (was) return;
    /* What arrived and was not read (a paused reader's) is unread for good now. */
    sim_flow *in = in_flow(e);
    if (weir__flow_discard_arrived(in, weir__net_now(e->c->net)) > 0) e->unread = true;
    weir__flow_kick(in);
    weir__flow_pump(out_flow(e)); /* flushes, then weir__end_flushed */
}

static void sim_abort(weir_transport *t) {
    sim_end *e = end_of(t);
    e->closing = true;
    e->write_closed = true;
    if (e->lost) return; /* finished already: a flushed close has nothing left to drop */
    e->aborted = true;
    weir__wbuf_clear(&e->wbuf);
    weir__flow_send_rst(out_flow(e));
    weir__flow_discard_arrived(in_flow(e), weir__net_now(e->c->net));
    weir__end_lose(e, 0);
}

static bool sim_is_closing(weir_transport *t) {
    sim_end *e = end_of(t);
    return e->closing || e->lost;
}

static void sim_pause_reading(weir_transport *t) {
    sim_end *e = end_of(t);
    if (e->reading_paused) return;
    e->reading_paused = true;
    weir__conn_record(e->c, WEIR__TR_PAUSE, 1 - e->index, 1, 0, NULL, 0, NULL);
    weir__flow_kick(in_flow(e));
}

static void sim_resume_reading(weir_transport *t) {
    sim_end *e = end_of(t);
    if (!e->reading_paused) return;
    e->reading_paused = false;
    weir__conn_record(e->c, WEIR__TR_PAUSE, 1 - e->index, 0, 0, NULL, 0, NULL);
    weir__flow_kick(in_flow(e));
}

static size_t sim_write_buffer_size(weir_transport *t) {
    sim_end *e = end_of(t);
    return weir__wbuf_size(&e->wbuf) + out_flow(e)->staged;
}

static int sim_set_limits(weir_transport *t, size_t high, size_t low) {
    return weir__wbuf_set_limits(&end_of(t)->wbuf, high, low);
}

static void sim_get_limits(weir_transport *t, size_t *high, size_t *low) {
    weir__wbuf_get_limits(&end_of(t)->wbuf, high, low);
}

static int sim_get_extra_info(weir_transport *t, const char *name, weir_extra *out) {
    sim_end *e = end_of(t);
    if (!name || !out) return WEIR_EINVAL;
    const char *str = NULL;
    if (strcmp(name, "sockname") == 0) str = e->sockname;
    if (strcmp(name, "peername") == 0) str = e->peername;
    if (strcmp(name, "sim_connection") == 0) {
        *out = (weir_extra){.kind = WEIR_EXTRA_INT, .num = (int64_t)e->c->id};
        return WEIR_OK;
    }
    if (!str) return WEIR_ENOENT;
    *out = (weir_extra){.kind = WEIR_EXTRA_STR, .str = str, .len = strlen(str)};
    return WEIR_OK;
}

static void sim_free(weir_transport *t) {
    sim_end *e = end_of(t);
    if (e->freed) return;
    if (!e->lost) sim_abort(t);
    sim_conn *c = e->c;
    e->freed = true;
    e->t.protocol = NULL;
    weir__event_cancel(&e->lost_event);
    weir__wbuf_free(&e->wbuf);
    if (--c->refs == 0) {
        /* Nobody is left to deliver to: stop every timer now; queued calls run out. */
        for (int i = 0; i < 2; i++) {
            weir_timer_stop(weir__net_loop(c->net), &c->flow[i].timer);
            weir__event_cancel(&c->rst_event[i]);
        }
        weir__faults_stop(c);
    }
    weir__conn_maybe_free(c);
}

static const weir_transport_ops sim_transport_ops = {
    .name = "sim",
    .write = sim_write,
    .write_eof = sim_write_eof,
    .can_write_eof = sim_can_write_eof,
    .close = sim_close,
    .abort = sim_abort,
    .is_closing = sim_is_closing,
    .pause_reading = sim_pause_reading,
    .resume_reading = sim_resume_reading,
    .write_buffer_size = sim_write_buffer_size,
    .set_write_buffer_limits = sim_set_limits,
    .get_write_buffer_limits = sim_get_limits,
    .get_extra_info = sim_get_extra_info,
    .free = sim_free,
};

/* --- construction and release ------------------------------------------------------- */

int weir__conn_new(simnet *net, sim_host *client, sim_host *server, int port, sim_conn **out) {
    *out = NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment; sizeof is, since the
     * struct's alignment is 64 (its flows and ends start cache lines). */
    sim_conn *c = aligned_alloc(_Alignof(sim_conn), sizeof *c);
    if (!c) return WEIR_ENOMEM;
    memset(c, 0, sizeof *c);
    c->net = net;
    c->id = ++net->next_conn;
    c->host[0] = client;
    c->host[1] = server;
    c->port = port;
    c->refs = 2;
    for (int i = 0; i < 2; i++) {
        sim_end *e = &c->end[i];
        e->t.ops = &sim_transport_ops;
        e->c = c;
        e->index = i;
        weir__wbuf_init(&e->wbuf, &e->t);
        weir__event_init(&e->lost_event, c, report_lost, e);
        weir_sim_link l = weir__link_for(net, c->host[i], c->host[1 - i]);
        weir__flow_init(&c->flow[i], c, i, &l);
    }
    c->next = net->conns;
    if (net->conns) net->conns->prev = c;
    net->conns = c;
    *out = c;
    return WEIR_OK;
}

void weir__conn_destroy(sim_conn *c) {
    simnet *net = c->net;
    if (c->prev)
        c->prev->next = c->next;
    else if (net->conns == c)
        net->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    for (int i = 0; i < 2; i++) {
        weir__event_cancel(&c->end[i].lost_event);
        weir__event_cancel(&c->rst_event[i]);
        weir__wbuf_free(&c->end[i].wbuf);
        weir__flow_release(&c->flow[i]);
    }
    weir__faults_stop(c);
    free(c->insts);
    free(c);
}

void weir__conn_maybe_free(sim_conn *c) {
    if (c->refs == 0 && c->queued == 0 && c->depth == 0 && !c->pending_on) weir__conn_destroy(c);
}
