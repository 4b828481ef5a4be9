/* sim/fuzz.c - the fuzz harness: a fuzz input becomes a peer, a schedule and an ending,
 * and a user's parser runs against them in a simulator of its own.
 *
 * The schedule is the simulator's own: the link from "peer" to "parser" draws every
 * segment's size and delay from the decision stream, and EOF_AT / RESET_AT are faults with
 * a drawn byte trigger, so the cut is exact whatever the segmentation. Nothing here draws
 * behind the simulator's back, which is why a replay with a kept trace shows every choice.
 *
 * The link has a bandwidth of one byte per nanosecond. That makes every segment take time,
 * so segments arrive at distinct instants and each is its own read for a waiting parser (a
 * delay can still make one catch up with the one before, and then they arrive together);
 * it also makes a timeline easy to read: without delays a segment arrives at the
 * nanosecond equal to the stream offset of its last byte.
 *
 * To report what reached the parser without touching the stream code, the harness stands
 * between the transport and the stream writer as its protocol (weir/transport.h): every
 * event is counted and logged, then passed on unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/fuzz_internal.h"
#include "sim/sim_internal.h"
#include "weir/stream.h"
#include "weir/transport.h"

#define PORT 7
#define DEFAULT_MAX_SEGMENT 64
#define DEFAULT_MAX_DELAY 255
#define BYTES_PER_SECOND 1000000000
/* A parser that spins (a read loop that ignores errors) must end the run: 10 million
 * tasks and callbacks are a few seconds at worst and ten times what the largest input
 * needs (65535 one-byte segments, a few steps each). */
#define MAX_STEPS 10000000

typedef struct run run;

/* The harness as the protocol of the parser's transport, in front of the stream writer. */
typedef struct proxy {
    weir_protocol proto; /* first: the transport hands us back &proto */
    weir_protocol *inner;
    run *c;
} proxy;

struct run {
    weir_sim *s;
    weir_bytes payload;
    weir_fuzz_end end;
    size_t end_at;
    weir_handler parser;
    void *arg;
    bool started; /* the parser has been called */
    bool over;    /* the run is over: what happens while freeing is not the parser's doing */
    proxy px;
    weir_fuzz_report rep;
    weir__fuzz_log *log;
    FILE *trace;
    size_t printed; /* trace lines printed so far */
};

/* The run of weir_fuzz_payload(); nested runs (a parser fuzzing a parser) restore it. */
static _Thread_local run *current;

/* --- the input ---------------------------------------------------------------------- */

static size_t max_payload(const weir_fuzz_opts *o) {
    return o && o->max_payload && o->max_payload < 65535 ? o->max_payload : 65535;
}

void weir_fuzz_split(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                     weir_bytes *payload, weir_bytes *decisions) {
    if (!data) size = 0;
    size_t n = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
    size_t room = size >= 2 ? size - 2 : 0;
    if (n > room) n = room;
    if (n > max_payload(opts)) n = max_payload(opts);
    size_t head = size < 2 ? size : 2;
    if (payload) *payload = weir_bytes_of(size ? data + head : data, n);
    if (decisions) *decisions = weir_bytes_of(size ? data + head + n : data, size - head - n);
}

size_t weir_fuzz_pack(const void *payload, size_t payload_len, const void *decisions,
                      size_t decisions_len, uint8_t *out, size_t cap) {
    if (payload_len > 65535) return 0;
    size_t need = 2 + payload_len + decisions_len;
    if (out && cap >= need) {
        out[0] = (uint8_t)(payload_len & 0xff);
        out[1] = (uint8_t)(payload_len >> 8);
        if (payload_len) memcpy(out + 2, payload, payload_len);
        if (decisions_len) memcpy(out + 2 + payload_len, decisions, decisions_len);
    }
    return need;
}

weir_bytes weir_fuzz_payload(void) { return current ? current->payload : weir_bytes_of(NULL, 0); }

uint64_t weir_fuzz_draw(weir_sim *s, const char *what, uint64_t n) {
    return s ? weir__sim_draw(s, what ? what : "fuzz", n) : 0;
}

const char *weir__fuzz_end_name(weir_fuzz_end end) {
    switch (end) {
        case WEIR_FUZZ_END_EOF:
            return "EOF";
        case WEIR_FUZZ_END_EOF_AT:
            return "EOF_AT";
        case WEIR_FUZZ_END_RESET_AT:
            return "RESET_AT";
        case WEIR_FUZZ_END_OPEN:
            return "OPEN";
    }
    return "?";
}

