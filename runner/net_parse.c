/* runner/net_parse.c - the lines of network scenarios (docs/scenarios.md, "Network
 * scenarios"): declarations (host, link, fault, server, peer, run) and peers' steps
 * ("NAME: readline => ..."). parse.c hands every such line here.
 *
 * Names are checked as they are used: a link, fault, server or peer names a host declared
 * on an earlier line, a peer's step a peer declared earlier. What can only be known by
 * running (a handler's name, an address already taken) is checked when the scenario runs. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "runner/net_internal.h"
#include "runner/parse_internal.h"
#include "weir/sim.h"

const char *const weir__fault_names[WEIR__FAULT_KINDS] = {
    [WEIR_FAULT_EOF] = "eof",
    [WEIR_FAULT_RESET] = "reset",
    [WEIR_FAULT_REFUSE] = "refuse",
    [WEIR_FAULT_HOLD] = "hold",
    [WEIR_FAULT_LIMIT_DATA] = "limit_data",
    [WEIR_FAULT_SLOW_CLOSE] = "slow_close",
    [WEIR_FAULT_STALL] = "stall",
};

#define MAX_NAME 64
#define MAX_REPEATED_BYTES (64u << 20)

/* ---- names -------------------------------------------------------------------------- */

/* Host, peer and handler names: letters, digits, '_', '-' and '.', starting with a letter
 * or digit, at most MAX_NAME bytes. */
static bool valid_name(weir_bytes w) {
    if (w.len == 0 || w.len > MAX_NAME) return false;
    for (size_t i = 0; i < w.len; i++) {
        uint8_t c = w.data[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.'))) return false;
    }
    return true;
}

static bool is_peer_prefix(const weir__token *t) {
    return t->kind == WEIR__TOK_WORD && t->val.len >= 2 && t->val.data[t->val.len - 1] == ':' &&
           valid_name(weir_bytes_of(t->val.data, t->val.len - 1));
}

static const char *const declarations[] = {"host", "link", "fault", "server", "peer", "run", NULL};

bool weir__net_keyword(const weir__token *kw) {
    for (size_t i = 0; declarations[i] != NULL; i++)
        if (weir__word_is(kw, declarations[i])) return true;
    return is_peer_prefix(kw);
}

static const weir__decl *decl_at(const weir__scenario *sc, size_t step) {
    return sc->steps[step].decl;
}

static long find(const weir__scenario *sc, const size_t *idx, size_t n, weir_bytes name) {
    for (size_t i = 0; i < n; i++) {
        weir_bytes d = decl_at(sc, idx[i])->name;
        if (d.len == name.len && memcmp(d.data, name.data, d.len) == 0) return (long)i;
    }
    return -1;
}

static int remember(size_t **v, size_t *n, size_t *cap, size_t step) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        size_t *p = realloc(*v, c * sizeof *p);
        if (p == NULL) return WEIR_ENOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = step;
    return 0;
}

/* A new name (host or peer): valid and not taken. */
static int new_name(weir__cursor *c, const char *what, const size_t *idx, size_t n,
                    weir_bytes *out) {
    weir__token *t = NULL;
    int rc = weir__word(c, what, &t);
    if (rc != 0) return rc;
    if (!valid_name(t->val))
        return weir__cerr(c, t, "bad %s %s (letters, digits, '_', '-', '.'; at most %d)", what,
                          weir__quoted(c->p, t->val), MAX_NAME);
    if (find(c->p->cur, idx, n, t->val) >= 0)
        return weir__cerr(c, t, "%s %s declared twice", what, weir__quoted(c->p, t->val));
    return weir__keep(c->p, t->val, out);
}

/* A declared host (or "*" when allowed). */
static int host_ref(weir__cursor *c, bool star, weir_bytes *out) {
    weir__token *t = NULL;
    int rc = weir__word(c, star ? "a host name or *" : "a host name", &t);
    if (rc != 0) return rc;
    const weir__scenario *sc = c->p->cur;
    if (!(star && weir__word_is(t, "*")) && find(sc, sc->hosts, sc->nhosts, t->val) < 0)
        return weir__cerr(c, t, "unknown host %s (declare it first: host NAME [ADDRESSES])",
                          weir__quoted(c->p, t->val));
    return weir__keep(c->p, t->val, out);
}

static int keyword(weir__cursor *c, const char *kw) {
    weir__token *t = NULL;
    char what[32];
    snprintf(what, sizeof what, "`%s`", kw);
    int rc = weir__word(c, what, &t);
    if (rc == 0 && !weir__word_is(t, kw)) rc = weir__cerr(c, t, "expected `%s`", kw);
    return rc;
}

/* ---- values ------------------------------------------------------------------------- */

/* A token that starts at byte `off` of t, for pointing into a word (the value of key=). */
static weir__token inside(const weir__token *t, size_t off) {
    weir__token u = *t;
    u.col += off;
    return u;
}

