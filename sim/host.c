/* sim/host.c - simulated hosts: names, addresses, resolving, and tasks placed on hosts.
 *
 * A host has a name (what the simulated hosts table resolves) and any number of IPv4/IPv6
 * addresses. Literals are parsed with inet_pton, which is pure parsing. Loopback works as on
 * a real machine: "localhost", 127.0.0.0/8 and ::1 always mean the caller's own host, so
 * they cannot be given to a host. A task that was not placed on a host (spawned with plain
 * weir_spawn, or code running outside any task) is on the implicit host "localhost", which
 * always exists, has the loopback addresses, and is hosts[0]. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sim/net_internal.h"

#define LOCALHOST "localhost"

/* --- addresses ---------------------------------------------------------------------- */

bool weir__addr_parse(const char *text, sim_addr *out) {
    sim_addr a = {0};
    if (!text) return false;
    if (inet_pton(AF_INET, text, a.raw) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, text, a.raw) == 1)
        a.family = AF_INET6;
    else
        return false;
    /* The canonical form, so "fd00:0::1" and "fd00::1" are one address in every text. */
    if (!inet_ntop(a.family, a.raw, a.text, sizeof a.text)) return false;
    *out = a;
    return true;
}

bool weir__addr_is_loopback(const sim_addr *a) {
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (a->family == AF_INET) return a->raw[0] == 127;
    return memcmp(a->raw, v6_loopback, 16) == 0;
}

static bool addr_is_any(const sim_addr *a) {
    static const uint8_t zero[16] = {0};
    return memcmp(a->raw, zero, a->family == AF_INET ? 4 : 16) == 0;
}

void weir__fmt_hostport(char *buf, size_t n, const char *addr, int family, int port) {
    if (family == AF_INET6)
        snprintf(buf, n, "[%s]:%d", addr, port);
    else
        snprintf(buf, n, "%s:%d", addr, port);
}

/* --- the table ---------------------------------------------------------------------- */

static void host_free(sim_host *h) {
    if (!h) return;
    free(h->name);
    free(h->addrs);
    free(h);
}

static int host_push(simnet *net, sim_host *h) {
    if (net->nhosts == net->cap_hosts) {
        size_t cap = net->cap_hosts ? net->cap_hosts * 2 : 8;
        sim_host **hosts = realloc(net->hosts, cap * sizeof *hosts);
        if (!hosts) return WEIR_ENOMEM;
        net->hosts = hosts;
        net->cap_hosts = cap;
    }
    net->hosts[net->nhosts++] = h;
    return WEIR_OK;
}

static sim_host *host_alloc(const char *name, size_t naddrs) {
    sim_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->name = strdup(name);
    h->addrs = naddrs ? calloc(naddrs, sizeof *h->addrs) : NULL;
    h->next_port = WEIR__EPHEMERAL_LO;
    if (!h->name || (naddrs && !h->addrs)) {
        host_free(h);
        return NULL;
    }
    return h;
}

int weir__hosts_init(simnet *net) {
    sim_host *h = host_alloc(LOCALHOST, 2);
    if (!h) return WEIR_ENOMEM;
    weir__addr_parse("127.0.0.1", &h->addrs[0]);
    weir__addr_parse("::1", &h->addrs[1]);
    h->naddrs = 2;
    int rc = host_push(net, h);
    if (rc) host_free(h);
    return rc;
}

void weir__hosts_free(simnet *net) {
    for (size_t i = 0; i < net->nhosts; i++) host_free(net->hosts[i]);
    free(net->hosts);
    net->hosts = NULL;
    net->nhosts = net->cap_hosts = 0;
}

sim_host *weir__host_by_name(simnet *net, const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < net->nhosts; i++)
        if (strcasecmp(net->hosts[i]->name, name) == 0) return net->hosts[i];
    return NULL;
}

static sim_host *host_by_addr(simnet *net, const sim_addr *a, const sim_addr **which) {
    for (size_t i = 1; i < net->nhosts; i++) {
        sim_host *h = net->hosts[i];
        for (size_t j = 0; j < h->naddrs; j++) {
            if (h->addrs[j].family == a->family &&
                memcmp(h->addrs[j].raw, a->raw, sizeof a->raw) == 0) {
                if (which) *which = &h->addrs[j];
                return h;
            }
        }
    }
    return NULL;
}

bool weir__name_matches(const char *pattern, const sim_host *h) {
    if (!pattern || strcmp(pattern, "*") == 0) return true;
    return h && strcasecmp(pattern, h->name) == 0;
}

/* A host name: what DNS would take (letters, digits, '-', '.', '_'), not a literal. */
static bool name_ok(const char *name) {
    if (!name || !*name || strlen(name) > 253) return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
        if (!ok) return false;
    }
    sim_addr a;
    return !weir__addr_parse(name, &a);
}