/* --- the timeline and the log ------------------------------------------------------- */

/* Print the trace lines recorded since the last call: called at every event of the
 * parser's connection, so a parser that crashes leaves the timeline up to the segment it
 * crashed on. */
static void flush_trace(run *c) {
    if (!c->trace) return;
    const char *line;
    while (c->printed < weir_sim_trace_count(c->s) &&
           (line = weir_sim_trace_line(c->s, c->printed)) != NULL) {
        fprintf(c->trace, "%s\n", line);
        c->printed++;
    }
    fflush(c->trace);
}

static void log_segment(run *c, size_t len) {
    weir__fuzz_log *l = c->log;
    if (!l) return;
    if (l->nsegs == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        weir__fuzz_seg *p = realloc(l->segs, cap * sizeof *p);
        if (!p) {
            l->no_memory = true;
            return;
        }
        l->segs = p;
        l->cap = cap;
    }
    l->segs[l->nsegs++] = (weir__fuzz_seg){c->s->now, len};
}

static void log_reply(run *c, const uint8_t *p, size_t n) {
    weir__fuzz_log *l = c->log;
    if (!l || !n) return;
    if (l->reply_len + n > l->reply_cap) {
        size_t cap = l->reply_cap ? l->reply_cap : 256;
        while (cap < l->reply_len + n) cap *= 2;
        uint8_t *q = realloc(l->reply, cap);
        if (!q) {
            l->no_memory = true;
            return;
        }
        l->reply = q;
        l->reply_cap = cap;
    }
    memcpy(l->reply + l->reply_len, p, n);
    l->reply_len += n;
}

void weir__fuzz_log_free(weir__fuzz_log *log) {
    if (!log) return;
    free(log->segs);
    free(log->reply);
    *log = (weir__fuzz_log){.eof_at = -1, .lost_at = -1};
}

/* --- the proxy protocol ------------------------------------------------------------- */

static void saw_data(run *c, size_t len) {
    if (c->over || !len) return;
    c->rep.delivered += len;
    c->rep.segments++;
    log_segment(c, len);
}

static void saw_eof(run *c) {
    if (c->over || c->rep.eof) return;
    c->rep.eof = true;
    if (c->log) c->log->eof_at = c->s->now;
}

static void saw_lost(run *c, int error) {
    if (c->over || !error || c->rep.lost) return;
    c->rep.lost = error;
    if (c->log) c->log->lost_at = c->s->now;
}

static proxy *proxy_of(weir_protocol *p) { return (proxy *)p; }

static void px_made(weir_protocol *p, weir_transport *t) {
    proxy *x = proxy_of(p);
    if (x->inner->ops->connection_made) x->inner->ops->connection_made(x->inner, t);
}

static void px_data(weir_protocol *p, const void *data, size_t len) {
    proxy *x = proxy_of(p);
    saw_data(x->c, len);
    flush_trace(x->c);
    if (x->inner->ops->data_received) x->inner->ops->data_received(x->inner, data, len);
}

static bool px_eof(weir_protocol *p) {
    proxy *x = proxy_of(p);
    saw_eof(x->c);
    flush_trace(x->c);
    return x->inner->ops->eof_received ? x->inner->ops->eof_received(x->inner) : false;
}

static void px_lost(weir_protocol *p, int error) {
    proxy *x = proxy_of(p);
    saw_lost(x->c, error);
    flush_trace(x->c);
    if (x->inner->ops->connection_lost) x->inner->ops->connection_lost(x->inner, error);
}

static void px_pause(weir_protocol *p) {
    proxy *x = proxy_of(p);
    if (x->inner->ops->pause_writing) x->inner->ops->pause_writing(x->inner);
}

static void px_resume(weir_protocol *p) {
    proxy *x = proxy_of(p);
    if (x->inner->ops->resume_writing) x->inner->ops->resume_writing(x->inner);
}

static const weir_protocol_ops proxy_ops = {
    .connection_made = px_made,
    .data_received = px_data,
    .eof_received = px_eof,
    .connection_lost = px_lost,
    .pause_writing = px_pause,
    .resume_writing = px_resume,
};

