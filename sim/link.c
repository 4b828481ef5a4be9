/* sim/link.c - link rules: the conditions bytes meet between two hosts, one way.
 *
 * Rules are looked up once per direction when a connection is set up, so changing a rule
 * affects later connections only (as a real route change would not reorder bytes already
 * on their way). The most specific rule wins: the exact pair, then a rule with one side
 * "*", then "* -> *"; between rules equally specific, the one set last. Setting a rule for
 * a pair that already has one replaces it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/net_internal.h"

static bool side_any(const char *name) { return !name || !*name || strcmp(name, "*") == 0; }

static bool same_side(const char *a, const char *b) {
    if (!a || !b) return !a && !b;
    return strcasecmp(a, b) == 0;
}

/* Non-negative, and hi >= lo unless hi is 0, which stands for "lo" (a fixed value). */
static bool range_ok(weir_sim_range r) {
    return r.lo >= 0 && r.hi >= 0 && (r.hi == 0 || r.hi >= r.lo);
}

static weir_sim_range norm_range(weir_sim_range r) {
    if (r.hi < r.lo) r.hi = r.lo;
    return r;
}

int weir_sim_set_link(weir_sim *s, const char *from, const char *to, const weir_sim_link *l) {
    if (!s || !s->net || !l) return WEIR_EINVAL;
    if (l->latency < 0 || l->bandwidth < 0 || !range_ok(l->jitter) || !range_ok(l->segment) ||
        !range_ok(l->connect_delay))
        return WEIR_EINVAL;
    simnet *net = s->net;
    weir_sim_link link = *l;
    link.jitter = norm_range(link.jitter);
    link.segment = norm_range(link.segment);
    link.connect_delay = norm_range(link.connect_delay);
    /* "Up to hi bytes" with lo 0: a segment carries at least one byte. */
    if (link.segment.hi > 0 && link.segment.lo == 0) link.segment.lo = 1;
    if (link.window == 0) link.window = WEIR__DEFAULT_WINDOW;
    char *f = side_any(from) ? NULL : strdup(from);
    char *t = side_any(to) ? NULL : strdup(to);
    if ((!side_any(from) && !f) || (!side_any(to) && !t)) {
        free(f);
        free(t);
        return WEIR_ENOMEM;
    }
    for (size_t i = 0; i < net->nlinks; i++) {
        link_rule *r = &net->links[i];
        if (same_side(r->from, f) && same_side(r->to, t)) {
            /* Replace, and move to the end: it is now the rule set last. */
            free(r->from);
            free(r->to);
            memmove(r, r + 1, (net->nlinks - i - 1) * sizeof *r);
            net->nlinks--;
            break;
        }
    }
    if (net->nlinks == net->cap_links) {
        size_t cap = net->cap_links ? net->cap_links * 2 : 8;
        link_rule *links = realloc(net->links, cap * sizeof *links);
        if (!links) {
            free(f);
            free(t);
            return WEIR_ENOMEM;
        }
        net->links = links;
        net->cap_links = cap;
    }
    net->links[net->nlinks++] = (link_rule){.from = f, .to = t, .link = link};
    return WEIR_OK;
}

weir_sim_link weir__link_for(simnet *net, const sim_host *from, const sim_host *to) {
    const link_rule *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < net->nlinks; i++) {
        const link_rule *r = &net->links[i];
        if (!weir__name_matches(r->from, from) || !weir__name_matches(r->to, to)) continue;
        int score = (r->from != NULL) + (r->to != NULL);
        if (score >= best_score) {
            best = r;
            best_score = score;
        }
    }
    if (best) return best->link;
    return (weir_sim_link){.window = WEIR__DEFAULT_WINDOW};
}

void weir__links_free(simnet *net) {
    for (size_t i = 0; i < net->nlinks; i++) {
        free(net->links[i].from);
        free(net->links[i].to);
    }
    free(net->links);
    net->links = NULL;
    net->nlinks = net->cap_links = 0;
}
