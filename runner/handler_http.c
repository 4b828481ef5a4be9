/* runner/handler_http.c - a tiny HTTP/1.1 responder and GET client over the head reader.
 *
 * One request per connection ("Connection: close"): enough to put the head reader's error
 * paths (LimitOverrunError, IncompleteReadError, malformed heads) on a real exchange. */
#include <stdio.h>
#include <string.h>

#include "runner/handlers.h"

static const char *reason_for(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        default:
            return "";
    }
}

static int respond(weir_writer *w, int status, const char *reason, const char *type,
                   const char *body) {
    size_t body_len = strlen(body);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, body_len);
    if (n < 0 || (size_t)n >= sizeof head) return WEIR_EINVAL; /* a reason or type too long */
    weir_bytes parts[2] = {weir_bytes_of(head, (size_t)n), weir_bytes_of(body, body_len)};
    int rc = weir_writelines(w, parts, 2);
    return rc ? rc : weir_drain(w);
}

int weir_http_responder(weir_reader *r, weir_writer *w, void *arg) {
    const weir_http_responder_cfg *cfg = arg;
    weir_http_head head;
    int rc = weir_http_read_head(r, &head);
    /* The status line answers the head's problem; EOF and lost connections get nothing. */
    int status = 0;
    const char *body = "";
    if (rc == 0) {
        status = cfg && cfg->status ? cfg->status : 200;
        body = cfg && cfg->body ? cfg->body : "hello\n";
    } else if (rc == WEIR_ELIMIT) {
        status = 431;
    } else if (rc == WEIR_EMALFORMED) {
        status = 400;
    }
    if (status) {
        const char *reason = rc == 0 && cfg && cfg->reason ? cfg->reason : reason_for(status);
        const char *type = cfg && cfg->content_type ? cfg->content_type : "text/plain";
        int wrc = respond(w, status, reason, type, rc ? head.message : body);
        if (rc == 0) rc = wrc;
    }
    weir_writer_close(w);
    return rc;
}

static int send_request(weir_writer *w, const weir_endpoint *ep, const weir_http_get_cfg *cfg) {
    const char *path = cfg->path ? cfg->path : "/";
    const char *host = cfg->host ? cfg->host : ep->path ? "localhost" : ep->host;
    /* An IPv6 literal goes in brackets; the port is left out when it is the default. */
    bool v6 = !cfg->host && !ep->path && strchr(host, ':');
    char port[16] = "";
    if (!cfg->host && !ep->path && ep->port != 80) snprintf(port, sizeof port, ":%d", ep->port);
    weir_bytes parts[] = {
        WEIR_LIT("GET "),
        weir_bytes_of(path, strlen(path)),
        WEIR_LIT(" HTTP/1.1\r\nHost: "),
        v6 ? WEIR_LIT("[") : WEIR_LIT(""),
        weir_bytes_of(host, strlen(host)),
        v6 ? WEIR_LIT("]") : WEIR_LIT(""),
        weir_bytes_of(port, strlen(port)),
        WEIR_LIT("\r\nConnection: close\r\n\r\n"),
    };
    int rc = weir_writelines(w, parts, sizeof parts / sizeof *parts);
    return rc ? rc : weir_drain(w);
}

/* The body: everything until EOF, counted, not kept. */
static int read_body(weir_reader *r, size_t *len) {
    for (;;) {
        weir_bytes chunk;
        int rc = weir_read(r, 65536, &chunk);
        if (rc) return rc;
        if (chunk.len == 0) return WEIR_OK;
        *len += chunk.len;
    }
}

static int http_get(weir_reader *r, weir_writer *w, const weir_endpoint *ep,
                    const weir_http_get_cfg *cfg, weir_http_get_result *res) {
    int rc = send_request(w, ep, cfg);
    if (rc) return rc;
    weir_http_head head;
    rc = weir_http_read_head(r, &head);
    res->message = head.message;
    res->consumed = head.consumed;
    res->partial = head.partial;
    if (rc) return rc;
    if (!head.response) {
        res->message = "a request head where a response was expected";
        return WEIR_EMALFORMED;
    }
    res->status = head.status;
    res->nheaders = head.nheaders;
    res->head_len = head.len;
    return read_body(r, &res->body_len);
}

int weir_http_get(const weir_endpoint *target, void *arg) {
    static const weir_http_get_cfg defaults = {0};
    const weir_http_get_cfg *cfg = arg ? arg : &defaults;
    weir_http_get_result local;
    weir_http_get_result *res = cfg->result ? cfg->result : &local;
    *res = (weir_http_get_result){0};
    if (!target) return res->error = WEIR_EINVAL;
    weir_reader *r;
    weir_writer *w;
    int rc = weir__connect_endpoint(target, cfg->open, &r, &w);
    if (rc == 0) {
        rc = http_get(r, w, target, cfg, res);
        weir_writer_close(w);
        (void)weir_wait_closed(w);
        weir_writer_free(w);
    }
    if (rc && !res->message) res->message = weir_handler_strerror(rc);
    return res->error = rc;
}