/* --- the two ends ------------------------------------------------------------------- */

static const char *rc_name(int rc, char *buf, size_t n) {
    if (rc < 0) return weir_errname(rc);
    snprintf(buf, n, "%d", rc);
    return buf;
}

/* The server's handler: stand in front of the stream, then hand over to the parser. */
static int parser_task(weir_reader *r, weir_writer *w, void *arg) {
    run *c = arg;
    /* Only the peer connects, once; anything else is not ours to parse. */
    if (c->started || c->over) return 0;
    c->started = true;
    weir_transport *t = weir_writer_transport(w);
    c->px = (proxy){.proto = {&proxy_ops}, .inner = t->protocol, .c = c};
    t->protocol = &c->px.proto;
    /* What reached the stream before the handler ran: nothing has read it yet. */
    saw_data(c, weir_reader_buffered(r));
    if (weir_reader_at_eof(r)) saw_eof(c);
    const weir_error *e = weir_reader_exception(r);
    if (e) saw_lost(c, e->code);
    flush_trace(c);
    int rc = c->parser(r, w, c->arg);
    if (!c->over) {
        char num[24];
        c->rep.parser_done = true;
        c->rep.parser_rc = rc;
        weir_sim_note(c->s, "fuzz parser returned %s", rc_name(rc, num, sizeof num));
        flush_trace(c);
    }
    return rc;
}

/* The scripted peer: write the payload, end the stream as drawn (the faults do EOF_AT and
 * RESET_AT), and read what the parser sends back until it closes, so the parser never
 * blocks on a peer that does not read. */
