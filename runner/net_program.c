/* runner/net_program.c - the programs under test in a network scenario: servers (a
 * registered handler, or the builtin `echo`) and runs (a registered client).
 *
 * Names are looked up in the registry (weir/handlers.h) when the scenario runs, so a test
 * binary can register its own before running scenario files. KEY=VALUE arguments configure
 * the bundled handlers and clients (their configuration structs are known here); `limit=`
 * sets a server's reader limit whatever its handler. A run's result is its return code in
 * the language's terms (`ok`, `ConnectionResetError`, `WEIR_EMISMATCH`, ...), and KEY=N
 * after it checks the numbers a bundled client reports (status=200). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/net_internal.h"
#include "weir/handlers.h"
#include "weir/net.h"
#include "weir/sim.h"
#include "weir/weir.h"

static const char *arg_value(const weir__decl *d, const char *key) {
    for (size_t i = 0; i < d->nargs; i++)
        if (strcmp((const char *)d->args[i].key.data, key) == 0)
            return (const char *)d->args[i].value.data;
    return NULL;
}

/* A non-negative number; false when the text is not one. */
static bool number(const char *text, int64_t *out) {
    if (text == NULL || *text == '\0') return false;
    int64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* Every argument must be one of `keys` (comma separated); the first that is not fails the
 * run, naming what is accepted. */
static bool args_known(weir__actor *a, const char *who, const char *keys) {
    const weir__decl *d = a->decl->decl;
    for (size_t i = 0; i < d->nargs; i++) {
        const char *k = (const char *)d->args[i].key.data;
        size_t n = strlen(k);
        const char *p = keys;
        bool found = false;
        while (*p && !found) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            found = len == n && memcmp(p, k, n) == 0;
            p = end ? end + 1 : p + len;
        }
        if (!found) {
            weir__net_fail(a->run, a->decl, "%s takes %s=; not %s=", who,
                           *keys ? keys : "no arguments but connect", k);
            return false;
        }
    }
    return true;
}

static bool numeric_arg(weir__actor *a, const char *key, int64_t *out) {
    const char *v = arg_value(a->decl->decl, key);
    if (v == NULL) return true;
    if (number(v, out)) return true;
    weir__net_fail(a->run, a->decl, "%s= takes a number, not %s", key, v);
    return false;
}

/* ---- servers ------------------------------------------------------------------------ */

/* The builtin `echo`: every byte back as it comes, until EOF; then close. */
static int echo_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    for (;;) {
        weir_bytes v;
        int rc = weir_read(r, WEIR_DEFAULT_LIMIT, &v);
        if (rc != 0) return rc;
        if (v.len == 0) return 0;
        if ((rc = weir_write(w, v.data, v.len)) != 0 || (rc = weir_drain(w)) != 0) return rc;
    }
}

static bool server_config(weir__actor *a, weir_handler fn, void **harg) {
    const weir__decl *d = a->decl->decl;
    if (fn != weir_http_responder) return args_known(a, (const char *)d->handler.data, "limit");
    if (!args_known(a, "http_responder", "limit,status,reason,content_type,body")) return false;
    weir_http_responder_cfg *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        a->run->error = WEIR_ENOMEM;
        return false;
    }
    if (*harg != NULL) *cfg = *(const weir_http_responder_cfg *)*harg;
    a->cfg = cfg;
    int64_t status = cfg->status;
    if (!numeric_arg(a, "status", &status)) return false;
    if (status > 999) {
        weir__net_fail(a->run, a->decl, "status= takes 100..999");
        return false;
    }
    cfg->status = (int)status;
    if (arg_value(d, "reason")) cfg->reason = arg_value(d, "reason");
    if (arg_value(d, "content_type")) cfg->content_type = arg_value(d, "content_type");
    if (arg_value(d, "body")) cfg->body = arg_value(d, "body");
    *harg = cfg;
    return true;
}

