/* net/tls.c - TLS as a transport layered over any other transport (asyncio's sslproto).
 *
 * A TLS connection sits between two others: it is the protocol of the transport underneath
 * (the "inner" one: a socket, a simulated link, a memory pipe), which hands it ciphertext,
 * and it is the transport of the stream above, to which it hands plaintext. OpenSSL never
 * touches a socket: it reads ciphertext from one memory BIO (fed by the inner transport's
 * data_received) and writes ciphertext to another (emptied into the inner transport's
 * write). So TLS runs on every backend, the simulator included.
 *
 * States, as asyncio's SSLProtocol has them:
 *   HANDSHAKE  plaintext written meanwhile is held back (asyncio's write backlog);
 *   WRAPPED    data flows both ways;
 *   SHUTDOWN   close() sent our close_notify (or the peer sent its own first); bytes from
 *              the peer are drained until its close_notify, then the inner transport is
 *              closed; the shutdown timeout aborts it if the peer never answers;
 *   CLOSING    the inner transport is closing or aborted: nothing flows any more, and the
 *              protocol's connection_lost follows the inner transport's.
 *
 * Flow control both ways, with asyncio's SSL figures:
 *   - writing: the buffer is the held-back plaintext plus the ciphertext the inner transport
 *     has not taken (it stops taking while it has paused us). The protocol is paused above
 *     512 KiB and resumed at 128 KiB or below (asyncio: FLOW_CONTROL_HIGH_WATER_SSL_WRITE,
 *     low = high / 4), on top of the inner transport's own 64 KiB.
 *   - reading: pause_reading stops plaintext going up; ciphertext keeps arriving until
 *     256 KiB of it waits in the BIO, then the inner transport is paused, and resumed at
 *     64 KiB or below (FLOW_CONTROL_HIGH_WATER_SSL_READ).
 *
 * Events reach the protocol from the inner transport's callbacks or from a timer, never
 * from inside a call the protocol made (resume_reading schedules the delivery it allows),
 * except pause_writing/resume_writing, which asyncio's transports call from inside write
 * and set_write_buffer_limits too.
 * Every OpenSSL call is bracketed by weir__tls_rng_enter/leave, so that on a simulated loop
 * the bytes it draws come from the connection's seeded stream (tls_rand.c). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "net/tls_internal.h"

#define DEFAULT_HANDSHAKE_TIMEOUT (60 * WEIR_SEC)
#define DEFAULT_SHUTDOWN_TIMEOUT (30 * WEIR_SEC)
#define WRITE_HIGH (512 * 1024)
#define WRITE_LOW (WRITE_HIGH / 4)
#define READ_HIGH (256 * 1024)
#define READ_LOW (READ_HIGH / 4)
#define CHUNK 16384 /* one TLS record of plaintext: what SSL_read hands back at most */

typedef enum tls_state { ST_HANDSHAKE, ST_WRAPPED, ST_SHUTDOWN, ST_CLOSING } tls_state;

/* The task waiting for the handshake; lives on its stack. */
typedef struct hs_wait {
    weir__waiter waiter;
    bool conn_gone; /* the connection was freed meanwhile: do not touch it */
} hs_wait;

typedef struct tls_conn {
    weir_transport t;          /* first: the protocol above gets &t back */
    weir_protocol inner_proto; /* what the inner transport calls */
    weir_transport *inner;
    weir_loop *loop;
    weir_tls_ctx *ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* ciphertext in and out; owned by ssl */
    tls_state state;
    int64_t handshake_timeout, shutdown_timeout; /* ns */

    uint8_t *held; /* plaintext written during the handshake */
    size_t held_len, held_cap;
    size_t high, low;      /* write watermarks */
    bool app_write_paused; /* pause_writing told to the protocol */
    bool app_read_paused;  /* the protocol paused us */
    bool app_eof;          /* eof_received told to the protocol */
    bool app_lost;         /* connection_lost told to the protocol */
    bool closing;          /* close() or abort() called */
    bool write_closed;     /* close() or abort(): write fails with WEIR_ECLOSED */

    bool inner_write_paused; /* the inner transport paused us */
    bool inner_read_paused;  /* we paused the inner transport */
    bool inner_eof;          /* its peer closed its side */
    bool inner_closed;       /* we closed or aborted it */
    bool inner_lost;         /* its connection_lost came */

    int error;         /* what the connection ends with: 0 for a clean close */
    char message[320]; /* why, for weir_tls_last_error() */
    int hs_result;     /* 1 while the handshake runs, then 0 or its error */
    hs_wait *hs;       /* the task waiting for it */

    bool in_process, again; /* process() is running; run it once more */
    bool flushing;          /* inside flush_out */
    bool det;               /* a simulated loop: OpenSSL draws from rng */
    weir__tls_rng rng;
    uint8_t *rbuf, *wbuf; /* CHUNK bytes each: plaintext up, ciphertext out */
    char *peer_subject;   /* "peer_certificate", made on first request */
    char *alpn;           /* "alpn_protocol", likewise */
    size_t alpn_len;
    weir_timer hs_timer, sd_timer, kick_timer;
} tls_conn;