static int peer_task(void *arg) {
    run *c = arg;
    weir_reader *r;
    weir_writer *w;
    int rc = weir_open_connection("parser", PORT, NULL, &r, &w);
    if (rc) {
        weir_sim_note(c->s, "fuzz peer could not connect: %s", weir_errname(rc));
        return rc;
    }
    if (c->payload.len) (void)weir_write(w, c->payload.data, c->payload.len);
    if (c->end != WEIR_FUZZ_END_OPEN) (void)weir_write_eof(w);
    for (;;) {
        weir_bytes b;
        rc = weir_read(r, 65536, &b);
        if (rc || b.len == 0) break;
        if (!c->over) {
            c->rep.replied += b.len;
            log_reply(c, b.data, b.len);
        }
    }
    weir_writer_close(w);
    (void)weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

/* --- a run -------------------------------------------------------------------------- */

/* The network, the ending (drawn) and its fault. */
static int setup(run *c, const weir_fuzz_opts *o) {
    weir_sim *s = c->s;
    int rc = weir_sim_add_host(s, "peer", "10.0.0.1");
    if (!rc) rc = weir_sim_add_host(s, "parser", "10.0.0.2");
    if (rc) return rc;
    size_t seg = o->max_segment ? o->max_segment : DEFAULT_MAX_SEGMENT;
    int64_t delay = o->max_delay ? o->max_delay : DEFAULT_MAX_DELAY;
    weir_sim_link to_parser = {
        .bandwidth = BYTES_PER_SECOND,
        .segment = {1, seg > INT64_MAX ? INT64_MAX : (int64_t)seg},
        .jitter = {0, delay > 0 ? delay : 0},
    };
    weir_sim_link to_peer = {0}; /* the parser's replies are not what is fuzzed */
    rc = weir_sim_set_link(s, "peer", "parser", &to_parser);
    if (!rc) rc = weir_sim_set_link(s, "parser", "peer", &to_peer);
    if (rc) return rc;

    unsigned ends = o->ends & WEIR_FUZZ_END_ALL ? o->ends & WEIR_FUZZ_END_ALL : WEIR_FUZZ_END_ALL;
    unsigned count = 0;
    for (unsigned b = 1; b <= WEIR_FUZZ_END_OPEN; b <<= 1) count += (ends & b) != 0;
    uint64_t pick = weir__sim_draw(s, "fuzz end", count);
    for (unsigned b = 1; b <= WEIR_FUZZ_END_OPEN; b <<= 1)
        if ((ends & b) && pick-- == 0) c->end = (weir_fuzz_end)b;
    c->end_at = c->payload.len;
    if (c->end == WEIR_FUZZ_END_EOF_AT || c->end == WEIR_FUZZ_END_RESET_AT) {
        c->end_at = (size_t)weir__sim_draw(s, "fuzz end at", (uint64_t)c->payload.len + 1);
        weir_sim_fault f =
            weir_sim_fault_init(c->end == WEIR_FUZZ_END_EOF_AT ? WEIR_FAULT_EOF : WEIR_FAULT_RESET);
        f.from = "peer";
        f.to = "parser";
        f.after_bytes = (int64_t)c->end_at;
        rc = weir_sim_add_fault(s, &f);
        if (rc) return rc;
    }
    weir_sim_note(s, "fuzz %zu payload bytes, %zu decision bytes, end %s after byte %zu",
                  c->payload.len, c->rep.decisions_len, weir__fuzz_end_name(c->end), c->end_at);
    return WEIR_OK;
}

int weir__fuzz_run(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                   weir_handler parser, void *arg, weir__fuzz_log *log, weir_fuzz_report *rep) {
    static const weir_fuzz_opts defaults = {0};
    const weir_fuzz_opts *o = opts ? opts : &defaults;
    if (rep) *rep = (weir_fuzz_report){0};
    if (log) *log = (weir__fuzz_log){.eof_at = -1, .lost_at = -1};
    if (!parser || (!data && size) || !rep) return WEIR_EINVAL;

    run c = {.parser = parser, .arg = arg, .log = log, .trace = o->trace};
    weir_bytes decisions;
    weir_fuzz_split(data, size, o, &c.payload, &decisions);
    if (!c.payload.data) c.payload.data = (const uint8_t *)""; /* NULL means "no run" */
    c.rep.payload_len = c.payload.len;
    c.rep.decisions_len = decisions.len;
    /* An empty decision stream must still mean "decode from bytes" (all draws 0), not
     * "use the seeded generator": point at the payload, with length 0. */
    weir_sim_opts so = {
        .decisions = decisions.data ? decisions.data : (const uint8_t *)"",
        .decisions_len = decisions.len,
        .keep_trace = o->trace != NULL,
        .max_steps = MAX_STEPS,
    };
    int rc = weir_sim_new(&so, &c.s);
    if (rc) return rc;
    weir_server *srv = NULL;
    weir_server_opts sopts = {.limit = o->limit};
    run *outer = current;
    current = &c;
    rc = setup(&c, o);
    if (!rc)
        rc = weir_start_server(weir_sim_loop(c.s), parser_task, &c, "parser", PORT, &sopts, &srv);
    if (!rc)
        rc = weir_sim_spawn(c.s, "peer", peer_task, &c, &(weir_task_opts){.name = "peer"}, NULL);
    if (!rc) {
        c.rep.run_rc = weir_sim_run(c.s);
        flush_trace(&c);
        c.rep.end = c.end;
        c.rep.end_at = c.end_at;
        c.rep.end_time = c.s->now;
        c.rep.draws = weir_sim_draws(c.s);
        c.rep.trace_hash = weir_sim_trace_hash(c.s);
        c.rep.hung = c.started && !c.rep.parser_done && c.end != WEIR_FUZZ_END_OPEN;
        if (c.rep.hung && c.trace) fprintf(c.trace, "%s", weir_sim_report(c.s));
    }
    /* Freeing cancels a parser still waiting, which then returns: not its answer. */
    c.over = true;
    c.trace = NULL;
    weir_server_free(srv);
    weir_sim_free(c.s);
    current = outer;
    *rep = c.rep;
    return rc;
}

int weir_fuzz_run(const uint8_t *data, size_t size, const weir_fuzz_opts *opts, weir_handler parser,
                  void *arg) {
    weir_fuzz_report rep;
    int rc = weir__fuzz_run(data, size, opts, parser, arg, NULL, &rep);
    if (opts && opts->report) *opts->report = rep;
    if (rc == 0 && rep.hung && !(opts && opts->allow_hang)) {
        fprintf(stderr,
                "weir_fuzz: the parser is still waiting after its stream ended (%s after byte "
                "%zu of %zu, %zu bytes delivered, run %s); replay the input with "
                "weir_fuzz_replay() for its timeline\n",
                weir__fuzz_end_name(rep.end), rep.end_at, rep.payload_len, rep.delivered,
                rep.run_rc ? weir_errname(rep.run_rc) : "finished");
        abort();
    }
    return rc;
}