static int value(weir__cursor *c, const weir__token *t, size_t off, weir__value_kind k, bool range,
                 weir__range *out) {
    const char *why = NULL;
    weir__token at = inside(t, off);
    int r =
        weir__parse_value(weir_bytes_of(t->val.data + off, t->val.len - off), k, range, out, &why);
    if (r > 0) return 0;
    if (why != NULL) return weir__cerr(c, &at, "%s", why);
    return weir__cerr(c, &at, "expected %s%s", weir__value_hint(k),
                      range ? ", or a range LO..HI" : "");
}

static int duration_word(weir__cursor *c, const char *what, int64_t *out) {
    weir__token *t = NULL;
    weir__range r;
    int rc = weir__word(c, what, &t);
    if (rc == 0) rc = value(c, t, 0, WEIR__VAL_DURATION, false, &r);
    if (rc == 0) *out = r.lo;
    return rc;
}

/* "host:port" with port 1..65535; the host part goes to *host (a view into the word). */
static int endpoint(weir__cursor *c, const weir__token *t, weir_bytes *host, int64_t *port) {
    const uint8_t *colon = NULL;
    for (size_t i = 0; i < t->val.len; i++)
        if (t->val.data[i] == ':') colon = t->val.data + i;
    if (colon == NULL || colon == t->val.data)
        return weir__cerr(c, t, "expected HOST:PORT, found %s", weir__quoted(c->p, t->val));
    size_t off = (size_t)(colon - t->val.data) + 1;
    weir__token at = inside(t, off);
    int64_t v = 0;
    if (weir__to_int64(weir_bytes_of(colon + 1, t->val.len - off), &v) != 1 || v < 1 || v > 65535 ||
        colon[1] == '-')
        return weir__cerr(c, &at, "expected a port 1..65535");
    *host = weir_bytes_of(t->val.data, off - 1);
    *port = v;
    return 0;
}

static bool is_address(weir_bytes w) {
    char buf[64];
    unsigned char addr[16];
    if (w.len == 0 || w.len >= sizeof buf) return false;
    memcpy(buf, w.data, w.len);
    buf[w.len] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* KEY=VALUE arguments for a handler, up to the end or a time clause. */
static bool is_clause(const weir__token *t) {
    return weir__word_is(t, "at") || weir__word_is(t, "within") || weir__word_is(t, "after");
}

static bool valid_key(weir_bytes k) {
    if (k.len == 0 || k.len > MAX_NAME) return false;
    for (size_t i = 0; i < k.len; i++) {
        uint8_t ch = k.data[i];
        bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9');
        if (!ok) return false;
    }
    return true;
}

static int handler_args(weir__cursor *c, weir__decl *d) {
    weir__arg args[WEIR_SCENARIO_MAX_TOKENS];
    size_t n = 0;
    weir__token *t;
    while ((t = weir__peek(c)) != NULL && !is_clause(t)) {
        int rc = weir__word(c, "KEY=VALUE", &t);
        if (rc != 0) return rc;
        const uint8_t *eq = memchr(t->val.data, '=', t->val.len);
        if (eq == NULL || !valid_key(weir_bytes_of(t->val.data, (size_t)(eq - t->val.data))))
            return weir__cerr(c, t, "expected KEY=VALUE (KEY: a-z, 0-9, _), found %s",
                              weir__quoted(c->p, t->val));
        size_t klen = (size_t)(eq - t->val.data);
        weir_bytes v = weir_bytes_of(eq + 1, t->val.len - klen - 1);
        weir__token *s = weir__peek(c);
        if (v.len == 0 && s != NULL && s->kind == WEIR__TOK_STR && s->glued) {
            v = s->val; /* key="any bytes" */
            c->pos++;
        } else {
            for (size_t i = 0; i < v.len; i++)
                if (v.data[i] < 0x21 || v.data[i] > 0x7e) {
                    weir__token at = inside(t, klen + 1 + i);
                    return weir__cerr(c, &at,
                                      "a value is printable ASCII; write other bytes "
                                      "as a string: KEY=\"...\"");
                }
        }
        for (size_t i = 0; i < n; i++)
            if (args[i].key.len == klen && memcmp(args[i].key.data, t->val.data, klen) == 0)
                return weir__cerr(c, t, "`%.*s=` given twice", (int)klen,
                                  (const char *)t->val.data);
        args[n].key = weir_bytes_of(t->val.data, klen);
        args[n].value = v;
        n++;
    }
    if (n == 0) return 0;
    weir__arg *kept = weir__arena_alloc(&c->p->f->arena, n * sizeof *kept);
    if (kept == NULL) return WEIR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = weir__keep(c->p, args[i].key, &kept[i].key);
        if (rc == 0) rc = weir__keep(c->p, args[i].value, &kept[i].value);
        if (rc != 0) return rc;
    }
    d->args = kept;
    d->nargs = n;
    return 0;
}

/* ---- settings: key=value words of link and fault ------------------------------------ */