static const weir_transport_ops tls_ops;

static tls_conn *conn_of(weir_transport *t) { return (tls_conn *)t; }

static tls_conn *conn_of_inner(weir_protocol *p) {
    return (tls_conn *)(void *)((char *)p - offsetof(tls_conn, inner_proto));
}

static weir_protocol *app(tls_conn *c) {
    return c->t.protocol && c->t.protocol->ops ? c->t.protocol : NULL;
}

static weir__tls_rng *enter(tls_conn *c) {
    ERR_clear_error();
    return weir__tls_rng_enter(c->det ? &c->rng : NULL);
}

static void process(tls_conn *c);

/* --- ending ------------------------------------------------------------------------- */

static void hs_finish(tls_conn *c, int rc) {
    if (c->hs_result != 1) return;
    c->hs_result = rc;
    weir_timer_stop(c->loop, &c->hs_timer);
    hs_wait *h = c->hs;
    if (h) {
        c->hs = NULL;
        weir__wake(&h->waiter, rc);
    }
}

static void close_inner(tls_conn *c) {
    if (c->inner_closed) return;
    c->inner_closed = true;
    c->inner->ops->close(c->inner);
}

static void abort_inner(tls_conn *c) {
    c->inner_closed = true;
    if (!c->inner_lost) c->inner->ops->abort(c->inner);
}

static void flush_out(tls_conn *c, bool force);

/* The connection is over: error (0 = clean) is what the protocol's connection_lost will
 * say, once the inner transport's comes. graceful: let the inner transport flush what we
 * have for it (an alert, a close_notify) and close; else abort it. */
static void end(tls_conn *c, int error, bool graceful) {
    if (c->state == ST_CLOSING) return;
    c->state = ST_CLOSING;
    c->error = error;
    c->closing = true;
    c->write_closed = true;
    c->held_len = 0;
    weir_timer_stop(c->loop, &c->sd_timer);
    weir_timer_stop(c->loop, &c->kick_timer);
    if (error) weir__tls_set_error("%s", c->message);
    hs_finish(c, error ? error : WEIR_ECONNLOST);
    if (graceful) {
        flush_out(c, true);
        close_inner(c);
    } else {
        abort_inner(c);
    }
}

/* A failed OpenSSL call: the error queue says why. TLS sends an alert first when it can. */
static void fail_ssl(tls_conn *c, const char *what) {
    weir__tls_describe(c->ssl, what, c->message, sizeof c->message);
    end(c, WEIR_ETLS, true);
}

static void app_lost(tls_conn *c, int error) {
    if (c->app_lost) return;
    c->app_lost = true;
    weir_protocol *p = app(c);
    if (p && p->ops->connection_lost) p->ops->connection_lost(p, error);
}

/* --- ciphertext out ------------------------------------------------------------------- */

/* Hand the ciphertext OpenSSL produced to the inner transport, unless it paused us (force:
 * regardless, before closing it). */
static void flush_out(tls_conn *c, bool force) {
    if (c->flushing || c->inner_closed) return;
    c->flushing = true;
    while (force || !c->inner_write_paused) {
        int n = BIO_read(c->wbio, c->wbuf, CHUNK);
        if (n <= 0) break;
        /* Synchronous callbacks of the inner transport (pause/resume_writing) may come back
         * here: the flag makes them no-ops, and this loop sees their effect. */
        int rc = c->inner->ops->write(c->inner, c->wbuf, (size_t)n);
        if (rc) {
            c->flushing = false;
            snprintf(c->message, sizeof c->message, "TLS: the connection underneath failed: %s",
                     weir_strerror(rc));
            end(c, rc == WEIR_ENOMEM ? rc : WEIR_ECONNLOST, false);
            return;
        }
    }
    c->flushing = false;
}