int weir__server_task(void *arg) {
    weir__actor *a = arg;
    const weir__decl *d = a->decl->decl;
    const char *name = (const char *)d->handler.data;
    weir_handler fn = NULL;
    void *harg = NULL;
    if (weir_handler_lookup(name, &fn, &harg) != 0 || fn == NULL) {
        if (strcmp(name, "echo") == 0) {
            fn = echo_handler;
            harg = NULL;
        } else {
            weir__net_fail(a->run, a->decl,
                           "unknown handler '%s' (register it with "
                           "weir_handler_register)",
                           name);
            a->finished = true;
            return 0;
        }
    }
    weir_server_opts so;
    memset(&so, 0, sizeof so);
    if (server_config(a, fn, &harg) && numeric_arg(a, "limit", &so.limit)) {
        if (arg_value(d, "limit") != NULL && so.limit == 0) {
            weir__net_fail(a->run, a->decl, "limit= takes a number from 1");
        } else {
            int rc = weir_start_server(NULL, fn, harg, NULL, (int)d->port, &so, &a->server);
            if (rc != 0)
                weir__net_fail(a->run, a->decl, "cannot listen: %s (%s)", weir_errname(rc),
                               weir_strerror(rc));
        }
    }
    a->finished = true;
    return 0;
}

/* ---- runs --------------------------------------------------------------------------- */

/* lines=N: "line 1" ... "line N"; lines="a\nb": those lines. The views and their text
 * share one block, freed with the run. */
static bool line_list(weir__actor *a, weir_line_client_cfg *cfg) {
    const weir__decl *d = a->decl->decl;
    const weir__arg *arg = NULL;
    for (size_t i = 0; i < d->nargs; i++)
        if (strcmp((const char *)d->args[i].key.data, "lines") == 0) arg = &d->args[i];
    if (arg == NULL) return true; /* the client's default */
    int64_t n = 0;
    bool count = number((const char *)arg->value.data, &n);
    size_t nlines = 0, textlen = arg->value.len;
    if (count) {
        if (n > 100000) {
            weir__net_fail(a->run, a->decl, "lines= takes at most 100000 lines");
            return false;
        }
        nlines = (size_t)n;
        textlen = nlines * 16; /* "line 100000" fits */
    } else {
        nlines = 1;
        for (size_t i = 0; i < arg->value.len; i++) nlines += arg->value.data[i] == '\n';
        if (arg->value.len > 0 && arg->value.data[arg->value.len - 1] == '\n') nlines--;
    }
    weir_bytes *lines = malloc((nlines + 1) * sizeof *lines + textlen + 1);
    if (lines == NULL) {
        a->run->error = WEIR_ENOMEM;
        return false;
    }
    a->cfg_mem = lines;
    char *text = (char *)(lines + nlines + 1);
    if (count) {
        size_t off = 0;
        for (size_t i = 0; i < nlines; i++) {
            int len = snprintf(text + off, 16, "line %zu", i + 1);
            lines[i] = weir_bytes_of(text + off, (size_t)len);
            off += (size_t)len;
        }
    } else {
        memcpy(text, arg->value.data, arg->value.len);
        size_t start = 0, k = 0;
        for (size_t i = 0; i <= arg->value.len && k < nlines; i++) {
            if (i < arg->value.len && text[i] != '\n') continue;
            lines[k++] = weir_bytes_of(text + start, i - start);
            start = i + 1;
        }
    }
    cfg->lines = lines;
    cfg->nlines = nlines;
    return true;
}

typedef struct client_state {
    weir_open_opts open;
    union {
        weir_line_client_cfg line;
        weir_http_get_cfg http;
    } cfg;
    union {
        weir_line_client_result line;
        weir_http_get_result http;
    } res;
} client_state;

static bool client_config(weir__actor *a, weir_client_fn fn, void **carg, client_state *st) {
    const weir__decl *d = a->decl->decl;
    if (fn == weir_line_client) {
        if (!args_known(a, "line_client", "connect,lines,window,limit")) return false;
        if (*carg != NULL) st->cfg.line = *(const weir_line_client_cfg *)*carg;
        int64_t window = (int64_t)st->cfg.line.window;
        if (!line_list(a, &st->cfg.line) || !numeric_arg(a, "window", &window) ||
            !numeric_arg(a, "limit", &st->open.limit))
            return false;
        st->cfg.line.window = (size_t)window;
        if (arg_value(d, "limit")) st->cfg.line.open = &st->open;
        st->cfg.line.result = &st->res.line;
        *carg = &st->cfg.line;
        return true;
    }
    if (fn == weir_http_get) {
        if (!args_known(a, "http_get", "connect,path,host,limit")) return false;
        if (*carg != NULL) st->cfg.http = *(const weir_http_get_cfg *)*carg;
        if (!numeric_arg(a, "limit", &st->open.limit)) return false;
        if (arg_value(d, "path")) st->cfg.http.path = arg_value(d, "path");
        if (arg_value(d, "host")) st->cfg.http.host = arg_value(d, "host");
        if (arg_value(d, "limit")) st->cfg.http.open = &st->open;
        st->cfg.http.result = &st->res.http;
        *carg = &st->cfg.http;
        return true;
    }
    return args_known(a, (const char *)d->handler.data, "connect");
}