typedef enum { SET_RANGE, SET_PORT, SET_PATTERN, SET_PROB } set_kind;

typedef struct setting {
    const char *key;
    set_kind kind;
    weir__value_kind vk;
    size_t offset; /* of the weir__range (or other field) in weir__decl */
} setting;

#define FIELD(f) offsetof(weir__decl, f)

static const setting link_settings[] = {
    {"latency", SET_RANGE, WEIR__VAL_DURATION, FIELD(latency)},
    {"jitter", SET_RANGE, WEIR__VAL_DURATION, FIELD(jitter)},
    {"bandwidth", SET_RANGE, WEIR__VAL_RATE, FIELD(bandwidth)},
    {"segment", SET_RANGE, WEIR__VAL_SIZE, FIELD(segment)},
    {"window", SET_RANGE, WEIR__VAL_SIZE, FIELD(window)},
    {"connect_delay", SET_RANGE, WEIR__VAL_DURATION, FIELD(connect_delay)},
    {NULL, 0, 0, 0},
};

static const setting fault_settings[] = {
    {"port", SET_PORT, WEIR__VAL_COUNT, FIELD(port)},
    {"at", SET_RANGE, WEIR__VAL_DURATION, FIELD(at)},
    {"after", SET_RANGE, WEIR__VAL_SIZE, FIELD(after)},
    {"pattern", SET_PATTERN, 0, FIELD(pattern)},
    {"nth", SET_RANGE, WEIR__VAL_COUNT, FIELD(nth)},
    {"p", SET_PROB, 0, FIELD(p)},
    {"for", SET_RANGE, WEIR__VAL_DURATION, FIELD(duration)},
    {"bytes", SET_RANGE, WEIR__VAL_SIZE, FIELD(bytes)},
    {NULL, 0, 0, 0},
};

static int settings(weir__cursor *c, const setting *table, const char *what, const char *keys,
                    weir__decl *d) {
    unsigned seen = 0;
    weir__token *t;
    while (weir__peek(c) != NULL) {
        int rc = weir__word(c, "KEY=VALUE", &t);
        if (rc != 0) return rc;
        const uint8_t *eq = memchr(t->val.data, '=', t->val.len);
        size_t klen = eq != NULL ? (size_t)(eq - t->val.data) : t->val.len;
        size_t i = 0;
        for (; table[i].key != NULL; i++)
            if (strlen(table[i].key) == klen && memcmp(table[i].key, t->val.data, klen) == 0) break;
        if (table[i].key == NULL)
            return weir__cerr(c, t, "unknown %s setting %s (%s)", what,
                              weir__quoted(c->p, weir_bytes_of(t->val.data, klen)), keys);
        if (eq == NULL) return weir__cerr(c, t, "expected %s=VALUE", table[i].key);
        if (seen & (1u << i)) return weir__cerr(c, t, "`%s=` given twice", table[i].key);
        seen |= 1u << i;
        const setting *st = &table[i];
        void *field = (char *)d + st->offset;
        size_t off = klen + 1;
        weir__token at = inside(t, off);
        weir_bytes v = weir_bytes_of(t->val.data + off, t->val.len - off);
        switch (st->kind) {
            case SET_RANGE:
                if ((rc = value(c, t, off, st->vk, true, field)) != 0) return rc;
                break;
            case SET_PORT: {
                int64_t port = 0;
                if (weir__to_int64(v, &port) != 1 || port < 1 || port > 65535 || v.data[0] == '-')
                    return weir__cerr(c, &at, "expected a port 1..65535");
                *(int64_t *)field = port;
                break;
            }
            case SET_PATTERN: {
                weir__token *s = weir__peek(c);
                if (v.len != 0 || s == NULL || s->kind != WEIR__TOK_STR || !s->glued)
                    return weir__cerr(c, &at, "expected a string right after pattern=");
                if (s->val.len == 0) return weir__cerr(c, s, "the pattern is empty");
                c->pos++;
                if ((rc = weir__keep(c->p, s->val, field)) != 0) return rc;
                d->has_pattern = true;
                break;
            }
            case SET_PROB:
                if (weir__parse_probability(v, field) != 1)
                    return weir__cerr(c, &at, "expected a probability 0..1 like 0.25");
                break;
        }
    }
    return 0;
}

/* ---- declarations ------------------------------------------------------------------- */

static weir__decl *new_decl(weir__parser *p) {
    weir__decl *d = weir__arena_alloc(&p->f->arena, sizeof *d);
    if (d != NULL) memset(d, 0, sizeof *d);
    return d;
}

static int count_actor(weir__cursor *c, const weir__token *kw) {
    if (c->p->cur->nactors == WEIR_SCENARIO_MAX_ACTORS)
        return weir__cerr(c, kw, "too many servers, peers and runs in one scenario (at most %d)",
                          WEIR_SCENARIO_MAX_ACTORS);
    c->p->cur->nactors++;
    return 0;
}

