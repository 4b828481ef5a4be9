/* sim/fault.c - faults: which connections they apply to, when they fire, what they do.
 *
 * When a connection attempt reaches a listener, every fault is looked at in the order it
 * was added. One whose from/to/port match the connection (in either direction; a REFUSE only
 * client -> server) counts the connection (that count is what `nth` compares with); if it
 * has a probability, a chance is drawn from the decision stream right then. A REFUSE that
 * passes and whose `at` has come refuses the attempt; any other fault that passes is armed
 * on each direction it matches.
 *
 * An armed fault fires at the first moment all its set triggers hold: the time has reached
 * `at`, `after_bytes` bytes have passed in its direction, its pattern has passed (matched
 * with KMP across segment boundaries). The byte triggers are exact: the segment that
 * carries the byte where a fault fires is cut there, so "EOF after 10 bytes" delivers
 * exactly 10 bytes, then EOF. A fault acts at the stream position where it fired: EOF,
 * RESET and LIMIT_DATA after the bytes that passed before; HOLD and STALL fired by time
 * alone act on everything that has not arrived yet (the link is what they stop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net_internal.h"

static const char *const kind_names[] = {
    [WEIR_FAULT_EOF] = "EOF",
    [WEIR_FAULT_RESET] = "RESET",
    [WEIR_FAULT_REFUSE] = "REFUSE",
    [WEIR_FAULT_HOLD] = "HOLD",
    [WEIR_FAULT_LIMIT_DATA] = "LIMIT_DATA",
    [WEIR_FAULT_SLOW_CLOSE] = "SLOW_CLOSE",
    [WEIR_FAULT_STALL] = "STALL",
};

weir_sim_fault weir_sim_fault_init(weir_sim_fault_kind kind) {
    return (weir_sim_fault){.kind = kind, .at = -1, .after_bytes = -1};
}

/* --- the table ---------------------------------------------------------------------- */

static void fault_free(sim_fault *f) {
    if (!f) return;
    free(f->from);
    free(f->to);
    free(f->pattern);
    free(f->kmp);
    free(f);
}

static char *dup_side(const char *name, bool *oom) {
    if (!name || !*name || strcmp(name, "*") == 0) return NULL;
    char *d = strdup(name);
    if (!d) *oom = true;
    return d;
}

/* kmp[i]: the length of the longest proper prefix of pattern[0..i] that is also a suffix. */
static void kmp_build(const uint8_t *p, size_t n, size_t *kmp) {
    kmp[0] = 0;
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        while (k > 0 && p[i] != p[k]) k = kmp[k - 1];
        if (p[i] == p[k]) k++;
        kmp[i] = k;
    }
}

static size_t kmp_step(const sim_fault *f, size_t state, uint8_t b) {
    const uint8_t *p = f->pattern;
    while (state > 0 && p[state] != b) state = f->kmp[state - 1];
    if (p[state] == b) state++;
    return state;
}

int weir_sim_add_fault(weir_sim *s, const weir_sim_fault *f) {
    if (!s || !s->net || !f) return WEIR_EINVAL;
    if (f->kind < WEIR_FAULT_EOF || f->kind > WEIR_FAULT_STALL) return WEIR_EINVAL;
    if (f->port < 0 || f->port > 65535 || f->at < -1 || f->after_bytes < -1 || f->nth < 0 ||
        !(f->probability >= 0 && f->probability <= 1) || f->duration < 0 || f->bytes < 0 ||
        (f->pattern.len > 0 && !f->pattern.data))
        return WEIR_EINVAL;
    /* A refusal happens before any byte flows. */
    if (f->kind == WEIR_FAULT_REFUSE && (f->after_bytes >= 0 || f->pattern.len > 0))
        return WEIR_EINVAL;
    simnet *net = s->net;
    sim_fault *e = calloc(1, sizeof *e);
    if (!e) return WEIR_ENOMEM;
    bool oom = false;
    e->f = *f;
    e->from = dup_side(f->from, &oom);
    e->to = dup_side(f->to, &oom);
    e->f.from = e->from;
    e->f.to = e->to;
    if (f->pattern.len > 0) {
        e->pattern = malloc(f->pattern.len);
        e->kmp = malloc(f->pattern.len * sizeof *e->kmp);
        if (!e->pattern || !e->kmp) {
            oom = true;
        } else {
            memcpy(e->pattern, f->pattern.data, f->pattern.len);
            kmp_build(e->pattern, f->pattern.len, e->kmp);
        }
    }
    e->f.pattern = weir_bytes_of(e->pattern, f->pattern.len);
    if (!oom && net->nfaults == net->cap_faults) {
        size_t cap = net->cap_faults ? net->cap_faults * 2 : 8;
        sim_fault **faults = realloc(net->faults, cap * sizeof *faults);
        if (faults) {
            net->faults = faults;
            net->cap_faults = cap;
        } else {
            oom = true;
        }
    }
    if (oom) {
        fault_free(e);
        return WEIR_ENOMEM;
    }
    e->number = (int)net->nfaults + 1;
    net->faults[net->nfaults++] = e;
    return WEIR_OK;
}