static size_t write_buffer_size(tls_conn *c) {
    return c->held_len + (c->inner_closed ? 0 : BIO_ctrl_pending(c->wbio));
}

/* asyncio's _control_app_writing: pause above high, resume at or below low. */
static void control_app_writing(tls_conn *c) {
    weir_protocol *p = app(c);
    size_t size = write_buffer_size(c);
    if (!c->app_write_paused && size > c->high) {
        c->app_write_paused = true;
        if (p && p->ops->pause_writing) p->ops->pause_writing(p);
    } else if (c->app_write_paused && size <= c->low) {
        c->app_write_paused = false;
        if (p && p->ops->resume_writing) p->ops->resume_writing(p);
    }
}

/* Encrypt len bytes. With memory BIOs and renegotiation refused, SSL_write takes it all or
 * fails for good. 0, or the connection is ended and WEIR_ECONNLOST. */
static int encrypt(tls_conn *c, const void *data, size_t len) {
    weir__tls_rng *prev = enter(c);
    size_t done = 0;
    int ok = SSL_write_ex(c->ssl, data, len, &done);
    weir__tls_rng_leave(prev);
    if (ok && done == len) return WEIR_OK;
    fail_ssl(c, "TLS write failed");
    return WEIR_ECONNLOST;
}

/* --- ciphertext in -------------------------------------------------------------------- */

/* asyncio's _control_ssl_reading: bound the ciphertext waiting for a paused protocol. */
static void control_inner_reading(tls_conn *c) {
    if (c->inner_closed) return;
    size_t pending = BIO_ctrl_pending(c->rbio);
    if (!c->inner_read_paused && pending > READ_HIGH) {
        c->inner_read_paused = true;
        if (c->inner->ops->pause_reading) c->inner->ops->pause_reading(c->inner);
    } else if (c->inner_read_paused && pending <= READ_LOW) {
        c->inner_read_paused = false;
        if (c->inner->ops->resume_reading) c->inner->ops->resume_reading(c->inner);
    }
}

static void start_shutdown(tls_conn *c);

static void handshake_done(tls_conn *c) {
    c->state = ST_WRAPPED;
    hs_finish(c, WEIR_OK);
    /* What the protocol wrote meanwhile goes first, in order. */
    if (c->held_len) {
        size_t n = c->held_len;
        c->held_len = 0;
        if (encrypt(c, c->held, n)) return;
    }
    free(c->held);
    c->held = NULL;
    c->held_cap = 0;
    c->again = true; /* records that came with the last handshake message */
}

static void do_handshake(tls_conn *c) {
    weir__tls_rng *prev = enter(c);
    int r = SSL_do_handshake(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    weir__tls_rng_leave(prev);
    if (r == 1) {
        handshake_done(c);
    } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (c->inner_eof) {
            /* asyncio: ConnectionResetError. */
            snprintf(c->message, sizeof c->message,
                     "TLS handshake failed: the peer closed the connection");
            end(c, WEIR_ECONNRESET, true);
        }
    } else {
        fail_ssl(c, "TLS handshake failed");
    }
}

/* The peer is done sending: its close_notify, or its transport's EOF without one (which
 * asyncio, like most clients, takes as an EOF too). The protocol's eof_received cannot keep
 * a TLS connection half open: we answer with our close_notify and close. */
static void peer_eof(tls_conn *c) {
    if (!c->app_eof) {
        c->app_eof = true;
        weir_protocol *p = app(c);
        if (p && p->ops->eof_received) (void)p->ops->eof_received(p);
    }
    if (c->state == ST_WRAPPED) start_shutdown(c);
}

static void do_read(tls_conn *c) {
    while (c->state == ST_WRAPPED && !c->app_read_paused) {
        weir_protocol *p = app(c);
        if (!p) return;
        size_t n = 0;
        weir__tls_rng *prev = enter(c);
        int ok = SSL_read_ex(c->ssl, c->rbuf, CHUNK, &n);
        int e = ok ? SSL_ERROR_NONE : SSL_get_error(c->ssl, 0);
        weir__tls_rng_leave(prev);
        if (ok) {
            if (p->ops->data_received) p->ops->data_received(p, c->rbuf, n);
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_WANT_READ && c->inner_eof))
            peer_eof(c);
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            fail_ssl(c, "TLS error");
        return;
    }
}