static int decl_host(weir__cursor *c, const weir__token *kw, weir__decl *d) {
    weir__scenario *sc = c->p->cur;
    if (!sc->network && sc->nsteps > 0)
        return weir__cerr(c, kw,
                          "`host` in a reader scenario: a network scenario declares its "
                          "hosts before anything else");
    if (sc->nhosts == WEIR_SCENARIO_MAX_HOSTS)
        return weir__cerr(c, kw, "too many hosts in one scenario (at most %d)",
                          WEIR_SCENARIO_MAX_HOSTS);
    int rc = new_name(c, "host name", sc->hosts, sc->nhosts, &d->name);
    if (rc != 0) return rc;
    weir__token *t = weir__peek(c);
    if (t == NULL) return 0;
    if ((rc = weir__word(c, "addresses", &t)) != 0) return rc;
    /* ADDR,ADDR,...: each an IPv4 or IPv6 literal. */
    size_t start = 0;
    for (size_t i = 0; i <= t->val.len; i++) {
        if (i < t->val.len && t->val.data[i] != ',') continue;
        if (!is_address(weir_bytes_of(t->val.data + start, i - start))) {
            weir__token at = inside(t, start);
            return weir__cerr(c, &at, "expected IPv4 or IPv6 addresses separated by commas");
        }
        start = i + 1;
    }
    return weir__keep(c->p, t->val, &d->addrs);
}

static int decl_link(weir__cursor *c, weir__decl *d) {
    weir__token *t = NULL;
    int rc = host_ref(c, true, &d->from);
    if (rc == 0) rc = weir__word(c, "-> or <->", &t);
    if (rc != 0) return rc;
    if (weir__word_is(t, "<->"))
        d->both_ways = true;
    else if (!weir__word_is(t, "->"))
        return weir__cerr(c, t, "expected -> or <->");
    if ((rc = host_ref(c, true, &d->to)) != 0) return rc;
    weir__token *first = weir__peek(c);
    rc = settings(c, link_settings, "link",
                  "latency, jitter, bandwidth, segment, window, connect_delay", d);
    if (rc != 0) return rc;
    if (first == NULL)
        return weir__cerr(c, NULL,
                          "expected link settings (latency=, jitter=, bandwidth=, "
                          "segment=, window=, connect_delay=)");
    /* 0 means "all that is queued" for segment and "the default" for window: say so
     * instead of drawing it from a range. */
    if (d->segment.set && d->segment.lo == 0 && d->segment.hi != 0)
        return weir__cerr(c, first,
                          "segment sizes start at 1 (segment=0 alone means whole "
                          "writes)");
    if (d->window.set && d->window.lo == 0)
        return weir__cerr(c, first, "window must be at least 1 byte");
    return 0;
}

static int decl_fault(weir__cursor *c, weir__decl *d) {
    weir__token *t = NULL;
    int rc = weir__word(c, "a fault kind", &t);
    if (rc != 0) return rc;
    for (int k = 1; k < WEIR__FAULT_KINDS; k++)
        if (weir__word_is(t, weir__fault_names[k])) d->fault = k;
    if (d->fault == 0)
        return weir__cerr(c, t,
                          "unknown fault %s (eof, reset, refuse, hold, limit_data, slow_close, "
                          "stall)",
                          weir__quoted(c->p, t->val));
    const weir__token *kind = t;
    rc = host_ref(c, true, &d->from);
    if (rc == 0) rc = keyword(c, "->");
    if (rc == 0) rc = host_ref(c, true, &d->to);
    if (rc == 0)
        rc =
            settings(c, fault_settings, "fault", "port, at, after, pattern, nth, p, for, bytes", d);
    if (rc != 0) return rc;
    bool limit = d->fault == WEIR_FAULT_LIMIT_DATA;
    bool timed = d->fault == WEIR_FAULT_HOLD || d->fault == WEIR_FAULT_SLOW_CLOSE;
    if (limit != d->bytes.set)
        return weir__cerr(c, limit ? NULL : kind,
                          limit ? "limit_data needs bytes=N" : "`bytes=` is for limit_data only");
    if (d->duration.set && !timed)
        return weir__cerr(c, kind, "`for=` is for hold and slow_close only");
    if (d->fault == WEIR_FAULT_SLOW_CLOSE && !d->duration.set)
        return weir__cerr(c, NULL, "slow_close needs for=DURATION");
    if (d->nth.set && d->nth.lo == 0) return weir__cerr(c, kind, "nth counts from 1");
    return 0;
}