void weir__faults_free(simnet *net) {
    for (size_t i = 0; i < net->nfaults; i++) fault_free(net->faults[i]);
    free(net->faults);
    net->faults = NULL;
    net->nfaults = net->cap_faults = 0;
}

/* --- arming ------------------------------------------------------------------------- */

/* Whether fault f concerns bytes flowing from c's end `dir` to the other. */
static bool matches(const sim_fault *f, const sim_conn *c, int dir) {
    if (f->f.port != 0 && f->f.port != c->port) return false;
    return weir__name_matches(f->from, c->host[dir]) && weir__name_matches(f->to, c->host[1 - dir]);
}

static void inst_timer(weir_timer *timer, void *arg);

int weir__faults_arm(simnet *net, sim_conn *c) {
    int refuse = 0;
    int64_t now = weir__net_now(net);
    size_t n = 0, cap = 0;
    fault_inst *insts = NULL;
    for (size_t i = 0; i < net->nfaults; i++) {
        sim_fault *f = net->faults[i];
        bool m[2] = {matches(f, c, 0), f->f.kind != WEIR_FAULT_REFUSE && matches(f, c, 1)};
        if (!m[0] && !m[1]) continue;
        f->matched++;
        if (f->f.nth > 0 && f->matched != (uint64_t)f->f.nth) continue;
        if (f->f.probability > 0) {
            char what[32];
            snprintf(what, sizeof what, "fault %d", f->number);
            if (!weir__sim_chance(net->s, what, f->f.probability)) continue;
        }
        if (f->f.kind == WEIR_FAULT_REFUSE) {
            if (!refuse && (f->f.at < 0 || now >= f->f.at)) refuse = f->number;
            continue;
        }
        for (int dir = 0; dir < 2; dir++) {
            if (!m[dir]) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                fault_inst *grown = realloc(insts, cap * sizeof *insts);
                if (!grown) {
                    free(insts);
                    return WEIR_ENOMEM;
                }
                insts = grown;
            }
            insts[n++] = (fault_inst){.fault = f, .flow = &c->flow[dir]};
        }
    }
    if (refuse || n == 0) {
        free(insts);
        return refuse;
    }
    /* Each flow gets the list of its own faults, in the order added. */
    for (int dir = 0; dir < 2; dir++) {
        sim_flow *fl = &c->flow[dir];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += insts[i].flow == fl;
        if (k == 0) continue;
        fl->faults = malloc(k * sizeof *fl->faults);
        if (!fl->faults) {
            for (int d = 0; d < 2; d++) {
                free(c->flow[d].faults);
                c->flow[d].faults = NULL;
                c->flow[d].nfaults = 0;
            }
            free(insts);
            return WEIR_ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            if (insts[i].flow == fl) fl->faults[fl->nfaults++] = &insts[i];
    }
    c->insts = insts;
    c->ninsts = n;
    return 0;
}

/* --- triggers ----------------------------------------------------------------------- */

/* The byte count the fault waits for, or -1. LIMIT_DATA's own `bytes` is one. */
static int64_t bytes_needed(const sim_fault *f) {
    int64_t need = f->f.after_bytes;
    if (f->f.kind == WEIR_FAULT_LIMIT_DATA && f->f.bytes > need) need = f->f.bytes;
    return need;
}

static bool time_holds(const fault_inst *in, int64_t now) {
    return in->fault->f.at < 0 || now >= in->fault->f.at;
}

static bool holds(const fault_inst *in, int64_t now) {
    int64_t need = bytes_needed(in->fault);
    return time_holds(in, now) && (need < 0 || in->flow->sent >= (uint64_t)need) &&
           (in->fault->f.pattern.len == 0 || in->pattern_seen);
}

size_t weir__faults_cut(sim_flow *f, const uint8_t *p, size_t n) {
    int64_t now = weir__net_now(f->c->net);
    size_t cut = n;
    for (size_t i = 0; i < f->nfaults; i++) {
        fault_inst *in = f->faults[i];
        /* Time does not move during a cut: a fault waiting for `at` cannot fire in it. */
        if (in->fired || !time_holds(in, now)) continue;
        size_t at = 0;
        int64_t need = bytes_needed(in->fault);
        if (need >= 0 && f->sent < (uint64_t)need) {
            uint64_t more = (uint64_t)need - f->sent;
            if (more > n) continue;
            at = (size_t)more;
        }
        size_t plen = in->fault->f.pattern.len;
        if (plen > 0 && !in->pattern_seen) {
            size_t state = in->kmp_state, end = 0;
            for (size_t j = 0; j < n && !end; j++) {
                state = kmp_step(in->fault, state, p[j]);
                if (state == plen) end = j + 1;
            }
            if (!end) continue;
            if (end > at) at = end;
        }
        if (at < cut) cut = at;
    }
    return cut;
}