/* Both close_notify alerts are through (or the peer can send nothing more): close the
 * inner transport once it has our last bytes. */
static void shutdown_done(tls_conn *c) { end(c, 0, true); }

static void do_shutdown(tls_conn *c) {
    weir__tls_rng *prev = enter(c);
    int e = SSL_ERROR_NONE;
    /* Ours first (once). Then, until the peer's close_notify, records are read and dropped:
     * data the peer sent before it saw ours, for an end that is closing. */
    if (!(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
        int r = SSL_shutdown(c->ssl);
        if (r < 0) e = SSL_get_error(c->ssl, r);
    }
    while (e == SSL_ERROR_NONE && !(SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN)) {
        size_t n = 0;
        if (!SSL_read_ex(c->ssl, c->rbuf, CHUNK, &n)) e = SSL_get_error(c->ssl, 0);
    }
    weir__tls_rng_leave(prev);
    if ((SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN) || e == SSL_ERROR_ZERO_RETURN) {
        shutdown_done(c);
    } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (c->inner_eof) shutdown_done(c); /* the peer can send nothing more */
    } else {
        fail_ssl(c, "TLS shutdown failed");
    }
}

static void sd_timeout(weir_timer *timer, void *arg) {
    (void)timer;
    tls_conn *c = arg;
    snprintf(c->message, sizeof c->message,
             "TLS shutdown timed out: no close_notify from the peer after %.3f s",
             (double)c->shutdown_timeout / WEIR_SEC);
    end(c, WEIR_ETIMEDOUT, false);
}

static void start_shutdown(tls_conn *c) {
    if (c->state != ST_WRAPPED) return;
    c->state = ST_SHUTDOWN;
    int64_t now = weir_loop_now(c->loop);
    int64_t when =
        c->shutdown_timeout > WEIR_FOREVER - now ? WEIR_FOREVER : now + c->shutdown_timeout;
    weir_timer_start(c->loop, &c->sd_timer, when, sd_timeout, c);
    c->again = true;
}

/* Move everything as far as it can go now. Re-entered (from a protocol callback that writes
 * or closes), it only asks the running pass for one more round. */
static void process(tls_conn *c) {
    if (c->in_process) {
        c->again = true;
        return;
    }
    c->in_process = true;
    do {
        c->again = false;
        switch (c->state) {
            case ST_HANDSHAKE:
                do_handshake(c);
                break;
            case ST_WRAPPED:
                do_read(c);
                break;
            case ST_SHUTDOWN:
                do_shutdown(c);
                break;
            case ST_CLOSING:
                break;
        }
        if (c->state != ST_CLOSING) {
            flush_out(c, false);
            control_inner_reading(c);
            control_app_writing(c);
        }
    } while (c->again && c->state != ST_CLOSING);
    c->in_process = false;
}

static void kick(weir_timer *timer, void *arg) {
    (void)timer;
    process(arg);
}

static void hs_timeout(weir_timer *timer, void *arg) {
    (void)timer;
    tls_conn *c = arg;
    if (c->state != ST_HANDSHAKE) return;
    snprintf(c->message, sizeof c->message, "TLS handshake timed out after %.3f s",
             (double)c->handshake_timeout / WEIR_SEC);
    end(c, WEIR_ETIMEDOUT, false);
}

/* --- the inner transport's protocol ---------------------------------------------------- */

static void in_connection_made(weir_protocol *p, weir_transport *t) {
    (void)p;
    (void)t;
}

static void in_data_received(weir_protocol *p, const void *data, size_t len) {
    tls_conn *c = conn_of_inner(p);
    if (c->state == ST_CLOSING) return;
    const char *d = data;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (BIO_write(c->rbio, d, n) != n) {
            snprintf(c->message, sizeof c->message, "TLS: out of memory for incoming data");
            end(c, WEIR_ENOMEM, false);
            return;
        }
        d += n;
        len -= (size_t)n;
    }
    process(c);
}

static bool in_eof_received(weir_protocol *p) {
    tls_conn *c = conn_of_inner(p);
    c->inner_eof = true;
    process(c);
    /* We close the inner transport ourselves, once our close_notify is out. */
    return true;
}