static int decl_server(weir__cursor *c, const weir__token *kw, weir__decl *d) {
    weir__token *t = NULL;
    int rc = count_actor(c, kw);
    if (rc == 0) rc = weir__word(c, "HOST:PORT", &t);
    if (rc == 0) rc = endpoint(c, t, &d->host, &d->port);
    if (rc != 0) return rc;
    const weir__scenario *sc = c->p->cur;
    if (find(sc, sc->hosts, sc->nhosts, d->host) < 0)
        return weir__cerr(c, t, "unknown host %s (a server runs on a declared host)",
                          weir__quoted(c->p, d->host));
    if ((rc = weir__keep(c->p, d->host, &d->host)) != 0) return rc;
    if ((rc = weir__word(c, "a handler name (or echo)", &t)) != 0) return rc;
    if (!valid_name(t->val))
        return weir__cerr(c, t, "bad handler name %s", weir__quoted(c->p, t->val));
    if ((rc = weir__keep(c->p, t->val, &d->handler)) != 0) return rc;
    return handler_args(c, d);
}

static int decl_peer(weir__cursor *c, const weir__token *kw, weir__decl *d) {
    weir__scenario *sc = c->p->cur;
    weir__token *t = NULL;
    int rc = count_actor(c, kw);
    if (rc == 0) rc = new_name(c, "peer name", sc->peers, sc->npeers, &d->name);
    if (rc == 0) rc = keyword(c, "on");
    if (rc == 0) rc = host_ref(c, false, &d->host);
    if (rc == 0) rc = weir__word(c, "connect or listen", &t);
    if (rc != 0) return rc;
    if (weir__word_is(t, "listen")) {
        d->listen = true;
        if ((rc = weir__word(c, "a port", &t)) != 0) return rc;
        if (weir__to_int64(t->val, &d->port) != 1 || d->port < 1 || d->port > 65535 ||
            t->val.data[0] == '-')
            return weir__cerr(c, t, "expected a port 1..65535");
        return 0;
    }
    if (!weir__word_is(t, "connect")) return weir__cerr(c, t, "expected connect or listen");
    if ((rc = weir__word(c, "HOST:PORT", &t)) != 0) return rc;
    weir_bytes target;
    if ((rc = endpoint(c, t, &target, &d->port)) != 0) return rc;
    /* A name (declared or not: connecting to an unknown name is a test of its own), an
     * address, or [v6]:port. */
    if (target.len >= 2 && target.data[0] == '[' && target.data[target.len - 1] == ']')
        target = weir_bytes_of(target.data + 1, target.len - 2);
    if (!valid_name(target) && !is_address(target))
        return weir__cerr(c, t, "expected a host name or address before :PORT");
    return weir__keep(c->p, target, &d->target);
}

static int decl_run(weir__cursor *c, const weir__token *kw, weir__decl *d) {
    weir__token *t = NULL;
    int rc = count_actor(c, kw);
    if (rc == 0) rc = weir__word(c, "a handler name", &t);
    if (rc != 0) return rc;
    if (!valid_name(t->val))
        return weir__cerr(c, t, "bad handler name %s", weir__quoted(c->p, t->val));
    if ((rc = weir__keep(c->p, t->val, &d->handler)) != 0) return rc;
    if ((rc = keyword(c, "on")) == 0) rc = host_ref(c, false, &d->host);
    weir__token *first = weir__peek(c);
    if (rc == 0) rc = handler_args(c, d);
    if (rc != 0) return rc;
    /* connect=HOST:PORT says where the client connects. */
    for (size_t i = 0; i < d->nargs; i++) {
        if (strcmp((const char *)d->args[i].key.data, "connect") != 0) continue;
        weir__token *t = first;
        while (t != NULL && t < c->toks + c->pos &&
               !(t->val.len >= 8 && memcmp(t->val.data, "connect=", 8) == 0))
            t++;
        weir__token v = *t;
        v.val = d->args[i].value;
        v.col += 8;
        weir_bytes target;
        if ((rc = endpoint(c, &v, &target, &d->port)) != 0) return rc;
        if (target.len >= 2 && target.data[0] == '[' && target.data[target.len - 1] == ']')
            target = weir_bytes_of(target.data + 1, target.len - 2);
        if (!valid_name(target) && !is_address(target))
            return weir__cerr(c, &v, "expected a host name or address before :PORT");
        return weir__keep(c->p, target, &d->target);
    }
    return weir__cerr(c, NULL, "a run needs connect=HOST:PORT (where the client connects)");
}

/* ---- a peer's steps ----------------------------------------------------------------- */

static const struct {
    const char *word;
    weir__step_kind kind;
} actions[] = {
    {"connect", WEIR__STEP_CONNECT},     {"accept", WEIR__STEP_ACCEPT},
    {"send", WEIR__STEP_SEND},           {"write", WEIR__STEP_WRITE},
    {"drain", WEIR__STEP_DRAIN},         {"sleep", WEIR__STEP_SLEEP},
    {"expect", WEIR__STEP_EXPECT},       {"read", WEIR__STEP_READ},
    {"readline", WEIR__STEP_READLINE},   {"readexactly", WEIR__STEP_READEXACTLY},
    {"readuntil", WEIR__STEP_READUNTIL}, {"eof", WEIR__STEP_EOF},
    {"close", WEIR__STEP_CLOSE},         {"abort", WEIR__STEP_ABORT},
    {"at_eof", WEIR__STEP_AT_EOF},       {"buffered", WEIR__STEP_BUFFERED},
};

