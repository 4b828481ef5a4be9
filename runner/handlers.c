/* runner/handlers.c - the registry of named handlers and clients.
 *
 * Two lists of user registrations (newest first) in front of a constant table of the
 * bundled ones: a lookup takes the first match, so a registration replaces a bundled entry
 * without touching it, and unregistering lets it show through again. Nothing needs
 * initialising, so the bundled names work before anyone registers anything. */
#include <stdlib.h>
#include <string.h>

#include "runner/handlers.h"

typedef enum { KIND_HANDLER, KIND_CLIENT } kind;

typedef struct entry entry;
struct entry {
    entry *next;
    char *name;
    weir_handler handler;  /* KIND_HANDLER */
    weir_client_fn client; /* KIND_CLIENT */
    void *arg;
};

typedef struct bundled {
    const char *name;
    weir_handler handler;
    weir_client_fn client;
} bundled;

static const bundled bundled_handlers[] = {
    {"line_echo", weir_line_echo, NULL},
    {"http_responder", weir_http_responder, NULL},
};
static const bundled bundled_clients[] = {
    {"line_client", NULL, weir_line_client},
    {"http_get", NULL, weir_http_get},
};

static entry *registered[2]; /* by kind */

static const bundled *bundled_table(kind k, size_t *n) {
    *n = k == KIND_HANDLER ? sizeof bundled_handlers / sizeof *bundled_handlers
                           : sizeof bundled_clients / sizeof *bundled_clients;
    return k == KIND_HANDLER ? bundled_handlers : bundled_clients;
}

static entry *find(kind k, const char *name) {
    for (entry *e = registered[k]; e; e = e->next)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

static int add(kind k, const char *name, weir_handler h, weir_client_fn c, void *arg) {
    if (!name || !*name || (!h && !c)) return WEIR_EINVAL;
    entry *e = find(k, name);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) return WEIR_ENOMEM;
        size_t len = strlen(name);
        e->name = malloc(len + 1);
        if (!e->name) {
            free(e);
            return WEIR_ENOMEM;
        }
        memcpy(e->name, name, len + 1);
        e->next = registered[k];
        registered[k] = e;
    }
    e->handler = h;
    e->client = c;
    e->arg = arg;
    return WEIR_OK;
}

static int lookup(kind k, const char *name, weir_handler *h, weir_client_fn *c, void **arg) {
    if (!name) return WEIR_EINVAL;
    const entry *e = find(k, name);
    weir_handler hf = NULL;
    weir_client_fn cf = NULL;
    void *a = NULL;
    if (e) {
        hf = e->handler;
        cf = e->client;
        a = e->arg;
    } else {
        size_t n;
        const bundled *b = bundled_table(k, &n);
        size_t i = 0;
        while (i < n && strcmp(b[i].name, name) != 0) i++;
        if (i == n) return WEIR_ENOENT;
        hf = b[i].handler;
        cf = b[i].client;
    }
    if (h) *h = hf;
    if (c) *c = cf;
    if (arg) *arg = a;
    return WEIR_OK;
}

static int drop(kind k, const char *name) {
    if (!name) return WEIR_EINVAL;
    for (entry **p = &registered[k]; *p; p = &(*p)->next) {
        if (strcmp((*p)->name, name) != 0) continue;
        entry *e = *p;
        *p = e->next;
        free(e->name);
        free(e);
        return WEIR_OK;
    }
    return WEIR_ENOENT;
}

static size_t names(kind k, const char **out, size_t n) {
    size_t count = 0;
    for (const entry *e = registered[k]; e; e = e->next) {
        if (count < n) out[count] = e->name;
        count++;
    }
    size_t nb;
    const bundled *b = bundled_table(k, &nb);
    for (size_t i = 0; i < nb; i++) {
        if (find(k, b[i].name)) continue; /* replaced: listed once, as the user's */
        if (count < n) out[count] = b[i].name;
        count++;
    }
    return count;
}

int weir_handler_register(const char *name, weir_handler fn, void *arg) {
    return fn ? add(KIND_HANDLER, name, fn, NULL, arg) : WEIR_EINVAL;
}

int weir_client_register(const char *name, weir_client_fn fn, void *arg) {
    return fn ? add(KIND_CLIENT, name, NULL, fn, arg) : WEIR_EINVAL;
}

int weir_handler_lookup(const char *name, weir_handler *fn, void **arg) {
    return lookup(KIND_HANDLER, name, fn, NULL, arg);
}

int weir_client_lookup(const char *name, weir_client_fn *fn, void **arg) {
    return lookup(KIND_CLIENT, name, NULL, fn, arg);
}

int weir_handler_unregister(const char *name) { return drop(KIND_HANDLER, name); }

int weir_client_unregister(const char *name) { return drop(KIND_CLIENT, name); }

size_t weir_handler_names(const char **out, size_t n) {
    return names(KIND_HANDLER, out, out ? n : 0);
}

size_t weir_client_names(const char **out, size_t n) {
    return names(KIND_CLIENT, out, out ? n : 0);
}

const char *weir_handler_strerror(int code) {
    switch (code) {
        case WEIR_EMISMATCH:
            return "echoed line differs from the line sent";
        case WEIR_EMALFORMED:
            return "malformed HTTP head";
        default:
            return weir_strerror(code);
    }
}

/* --- for the bundled clients and the scenario runner ------------------------------- */

int weir__connect_endpoint(const weir_endpoint *ep, const weir_open_opts *opts, weir_reader **r,
                           weir_writer **w) {
    if (!ep) return WEIR_EINVAL;
    if (ep->path) return weir_open_unix_connection(ep->path, opts, r, w);
    return weir_open_connection(ep->host, ep->port, opts, r, w);
}

int weir__client_task(void *arg) {
    weir__client_run *run = arg;
    run->result = run->fn ? run->fn(&run->target, run->arg) : WEIR_EINVAL;
    return run->result;
}