static void in_connection_lost(weir_protocol *p, int error) {
    tls_conn *c = conn_of_inner(p);
    c->inner_lost = true;
    c->inner_closed = true;
    if (c->state != ST_CLOSING) {
        /* Lost under us (a reset): that is the connection's end. */
        snprintf(c->message, sizeof c->message, "TLS: the connection underneath was lost: %s",
                 weir_strerror(error ? error : WEIR_ECONNLOST));
        end(c, error ? error : WEIR_ECONNLOST, false);
    }
    weir_timer_stop(c->loop, &c->hs_timer);
    weir_timer_stop(c->loop, &c->sd_timer);
    weir_timer_stop(c->loop, &c->kick_timer);
    app_lost(c, c->error);
}

static void in_pause_writing(weir_protocol *p) { conn_of_inner(p)->inner_write_paused = true; }

static void in_resume_writing(weir_protocol *p) {
    tls_conn *c = conn_of_inner(p);
    c->inner_write_paused = false;
    if (c->state == ST_CLOSING) return;
    flush_out(c, false);
    control_app_writing(c);
}

static const weir_protocol_ops inner_ops = {
    .connection_made = in_connection_made,
    .data_received = in_data_received,
    .eof_received = in_eof_received,
    .connection_lost = in_connection_lost,
    .pause_writing = in_pause_writing,
    .resume_writing = in_resume_writing,
};

/* --- the transport above --------------------------------------------------------------- */

static int tls_write(weir_transport *t, const void *data, size_t len) {
    tls_conn *c = conn_of(t);
    if (c->write_closed) return WEIR_ECLOSED;
    if (len == 0) return WEIR_OK;
    if (!data) return WEIR_EINVAL;
    if (c->state == ST_HANDSHAKE) {
        if (len > c->held_cap - c->held_len) {
            size_t cap = c->held_cap ? c->held_cap : 4096;
            while (cap - c->held_len < len) {
                if (cap > SIZE_MAX / 2) return WEIR_ENOMEM;
                cap *= 2;
            }
            uint8_t *p = realloc(c->held, cap);
            if (!p) return WEIR_ENOMEM;
            c->held = p;
            c->held_cap = cap;
        }
        memcpy(c->held + c->held_len, data, len);
        c->held_len += len;
    } else if (c->state == ST_WRAPPED) {
        int rc = encrypt(c, data, len);
        if (rc) return rc;
        flush_out(c, false);
    } else {
        /* The peer's close_notify came, or the connection failed. */
        return WEIR_ECONNLOST;
    }
    control_app_writing(c);
    return WEIR_OK;
}

/* asyncio's SSL transport cannot half-close either: TLS 1.2 has no such thing. */
static int tls_write_eof(weir_transport *t) {
    (void)t;
    return WEIR_ENOTSUP;
}

static bool tls_can_write_eof(weir_transport *t) {
    (void)t;
    return false;
}

static void tls_close(weir_transport *t) {
    tls_conn *c = conn_of(t);
    if (c->closing) return;
    c->closing = true;
    c->write_closed = true;
    if (c->state == ST_HANDSHAKE) {
        /* asyncio aborts a connection closed before its handshake is over. */
        end(c, 0, false);
    } else if (c->state == ST_WRAPPED) {
        start_shutdown(c);
        process(c);
    }
}

static void tls_abort(weir_transport *t) {
    tls_conn *c = conn_of(t);
    c->closing = true;
    c->write_closed = true;
    if (c->state != ST_CLOSING)
        end(c, 0, false);
    else
        abort_inner(c); /* a graceful close still under way is cut short */
}

static bool tls_is_closing(weir_transport *t) {
    tls_conn *c = conn_of(t);
    return c->closing || c->state == ST_SHUTDOWN || c->state == ST_CLOSING;
}

static void tls_pause_reading(weir_transport *t) { conn_of(t)->app_read_paused = true; }

static void tls_resume_reading(weir_transport *t) {
    tls_conn *c = conn_of(t);
    if (!c->app_read_paused) return;
    c->app_read_paused = false;
    /* What is waiting goes up on a later tick, never inside the protocol's own call. */
    if (c->state != ST_CLOSING && !weir_timer_armed(&c->kick_timer))
        weir_timer_start(c->loop, &c->kick_timer, weir_loop_now(c->loop), kick, c);
}