/* The reader's getters a peer has; they say what they see only after `=>`, as in reader
 * scenarios. */
static bool is_getter(weir__step_kind k) {
    return k == WEIR__STEP_AT_EOF || k == WEIR__STEP_BUFFERED;
}

/* BYTES [* N] */
static int payload(weir__cursor *c, weir__step *s) {
    weir__token *t = NULL;
    int rc = weir__string(c, "a string", &t);
    if (rc == 0) rc = weir__keep(c->p, t->val, &s->data);
    if (rc != 0) return rc;
    s->repeat = 1;
    weir__token *star = weir__peek(c);
    if (star == NULL || !weir__word_is(star, "*")) return 0;
    c->pos++;
    if ((rc = weir__separated(c, star)) != 0) return rc;
    int64_t n = 0;
    if ((rc = weir__integer(c, "a repeat count", &n)) != 0) return rc;
    weir__token *nt = &c->toks[c->pos - 1];
    if (n < 1) return weir__cerr(c, nt, "the repeat count starts at 1");
    if (s->data.len > 0 && (uint64_t)n > MAX_REPEATED_BYTES / s->data.len)
        return weir__cerr(c, nt, "repeated string longer than %u bytes", MAX_REPEATED_BYTES);
    s->repeat = (uint64_t)n;
    return 0;
}

static int peer_arguments(weir__cursor *c, weir__step *s, weir__decl *peer,
                          const weir__token *action) {
    int rc;
    switch (s->kind) {
        case WEIR__STEP_CONNECT:
        case WEIR__STEP_ACCEPT: {
            bool want_listen = s->kind == WEIR__STEP_ACCEPT;
            if (peer->listen != want_listen)
                return weir__cerr(c, action, "`%s` is for a peer that %s; this one %s",
                                  weir__step_keyword(s->kind), want_listen ? "listens" : "connects",
                                  peer->listen ? "listens (use accept)" : "connects (use connect)");
            if (peer->nsteps > 0)
                return weir__cerr(c, action, "`%s` must be the peer's first step",
                                  weir__step_keyword(s->kind));
            return 0;
        }
        case WEIR__STEP_SEND:
        case WEIR__STEP_WRITE:
            return payload(c, s);
        case WEIR__STEP_EXPECT: {
            weir__token *t = weir__peek(c);
            if (t != NULL && (weir__word_is(t, "eof") || weir__word_is(t, "reset"))) {
                if ((rc = weir__word(c, "eof", &t)) != 0) return rc;
                s->expect.kind = weir__word_is(t, "eof") ? WEIR__OUT_EOF : WEIR__OUT_RESET;
                return 0;
            }
            if (t == NULL || t->kind != WEIR__TOK_STR)
                return weir__cerr(c, t, "expected a string, eof or reset");
            if ((rc = payload(c, s)) != 0) return rc;
            s->expect.kind = WEIR__OUT_BYTES;
            s->expect.bytes = s->data;
            return 0;
        }
        case WEIR__STEP_SLEEP:
            return duration_word(c, "a duration", &s->n);
        case WEIR__STEP_READ:
        case WEIR__STEP_READLINE:
        case WEIR__STEP_READEXACTLY:
        case WEIR__STEP_READUNTIL:
            return weir__read_arguments(c, s);
        default:
            return 0;
    }
}

/* [at T] */
static int at_clause(weir__cursor *c, weir__step *s) {
    weir__token *t = weir__peek(c);
    if (t == NULL || !weir__word_is(t, "at")) return 0;
    c->pos++;
    int rc = weir__separated(c, t);
    if (rc == 0) rc = duration_word(c, "a time like 10ms", &s->at);
    s->has_at = rc == 0;
    return rc;
}

/* [within D] [after D], in either order, then the end of the line. */
static int time_clauses(weir__cursor *c, weir__step *s) {
    weir__token *t;
    while ((t = weir__peek(c)) != NULL) {
        bool within = weir__word_is(t, "within");
        if (!within && !weir__word_is(t, "after")) break;
        if (within ? s->has_within : s->has_after)
            return weir__cerr(c, t, "`%s` given twice", within ? "within" : "after");
        c->pos++;
        int rc = weir__separated(c, t);
        if (rc == 0) rc = duration_word(c, "a duration like 50ms", within ? &s->within : &s->after);
        if (rc != 0) return rc;
        if (within)
            s->has_within = true;
        else
            s->has_after = true;
    }
    if (t != NULL && weir__word_is(t, "at"))
        return weir__cerr(c, t, "`at` goes before `=>` and the time checks");
    return weir__end(c);
}