static void fire(fault_inst *in, bool by_time);

void weir__faults_check(sim_flow *f) {
    int64_t now = weir__net_now(f->c->net);
    for (size_t i = 0; i < f->nfaults; i++) {
        fault_inst *in = f->faults[i];
        if (!in->fired && holds(in, now)) fire(in, false);
    }
}

void weir__faults_passed(sim_flow *f, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < f->nfaults; i++) {
        fault_inst *in = f->faults[i];
        size_t plen = in->fault->f.pattern.len;
        if (in->fired || plen == 0 || in->pattern_seen) continue;
        for (size_t j = 0; j < n; j++) {
            in->kmp_state = kmp_step(in->fault, in->kmp_state, p[j]);
            if (in->kmp_state == plen) {
                in->pattern_seen = true;
                break;
            }
        }
    }
    weir__faults_check(f);
}

static void inst_timer(weir_timer *timer, void *arg) {
    (void)timer;
    fault_inst *in = arg;
    sim_conn *c = in->flow->c;
    c->depth++;
    if (!in->fired && holds(in, weir__net_now(c->net))) fire(in, true);
    c->depth--;
    weir__conn_maybe_free(c);
}

void weir__faults_start(sim_conn *c) {
    weir_loop *loop = weir__net_loop(c->net);
    int64_t now = weir__net_now(c->net);
    for (size_t i = 0; i < c->ninsts; i++) {
        fault_inst *in = &c->insts[i];
        if (in->fault->f.at > now)
            weir_timer_start(loop, &in->timer, in->fault->f.at, inst_timer, in);
    }
    /* Faults whose triggers already hold (none set, `at` passed, after_bytes 0) fire now,
     * before the first byte. */
    for (size_t i = 0; i < c->ninsts; i++) {
        fault_inst *in = &c->insts[i];
        if (!in->fired && holds(in, now)) fire(in, true);
    }
}

void weir__faults_stop(sim_conn *c) {
    weir_loop *loop = weir__net_loop(c->net);
    for (size_t i = 0; i < c->ninsts; i++) weir_timer_stop(loop, &c->insts[i].timer);
}

/* --- effects ------------------------------------------------------------------------ */

/* The sender's stream ends here: a FIN after what has passed; what follows is dropped. */
static void cut_stream(sim_flow *f, const char *why) {
    weir__flow_send_fin(f);
    weir__flow_drop_sender(f, why);
}

static void fire(fault_inst *in, bool by_time) {
    in->fired = true;
    sim_flow *f = in->flow;
    sim_conn *c = f->c;
    const weir_sim_fault *ft = &in->fault->f;
    int64_t now = weir__net_now(c->net);
    bool on_link = ft->kind == WEIR_FAULT_HOLD || ft->kind == WEIR_FAULT_STALL;
    uint64_t pos = by_time && on_link ? weir__flow_arrived_pos(f, now) : f->sent;
    char note[96];
    snprintf(note, sizeof note, "%d %s at byte %llu", in->fault->number, kind_names[ft->kind],
             (unsigned long long)pos);
    weir__conn_record(c, WEIR__TR_FAULT, f->dir, 0, 0, NULL, 0, note);
    switch (ft->kind) {
        case WEIR_FAULT_EOF:
            cut_stream(f, "after EOF");
            break;
        case WEIR_FAULT_RESET:
            /* The RST follows what has passed; the sending end is reset right away. */
            weir__flow_send_rst(f);
            weir__end_reset(&c->end[f->dir], WEIR_ECONNRESET);
            break;
        case WEIR_FAULT_LIMIT_DATA:
            /* toxiproxy closes the whole proxied connection: both directions end. */
            cut_stream(f, "over limit");
            cut_stream(&c->flow[1 - f->dir], "over limit");
            break;
        case WEIR_FAULT_HOLD: {
            int64_t until = ft->duration > 0 && ft->duration < WEIR_FOREVER - now
                                ? now + ft->duration
                                : WEIR_FOREVER;
            if (f->hold_until != 0 && now < f->hold_until) {
                if (pos < f->hold_pos) f->hold_pos = pos;
                if (until > f->hold_until) f->hold_until = until;
            } else {
                f->hold_pos = pos;
                f->hold_until = until;
            }
            weir__flow_kick(f);
            break;
        }
        case WEIR_FAULT_SLOW_CLOSE:
            f->fin_delay += ft->duration;
            break;
        case WEIR_FAULT_STALL:
            /* Stalled first, so that dropping the queue cannot send a last FIN. */
            f->stalled = true;
            weir__flow_drop_from(f, pos, "stalled");
            weir__flow_drop_sender(f, "stalled");
            break;
        case WEIR_FAULT_REFUSE:
            break;
    }
}