static size_t tls_write_buffer_size(weir_transport *t) { return write_buffer_size(conn_of(t)); }

static int tls_set_limits(weir_transport *t, size_t high, size_t low) {
    tls_conn *c = conn_of(t);
    if (high < low) return WEIR_EINVAL;
    c->high = high;
    c->low = low;
    control_app_writing(c);
    return WEIR_OK;
}

static void tls_get_limits(weir_transport *t, size_t *high, size_t *low) {
    tls_conn *c = conn_of(t);
    if (high) *high = c->high;
    if (low) *low = c->low;
}

/* The peer certificate's subject as RFC 2253 text ("CN=localhost,O=weir"), or NULL. */
static char *subject_text(SSL *ssl) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return NULL;
    char *text = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        text = malloc((size_t)n + 1);
        if (text) {
            memcpy(text, p, (size_t)n);
            text[n] = '\0';
        }
    }
    BIO_free(b);
    X509_free(cert);
    return text;
}

static int extra_str(weir_extra *out, const char *s) {
    if (!s) return WEIR_ENOENT;
    *out = (weir_extra){.kind = WEIR_EXTRA_STR, .str = s, .len = strlen(s)};
    return WEIR_OK;
}

/* "alpn_protocol": the protocol ALPN selected, copied as text on first request (a name is
 * bytes, so .len counts them). */
static int extra_alpn(tls_conn *c, weir_extra *out) {
    if (!c->alpn) {
        const unsigned char *p = NULL;
        unsigned int n = 0;
        SSL_get0_alpn_selected(c->ssl, &p, &n);
        if (n == 0) return WEIR_ENOENT;
        if (!(c->alpn = malloc(n + 1))) return WEIR_ENOMEM;
        memcpy(c->alpn, p, n);
        c->alpn[n] = '\0';
        c->alpn_len = n;
    }
    *out = (weir_extra){.kind = WEIR_EXTRA_STR, .str = c->alpn, .len = c->alpn_len};
    return WEIR_OK;
}

static int tls_get_extra_info(weir_transport *t, const char *name, weir_extra *out) {
    tls_conn *c = conn_of(t);
    if (!name || !out) return WEIR_EINVAL;
    if (strcmp(name, "ssl_object") == 0) {
        *out = (weir_extra){.kind = WEIR_EXTRA_PTR, .ptr = c->ssl};
        return WEIR_OK;
    }
    if (strcmp(name, "sslcontext") == 0) {
        *out = (weir_extra){.kind = WEIR_EXTRA_PTR, .ptr = c->ctx->ssl_ctx};
        return WEIR_OK;
    }
    bool done = c->hs_result == 0; /* the handshake succeeded: the details exist */
    if (strcmp(name, "tls_version") == 0)
        return extra_str(out, done ? SSL_get_version(c->ssl) : NULL);
    if (strcmp(name, "cipher") == 0) {
        const SSL_CIPHER *ci = done ? SSL_get_current_cipher(c->ssl) : NULL;
        return extra_str(out, ci ? SSL_CIPHER_get_name(ci) : NULL);
    }
    if (strcmp(name, "tls_error") == 0) return extra_str(out, c->error ? c->message : NULL);
    if (strcmp(name, "alpn_protocol") == 0) return done ? extra_alpn(c, out) : WEIR_ENOENT;
    if (strcmp(name, "peer_certificate") == 0) {
        if (done && !c->peer_subject) c->peer_subject = subject_text(c->ssl);
        return extra_str(out, c->peer_subject);
    }
    if (c->inner->ops->get_extra_info) return c->inner->ops->get_extra_info(c->inner, name, out);
    return WEIR_ENOENT;
}

static void tls_free(weir_transport *t) {
    tls_conn *c = conn_of(t);
    c->t.protocol = NULL;
    if (c->hs) {
        hs_wait *h = c->hs;
        c->hs = NULL;
        h->conn_gone = true;
        weir__wake(&h->waiter, WEIR_ECONNLOST);
    }
    weir_timer_stop(c->loop, &c->hs_timer);
    weir_timer_stop(c->loop, &c->sd_timer);
    weir_timer_stop(c->loop, &c->kick_timer);
    /* The inner transport's contract: free only after its connection_lost or an abort. */
    if (!c->inner_lost) c->inner->ops->abort(c->inner);
    c->inner->protocol = NULL;
    if (c->inner->ops->free) c->inner->ops->free(c->inner);
    SSL_free(c->ssl);
    weir__tls_ctx_release(c->ctx);
    free(c->held);
    free(c->rbuf);
    free(c->peer_subject);
    free(c->alpn);
    free(c);
}