/* The canonical text of tokens [from, to): single spaces, strings re-escaped. */
static int canonical(weir__parser *p, const weir__token *toks, size_t from, size_t to,
                     weir_bytes *out) {
    weir__buf *b = &p->text;
    weir__buf_reset(b);
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++) {
        if (i > from && !toks[i].glued) rc = weir__buf_putc(b, ' ');
        if (rc == 0)
            rc = toks[i].kind == WEIR__TOK_STR
                     ? weir__fmt_bytes(b, toks[i].val)
                     : weir__buf_append(b, toks[i].val.data, toks[i].val.len);
    }
    return rc ? rc : weir__keep(p, weir_bytes_of(b->data, b->len), out);
}

/* run ... => RESULT [KEY=N ...]: numbers the client reports (status=200). */
static int result_checks(weir__cursor *c, weir__step *s) {
    weir__arg checks[WEIR_SCENARIO_MAX_TOKENS];
    size_t n = 0;
    weir__token *t;
    while ((t = weir__peek(c)) != NULL && t->kind == WEIR__TOK_WORD && !is_clause(t)) {
        int rc = weir__word(c, "KEY=N", &t);
        if (rc != 0) return rc;
        const uint8_t *eq = memchr(t->val.data, '=', t->val.len);
        size_t klen = eq != NULL ? (size_t)(eq - t->val.data) : 0;
        int64_t v;
        if (eq == NULL || !valid_key(weir_bytes_of(t->val.data, klen)))
            return weir__cerr(c, t, "expected KEY=N (a number the program reports), found %s",
                              weir__quoted(c->p, t->val));
        weir__token at = inside(t, klen + 1);
        int r = weir__to_int64(weir_bytes_of(eq + 1, t->val.len - klen - 1), &v);
        if (r != 1)
            return weir__cerr(c, &at,
                              r < 0 ? "number does not fit in 64 bits" : "expected a number");
        for (size_t i = 0; i < n; i++)
            if (checks[i].key.len == klen && memcmp(checks[i].key.data, t->val.data, klen) == 0)
                return weir__cerr(c, t, "`%.*s=` given twice", (int)klen,
                                  (const char *)t->val.data);
        checks[n].key = weir_bytes_of(t->val.data, klen);
        checks[n].value = weir_bytes_of(eq + 1, t->val.len - klen - 1);
        n++;
    }
    if (n == 0) return 0;
    weir__arg *kept = weir__arena_alloc(&c->p->f->arena, n * sizeof *kept);
    if (kept == NULL) return WEIR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = weir__keep(c->p, checks[i].key, &kept[i].key);
        if (rc == 0) rc = weir__keep(c->p, checks[i].value, &kept[i].value);
        if (rc != 0) return rc;
    }
    s->checks = kept;
    s->nchecks = n;
    return 0;
}

static bool takes_result(weir__step_kind k) {
    return k != WEIR__STEP_SLEEP && k != WEIR__STEP_EXPECT && k != WEIR__STEP_ABORT;
}

static int peer_step(weir__parser *p, weir__cursor *head, weir__token *kw, weir__token *arrow,
                     weir__step *s) {
    weir__scenario *sc = p->cur;
    weir_bytes name = weir_bytes_of(kw->val.data, kw->val.len - 1);
    long i = find(sc, sc->peers, sc->npeers, name);
    if (i < 0)
        return weir__cerr(head, kw, "unknown peer %s (declare it first: peer NAME on HOST ...)",
                          weir__quoted(p, name));
    weir__decl *peer = (weir__decl *)decl_at(sc, sc->peers[i]); /* the parser's own memory */
    s->peer = (int)i;
    weir__token *t = NULL;
    int rc = weir__word(head, "a peer step", &t);
    if (rc != 0) return rc;
    size_t k = 0;
    while (k < sizeof actions / sizeof actions[0] && !weir__word_is(t, actions[k].word)) k++;
    if (k == sizeof actions / sizeof actions[0])
        return weir__cerr(head, t,
                          "unknown peer step %s (connect, accept, send, write, drain, sleep, "
                          "expect, read, readline, readexactly, readuntil, eof, close, abort, "
                          "at_eof, buffered)",
                          weir__quoted(p, t->val));
    s->kind = actions[k].kind;
    if ((rc = peer_arguments(head, s, peer, t)) != 0) return rc;
    if ((rc = at_clause(head, s)) != 0) return rc;
    size_t text_end = head->pos;
    if (arrow == NULL) {
        if ((rc = time_clauses(head, s)) != 0) return rc;
        if (is_getter(s->kind))
            return weir__cerr(head, NULL, "`%s` needs `=> ...`", weir__step_keyword(s->kind));
    } else {
        if ((rc = weir__end(head)) != 0) return rc;
        if (!takes_result(s->kind))
            return weir__cerr(head, arrow, "`%s` takes no result%s", weir__step_keyword(s->kind),
                              s->kind == WEIR__STEP_EXPECT ? " (it says what it expects)" : "");
        weir__cursor res = {p, arrow + 1, (size_t)(p->lx.toks + p->lx.ntoks - arrow - 1), 0,
                            p->lx.eol};
        if (res.n == 0) return weir__cerr(&res, NULL, "missing result after =>");
        rc = is_getter(s->kind) ? weir__getter_result(&res, s->kind, &s->expect)
                                : weir__result(&res, &s->expect, true);
        if (rc != 0) return rc;
        if ((rc = time_clauses(&res, s)) != 0) return rc;
    }
    if ((rc = canonical(p, head->toks, 0, text_end, &s->text)) != 0) return rc;
    peer->nsteps++;
    return 0;
}

