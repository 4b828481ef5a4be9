/* runner/handler_line.c - the line protocol: an echo server and a client that checks it.
 *
 * The protocol is asyncio's echo example with lines: the client sends lines ending in "\n",
 * the server sends each one back as it reads it. Small on purpose: it is the protocol the
 * network scenarios break in every way the simulator can. */
#include <string.h>

#include "runner/handlers.h"

int weir_line_echo(weir_reader *r, weir_writer *w, void *arg) {
    weir_line_echo_stats *stats = arg;
    if (stats) stats->connections++;
    int rc;
    weir_bytes line;
    /* An empty line from readline is a clean EOF; a last line without "\n" comes first. */
    while ((rc = weir_readline(r, &line)) == 0 && line.len > 0) {
        rc = weir_write(w, line.data, line.len);
        if (rc == 0) rc = weir_drain(w);
        if (rc) break;
        if (stats) {
            stats->lines++;
            stats->bytes += line.len;
        }
    }
    weir_writer_close(w);
    return rc;
}

static const weir_bytes default_lines[] = {WEIR_LIT("hello"), WEIR_LIT("world")};

static bool lines_ok(const weir_line_client_cfg *cfg) {
    if (!cfg->lines && cfg->nlines > 0) return false;
    for (size_t i = 0; i < cfg->nlines; i++) {
        weir_bytes b = cfg->lines[i];
        if ((!b.data && b.len > 0) || (b.len > 0 && memchr(b.data, '\n', b.len))) return false;
    }
    return true;
}

/* Whether `got` is `line` + "\n". */
static bool echo_matches(weir_bytes got, weir_bytes line) {
    return got.len == line.len + 1 && got.data[line.len] == '\n' &&
           (line.len == 0 || memcmp(got.data, line.data, line.len) == 0);
}

static int send_line(weir_writer *w, weir_bytes line) {
    weir_bytes parts[2] = {line, WEIR_LIT("\n")};
    return weir_writelines(w, parts, 2);
}

int weir_line_exchange(weir_reader *r, weir_writer *w, const weir_line_client_cfg *cfg,
                       weir_line_client_result *res) {
    weir_line_client_result local;
    if (!res) res = &local;
    *res = (weir_line_client_result){0};
    if (!r || !w || !cfg || !lines_ok(cfg)) return res->error = WEIR_EINVAL;
    size_t n = cfg->nlines;
    size_t window = cfg->window ? cfg->window : n;
    int rc = WEIR_OK;
    while (rc == 0 && res->received < n) {
        /* Top the window up, then wait for the oldest echo. */
        while (rc == 0 && res->sent < n && res->sent - res->received < window) {
            rc = send_line(w, cfg->lines[res->sent]);
            if (rc == 0) res->sent++;
        }
        if (rc == 0) rc = weir_drain(w);
        weir_bytes got;
        if (rc == 0) rc = weir_readline(r, &got);
        if (rc) break;
        /* An empty line is EOF; a line without "\n" is what came before EOF. */
        if (got.len == 0 || got.data[got.len - 1] != '\n') {
            rc = WEIR_EINCOMPLETE;
        } else if (!echo_matches(got, cfg->lines[res->received])) {
            res->mismatch = res->received;
            rc = WEIR_EMISMATCH;
        } else {
            res->received++;
        }
    }
    return res->error = rc;
}

int weir_line_client(const weir_endpoint *target, void *arg) {
    static const weir_line_client_cfg defaults = {.lines = default_lines, .nlines = 2};
    const weir_line_client_cfg *cfg = arg ? arg : &defaults;
    weir_line_client_result local;
    weir_line_client_result *res = cfg->result ? cfg->result : &local;
    *res = (weir_line_client_result){0};
    weir_reader *r;
    weir_writer *w;
    int rc = weir__connect_endpoint(target, cfg->open, &r, &w);
    if (rc) return res->error = rc;
    rc = weir_line_exchange(r, w, cfg, res);
    weir_writer_close(w);
    /* A connection lost after a complete exchange does not spoil it. */
    int closed = weir_wait_closed(w);
    if (rc == 0 && (closed == WEIR_ECANCELED || closed == WEIR_ETIMEDOUT)) rc = closed;
    weir_writer_free(w);
    return res->error = rc;
}