/* The numbers a bundled client reports, for the KEY=N checks of step s, in their order:
 * "status=200 body_len=6". false (and the run fails) for a key the client does not
 * report. */
static bool reported(weir__actor *a, weir_client_fn fn, const client_state *st, const weir__step *s,
                     weir__buf *out) {
    for (size_t i = 0; i < s->nchecks; i++) {
        const char *k = (const char *)s->checks[i].key.data;
        int64_t v = -1;
        if (fn == weir_line_client) {
            const weir_line_client_result *r = &st->res.line;
            if (!strcmp(k, "sent"))
                v = (int64_t)r->sent;
            else if (!strcmp(k, "received"))
                v = (int64_t)r->received;
            else if (!strcmp(k, "mismatch"))
                v = (int64_t)r->mismatch;
        } else if (fn == weir_http_get) {
            const weir_http_get_result *r = &st->res.http;
            if (!strcmp(k, "status"))
                v = r->status;
            else if (!strcmp(k, "headers"))
                v = (int64_t)r->nheaders;
            else if (!strcmp(k, "head_len"))
                v = (int64_t)r->head_len;
            else if (!strcmp(k, "body_len"))
                v = (int64_t)r->body_len;
            else if (!strcmp(k, "consumed"))
                v = r->consumed;
            else if (!strcmp(k, "partial"))
                v = (int64_t)r->partial;
        }
        if (v < 0) {
            weir__net_fail(a->run, s, "%s reports %s; not %s=", (const char *)s->decl->handler.data,
                           fn == weir_line_client ? "sent=, received=, mismatch="
                           : fn == weir_http_get
                               ? "status=, headers=, head_len=, body_len=, consumed=, partial="
                               : "no numbers",
                           k);
            return false;
        }
        weir__buf_printf(out, "%s%s=%" PRId64, i ? " " : "", k, v);
    }
    return true;
}

int weir__run_task(void *arg) {
    weir__actor *a = arg;
    const weir__step *s = a->decl;
    const weir__decl *d = s->decl;
    const char *name = (const char *)d->handler.data;
    client_state *st = calloc(1, sizeof *st);
    a->result = st;
    weir_client_fn fn = NULL;
    void *carg = NULL;
    if (st == NULL) {
        a->run->error = WEIR_ENOMEM;
    } else if (weir_client_lookup(name, &fn, &carg) != 0 || fn == NULL) {
        weir__net_fail(a->run, s, "unknown client '%s' (register it with weir_client_register)",
                       name);
    } else if (client_config(a, fn, &carg, st) && (!s->has_at || weir_sleep_until(s->at) == 0) &&
               !a->run->stopping) {
        a->cur = s;
        weir_endpoint ep = {(const char *)d->target.data, (int)d->port, NULL};
        int64_t start = weir_now();
        int64_t old = WEIR_FOREVER;
        if (s->has_within)
            old = weir_deadline_set(s->within > WEIR_FOREVER - start ? WEIR_FOREVER
                                                                     : start + s->within);
        int rc = fn(&ep, carg);
        if (s->has_within) weir_deadline_set(old);
        weir__outcome got;
        weir__net_outcome(rc, &got);
        if (rc == 0) got.kind = WEIR__OUT_OK;
        if (rc == WEIR_ELIMIT && fn == weir_http_get) {
            got.any = false;
            got.num = st->res.http.consumed;
        }
        weir__buf extra = {0};
        if (!a->run->stopping && reported(a, fn, st, s, &extra) &&
            weir__net_check(a, s, &got, weir_now() - start, extra.data)) {
            a->done = true;
            a->cur = NULL;
        }
        weir__buf_free(&extra);
    }
    a->finished = true;
    return 0;
}

void weir__program_free(weir__actor *a) {
    free(a->cfg);
    free(a->cfg_mem);
    free(a->result);
    a->cfg = a->cfg_mem = a->result = NULL;
}