/* ---- the line ----------------------------------------------------------------------- */

int weir__parse_net_line(weir__parser *p, weir__cursor *head, weir__token *kw, weir__token *arrow) {
    weir__scenario *sc = p->cur;
    weir__step s;
    memset(&s, 0, sizeof s);
    s.line = p->lineno;
    s.peer = -1;
    if (!weir__net_keyword(kw)) {
        for (int k = WEIR__STEP_READER; k <= WEIR__STEP_AWAIT; k++) {
            const char *word = weir__step_keyword((weir__step_kind)k);
            if (!weir__word_is(kw, word)) continue;
            if (is_getter((weir__step_kind)k))
                return weir__cerr(head, kw,
                                  "`%s` is a reader step; in a network scenario it is a peer's "
                                  "step (NAME: %s)",
                                  word, word);
            return weir__cerr(head, kw,
                              "`%s` is a reader step; in a network scenario a peer reads "
                              "(NAME: readline)",
                              word);
        }
        return weir__cerr(head, kw, "unknown step %s", weir__quoted(p, kw->val));
    }
    /* Outside a network scenario "NAME:" is no step at all, as before networks existed. */
    if (is_peer_prefix(kw) && (sc == NULL || !sc->network))
        return weir__cerr(head, kw, "unknown step %s", weir__quoted(p, kw->val));
    if (sc == NULL) return weir__cerr(head, kw, "step before the first `scenario` line");
    int rc;
    if (is_peer_prefix(kw)) {
        if ((rc = peer_step(p, head, kw, arrow, &s)) != 0) return rc;
        return weir__append_step(p, head, kw, &s);
    }
    if (!weir__word_is(kw, "host") && !sc->network)
        return weir__cerr(head, kw,
                          "`%.*s` needs hosts: a network scenario starts with `host` lines",
                          (int)kw->val.len, (const char *)kw->val.data);
    weir__decl *d = new_decl(p);
    if (d == NULL) return WEIR_ENOMEM;
    s.decl = d;
    if (weir__word_is(kw, "host")) {
        s.kind = WEIR__STEP_HOST;
        rc = decl_host(head, kw, d);
    } else if (weir__word_is(kw, "link")) {
        s.kind = WEIR__STEP_LINK;
        rc = decl_link(head, d);
    } else if (weir__word_is(kw, "fault")) {
        s.kind = WEIR__STEP_FAULT;
        rc = decl_fault(head, d);
    } else if (weir__word_is(kw, "server")) {
        s.kind = WEIR__STEP_SERVER;
        rc = decl_server(head, kw, d);
    } else if (weir__word_is(kw, "peer")) {
        s.kind = WEIR__STEP_PEER;
        rc = decl_peer(head, kw, d);
    } else {
        s.kind = WEIR__STEP_RUN;
        rc = decl_run(head, kw, d);
        if (rc == 0) rc = at_clause(head, &s);
    }
    if (rc != 0) return rc;
    size_t text_end = head->pos;
    if (s.kind != WEIR__STEP_RUN) {
        if ((rc = weir__end(head)) != 0) return rc;
        if (arrow != NULL)
            return weir__cerr(head, arrow, "`%s` takes no result", weir__step_keyword(s.kind));
    } else if (arrow == NULL) {
        if ((rc = time_clauses(head, &s)) != 0) return rc;
    } else {
        if ((rc = weir__end(head)) != 0) return rc;
        weir__cursor res = {p, arrow + 1, (size_t)(p->lx.toks + p->lx.ntoks - arrow - 1), 0,
                            p->lx.eol};
        if (res.n == 0) return weir__cerr(&res, NULL, "missing result after =>");
        if ((rc = weir__result(&res, &s.expect, true)) != 0) return rc;
        if ((rc = result_checks(&res, &s)) != 0) return rc;
        if ((rc = time_clauses(&res, &s)) != 0) return rc;
    }
    if ((rc = canonical(p, head->toks, 0, text_end, &s.text)) != 0) return rc;
    size_t idx = sc->nsteps;
    if ((rc = weir__append_step(p, head, kw, &s)) != 0) return rc;
    if (s.kind == WEIR__STEP_HOST) {
        sc->network = true;
        rc = remember(&sc->hosts, &sc->nhosts, &sc->cap_hosts, idx);
    } else if (s.kind == WEIR__STEP_PEER) {
        rc = remember(&sc->peers, &sc->npeers, &sc->cap_peers, idx);
    }
    return rc;
}