static const weir_transport_ops tls_ops = {
    .name = "tls",
    .write = tls_write,
    .write_eof = tls_write_eof,
    .can_write_eof = tls_can_write_eof,
    .close = tls_close,
    .abort = tls_abort,
    .is_closing = tls_is_closing,
    .pause_reading = tls_pause_reading,
    .resume_reading = tls_resume_reading,
    .write_buffer_size = tls_write_buffer_size,
    .set_write_buffer_limits = tls_set_limits,
    .get_write_buffer_limits = tls_get_limits,
    .get_extra_info = tls_get_extra_info,
    .free = tls_free,
};

/* --- attaching and the handshake ------------------------------------------------------- */

/* The name to verify: an IP address literal is checked against the certificate's IP
 * addresses and sent without SNI (RFC 6066 forbids literals there); a name against its DNS
 * names, and sent as SNI. */
static int set_peer_name(tls_conn *c, const char *host) {
    unsigned char addr[16];
    bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (literal) {
        if (c->ctx->verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1)
            return WEIR_ENOMEM;
        return WEIR_OK;
    }
    if (SSL_set_tlsext_host_name(c->ssl, host) != 1) return WEIR_EINVAL;
    if (c->ctx->verify && SSL_set1_host(c->ssl, host) != 1) return WEIR_ENOMEM;
    return WEIR_OK;
}