int weir_sim_add_host(weir_sim *s, const char *name, const char *addrs) {
    if (!s || !s->net || !name_ok(name)) return WEIR_EINVAL;
    simnet *net = s->net;
    if (weir__host_by_name(net, name)) return WEIR_EADDRINUSE;
    if (!addrs) addrs = "";
    /* Parse every literal before adding anything, so a bad one leaves the table alone. */
    size_t n = 0;
    for (const char *p = addrs; *p; p++) n += *p == ',';
    n += *addrs != '\0';
    sim_host *h = host_alloc(name, n);
    if (!h) return WEIR_ENOMEM;
    int rc = WEIR_OK;
    const char *p = addrs;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        /* Spaces around a literal are allowed: "10.0.0.1, fd00::1". */
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        char text[64];
        sim_addr a;
        if (len == 0 || len >= sizeof text) {
            rc = WEIR_EINVAL;
            break;
        }
        memcpy(text, p, len);
        text[len] = '\0';
        if (!weir__addr_parse(text, &a) || weir__addr_is_loopback(&a) || addr_is_any(&a)) {
            rc = WEIR_EINVAL;
            break;
        }
        bool dup = host_by_addr(net, &a, NULL) != NULL;
        for (size_t i = 0; i < h->naddrs && !dup; i++)
            dup =
                memcmp(h->addrs[i].raw, a.raw, sizeof a.raw) == 0 && h->addrs[i].family == a.family;
        if (dup) {
            rc = WEIR_EADDRINUSE;
            break;
        }
        h->addrs[h->naddrs++] = a;
        if (!comma) break;
        p = comma + 1;
        if (!*p) rc = WEIR_EINVAL; /* a trailing comma */
    }
    if (rc == WEIR_OK) rc = host_push(net, h);
    if (rc) host_free(h);
    return rc;
}

/* --- resolving ---------------------------------------------------------------------- */

int weir__host_resolve(simnet *net, sim_host *self, const char *text, sim_target *out) {
    *out = (sim_target){0};
    if (!text || !*text) return WEIR_EINVAL;
    sim_addr a;
    if (weir__addr_parse(text, &a)) {
        if (weir__addr_is_loopback(&a)) {
            *out = (sim_target){.host = self, .loopback = true, .family = a.family};
            return WEIR_OK;
        }
        sim_host *h = host_by_addr(net, &a, &out->addr);
        if (!h) return WEIR_EHOSTUNREACH;
        out->host = h;
        return WEIR_OK;
    }
    if (strcasecmp(text, LOCALHOST) == 0) {
        *out = (sim_target){.host = self, .loopback = true};
        return WEIR_OK;
    }
    sim_host *h = weir__host_by_name(net, text);
    if (!h) return WEIR_ENOENT;
    out->host = h;
    return WEIR_OK;
}

static bool is_our_host(simnet *net, const void *p) {
    for (size_t i = 0; i < net->nhosts; i++)
        if (net->hosts[i] == p) return true;
    return false;
}

sim_host *weir__host_of_task(simnet *net, weir_task *t) {
    void *data = t ? weir__task_data(t) : NULL;
    /* Task data is the backend's; anything that is not one of our hosts is not ours. */
    if (data && is_our_host(net, data)) return data;
    return net->hosts[0];
}

int weir__host_next_port(sim_host *h) {
    int port = h->next_port;
    h->next_port = port == 65535 ? WEIR__EPHEMERAL_LO : port + 1;
    return port;
}

const char *weir__simnet_task_host(weir_sim *s, weir_task *t) {
    if (!s || !s->net || !t) return NULL;
    void *data = weir__task_data(t);
    return data && is_our_host(s->net, data) ? ((sim_host *)data)->name : NULL;
}

/* --- placing tasks ------------------------------------------------------------------ */

int weir_sim_spawn(weir_sim *s, const char *host, weir_task_fn fn, void *arg,
                   const weir_task_opts *opts, weir_task **out) {
    if (out) *out = NULL;
    if (!s || !s->net || !s->loop || !fn) return WEIR_EINVAL;
    sim_host *h = s->net->hosts[0];
    if (host && *host) {
        sim_target tgt;
        int rc = weir__host_resolve(s->net, h, host, &tgt);
        if (rc == WEIR_EHOSTUNREACH) rc = WEIR_ENOENT;
        if (rc) return rc;
        h = tgt.host;
    }
    weir_task *t = NULL;
    int rc = weir_spawn(s->loop, fn, arg, opts, &t);
    if (rc) return rc;
    weir__task_set_data(t, h);
    if (out)
        *out = t;
    else
        weir_task_detach(t); /* nobody will join it */
    return WEIR_OK;
}