static tls_conn *conn_new(weir_loop *loop, weir_tls_ctx *ctx, const weir__tls_params *p) {
    tls_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->t.ops = &tls_ops;
    c->inner_proto.ops = &inner_ops;
    c->loop = loop;
    c->ctx = ctx;
    c->hs_result = 1;
    c->high = WRITE_HIGH;
    c->low = WRITE_LOW;
    c->handshake_timeout = p->handshake_timeout ? p->handshake_timeout : DEFAULT_HANDSHAKE_TIMEOUT;
    c->shutdown_timeout = p->shutdown_timeout ? p->shutdown_timeout : DEFAULT_SHUTDOWN_TIMEOUT;
    uint64_t seed;
    if (weir__loop_backend_random(loop, &seed)) {
        c->det = true;
        weir__tls_rng_seed(&c->rng, seed);
    }
    c->rbuf = malloc(2 * CHUNK);
    if (!c->rbuf) {
        free(c);
        return NULL;
    }
    c->wbuf = c->rbuf + CHUNK;
    weir__tls_rng *prev = enter(c);
    c->ssl = SSL_new(ctx->ssl_ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    weir__tls_rng_leave(prev);
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        SSL_free(c->ssl);
        free(c->rbuf);
        free(c);
        return NULL;
    }
    /* An empty BIO means "no more for now" (retry), never an EOF: the inner transport's
     * eof_received says when the peer is done. */
    BIO_set_mem_eof_return(c->rbio, -1);
    BIO_set_mem_eof_return(c->wbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    if (ctx->head.server)
        SSL_set_accept_state(c->ssl);
    else
        SSL_set_connect_state(c->ssl);
    /* A session ticket carries the wall-clock time, encrypted under keys the context drew
     * from the system: a simulation sends none. */
    if (c->det) {
        SSL_set_num_tickets(c->ssl, 0);
        SSL_set_options(c->ssl, SSL_OP_NO_TICKET);
    }
    return c;
}

static void conn_discard(tls_conn *c) {
    SSL_free(c->ssl);
    free(c->rbuf);
    free(c);
}

/* The name a client sends and checks: "" counts as none, as in asyncio. */
static const char *peer_name(const char *server_hostname) {
    return server_hostname && *server_hostname ? server_hostname : NULL;
}

static bool name_missing(const weir_tls_ctx *ctx, const char *server_hostname) {
    if (ctx->head.server || !ctx->verify || peer_name(server_hostname)) return false;
    weir__tls_set_error("a server_hostname is needed to verify the server's certificate");
    return true;
}

static int hook_attach(weir_writer *w, weir_loop *loop, weir_tls_ctx *ctx,
                       const weir__tls_params *p) {
    weir_transport *inner = weir_writer_transport(w);
    weir_protocol *above = inner ? inner->protocol : NULL;
    if (!inner || !above || !above->ops || !above->ops->connection_made || !ctx || !loop)
        return WEIR_EINVAL;
    if (p->handshake_timeout < 0 || p->shutdown_timeout < 0) return WEIR_EINVAL;
    if (name_missing(ctx, p->server_hostname)) return WEIR_EINVAL;
    tls_conn *c = conn_new(loop, ctx, p);
    if (!c) return WEIR_ENOMEM;
    const char *name = peer_name(p->server_hostname);
    if (!ctx->head.server && name) {
        int rc = set_peer_name(c, name);
        if (rc) {
            conn_discard(c);
            return rc;
        }
    }
    weir__tls_ctx_retain(ctx);
    /* Splice: inner -> us -> the stream. connection_made makes the writer and its reader
     * use us from now on (the reader forgets whether it had paused the inner transport, so
     * resume that: the handshake needs to read). */
    c->inner = inner;
    c->t.protocol = above;
    inner->protocol = &c->inner_proto;
    above->ops->connection_made(above, &c->t);
    if (inner->ops->resume_reading) inner->ops->resume_reading(inner);
    int64_t now = weir_loop_now(loop);
    int64_t when =
        c->handshake_timeout > WEIR_FOREVER - now ? WEIR_FOREVER : now + c->handshake_timeout;
    weir_timer_start(loop, &c->hs_timer, when, hs_timeout, c);
    process(c); /* a client's ClientHello goes out now */
    return WEIR_OK;
}

/* The error a finished handshake reports, with its text as the thread's last error. */
static int hs_report(tls_conn *c, int rc) {
    if (rc) weir__tls_set_error("%s", c->message[0] ? c->message : weir_strerror(rc));
    return rc;
}

static int hook_handshake(weir_writer *w) {
    weir_transport *t = weir_writer_transport(w);
    if (!t || t->ops != &tls_ops) return WEIR_EINVAL;
    tls_conn *c = conn_of(t);
    if (c->hs_result != 1) return hs_report(c, c->hs_result);
    if (c->hs) return WEIR_EBUSY;
    if (!weir_task_current()) return WEIR_ENOTASK;
    hs_wait h = {.waiter.what = "TLS handshake"};
    c->hs = &h;
    int rc = weir__wait(&h.waiter);
    if (h.conn_gone) return rc;
    if (c->hs == &h) {
        /* Cancelled, or past the task's deadline: the handshake is abandoned. */
        c->hs = NULL;
        snprintf(c->message, sizeof c->message, "TLS handshake %s",
                 rc == WEIR_ECANCELED ? "cancelled" : "interrupted: the task's deadline passed");
        end(c, rc, false);
    }
    return hs_report(c, rc);
}

static void hook_retain(weir_tls_ctx *ctx) { weir__tls_ctx_retain(ctx); }
static void hook_release(weir_tls_ctx *ctx) { weir__tls_ctx_release(ctx); }

const weir__tls_hooks weir__tls_hooks_impl = {
    .attach = hook_attach,
    .handshake = hook_handshake,
    .retain = hook_retain,
    .release = hook_release,
};

int weir_start_tls(weir_writer *w, weir_tls_ctx *ctx, const char *server_hostname,
                   int64_t handshake_timeout, int64_t shutdown_timeout) {
    if (!w || !ctx || handshake_timeout < 0 || shutdown_timeout < 0) return WEIR_EINVAL;
    if (name_missing(ctx, server_hostname)) return WEIR_EINVAL;
    if (!weir_task_current()) return WEIR_ENOTASK;
    if (weir_writer_is_closing(w)) return WEIR_ECLOSED;
    /* asyncio drains first: what was written in plaintext goes out in plaintext. */
    int rc = weir_drain(w);
    if (rc) return rc;
    if (weir_writer_is_closing(w)) return WEIR_ECLOSED;
    weir__tls_params p = {.server_hostname = server_hostname,
                          .handshake_timeout = handshake_timeout,
                          .shutdown_timeout = shutdown_timeout};
    rc = hook_attach(w, weir_current_loop(), ctx, &p);
    if (rc) return rc;
    return hook_handshake(w);
}
