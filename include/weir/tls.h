/* weir/tls.h - TLS (OpenSSL 3) as a transport layered over any other transport.
 *
 * The TLS layer talks to OpenSSL through memory BIOs, so it runs over real sockets and over
 * the simulator alike. A context is made once and used by many connections: pass it as
 * weir_open_opts.tls / weir_server_opts.tls, or upgrade a connection with weir_start_tls().
 *
 * A TLS connection behaves as asyncio's SSL transport (docs/tls.md): write_eof is
 * WEIR_ENOTSUP; close sends close_notify and waits (shutdown timeout) for the peer's; the
 * peer's close_notify is an EOF for the reader. get_extra_info knows "tls_version",
 * "cipher", "peer_certificate" (the subject, RFC 2253 text: the server's on a client, the
 * client's on a server that asked for one), "alpn_protocol" (the protocol ALPN selected),
 * "ssl_object" (the SSL *), "sslcontext" (the SSL_CTX *) and "tls_error" (why this
 * connection failed, once it has), and passes other names to the transport underneath. */
#ifndef WEIR_TLS_H
#define WEIR_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "weir/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_tls_ctx weir_tls_ctx;

/* ALPN (RFC 7301), as Python's SSLContext.set_alpn_protocols: alpn_protocols is a
 * NULL-terminated array of protocol names ("h2", "http/1.1"), each 1 to 255 bytes; NULL or
 * an empty array = no ALPN. A client offers them in this order; a server picks the first of
 * its own that the client offered (its preference order). No name in common: the handshake
 * goes on without a protocol (the server acknowledges none), as with CPython's ssl module;
 * get_extra_info "alpn_protocol" is then WEIR_ENOENT on both sides. The array is copied. */

typedef struct weir_tls_client_opts {
    const char *ca_file;   /* PEM bundle of trusted CAs; NULL with ca_dir NULL = system */
    const char *ca_dir;    /* a directory of hashed CA certificates (c_rehash) */
    bool no_verify;        /* skip certificate and hostname checks (on by default) */
    const char *cert_file; /* optional client certificate chain (PEM), leaf first: sent when
                              the server asks for one (Python's load_cert_chain) */
    const char *key_file;  /* its key (PEM); NULL = in cert_file */
    int64_t verify_time;   /* check certificates as of this time (s since the epoch);
                              0 = now. For reproducible runs with committed certificates. */
    const char *const *alpn_protocols; /* offered by ALPN, NULL-terminated (see above) */
} weir_tls_client_opts;

/* What a server asks of its clients' certificates (Python's SSLContext.verify_mode on a
 * server context, with the same names). */
typedef enum weir_tls_verify_mode {
    WEIR_TLS_CERT_NONE = 0, /* no certificate is asked for (the default) */
    WEIR_TLS_CERT_OPTIONAL, /* asked for; a client may send none, but one it sends must
                               verify against ca_file / ca_dir */
    WEIR_TLS_CERT_REQUIRED, /* asked for, and it must be there and verify */
} weir_tls_verify_mode;

typedef struct weir_tls_server_opts {
    const char *cert_file;            /* certificate chain (PEM), leaf first */
    const char *key_file;             /* private key (PEM); NULL = in cert_file */
    weir_tls_verify_mode verify_mode; /* client certificates (mutual TLS) */
    const char *ca_file; /* with verify_mode: the CAs client certificates must come from */
    const char *ca_dir;  /* or a directory of hashed CA certificates (c_rehash); one of the
                            two is needed with verify_mode, and neither without it */
    int64_t verify_time; /* with verify_mode: check client certificates as of this time (s
                            since the epoch); 0 = now */
    const char *const *alpn_protocols; /* accepted by ALPN, in order of preference */
} weir_tls_server_opts;

/* WEIR_EINVAL (a file that cannot be read, a key that does not match the certificate, an
 * ALPN name that is empty or longer than 255 bytes, a verify_mode without a CA to verify
 * with or options that go only with one: the message is in weir_tls_last_error()),
 * WEIR_ENOMEM, or 0. opts may be NULL for a client (system CAs, verification on).
 *
 * A server that asks for client certificates fails the handshake (WEIR_ETLS: "client
 * certificate verify failed: unable to get local issuer certificate") of a client whose
 * certificate does not verify, and with WEIR_TLS_CERT_REQUIRED of one that sends none ("peer
 * did not return a certificate"); the handler never runs, and an alert tells the client.
 * Over TLS 1.2 the client's handshake fails with it (WEIR_ETLS: "tlsv1 alert unknown ca",
 * "sslv3 alert handshake failure"). Over TLS 1.3 the client has finished its handshake
 * before the server judges its certificate, as RFC 8446 has it: the client's
 * open_connection succeeds and the alert ends the connection at its next read (WEIR_ETLS,
 * "tlsv13 alert certificate required" in its "tls_error"), as it does in Python. */
int weir_tls_client_ctx_new(const weir_tls_client_opts *opts, weir_tls_ctx **out);
int weir_tls_server_ctx_new(const weir_tls_server_opts *opts, weir_tls_ctx **out);
/* Contexts are reference counted by the connections and servers using them: free yours
 * when you no longer make new ones with it. NULL is a no-op. */
void weir_tls_ctx_free(weir_tls_ctx *ctx);

/* Upgrade the connection of w to TLS in place (asyncio's StreamWriter.start_tls): from the
 * running task, drain w, then handshake, as a client (server_hostname for SNI and
 * verification; required unless the context has no_verify) or as a server when ctx is a
 * server context. Afterwards w and its reader carry the TLS stream; data already buffered in
 * the reader stays there (it came before the upgrade). Timeouts in ns, 0 = 60 s for the
 * handshake and 30 s for the shutdown (close_notify) at close.
 * Errors: WEIR_ETLS (the handshake failed: verification, protocol, garbage from the peer;
 * see weir_tls_last_error()), WEIR_ETIMEDOUT, WEIR_ECONNRESET (the peer closed during the
 * handshake), WEIR_ECONNLOST, WEIR_ECLOSED (w is closing), WEIR_ECANCELED, WEIR_ENOTASK,
 * WEIR_EINVAL, WEIR_ENOMEM. After a failure the connection is closed: free w. */
int weir_start_tls(weir_writer *w, weir_tls_ctx *ctx, const char *server_hostname,
                   int64_t handshake_timeout, int64_t shutdown_timeout);

/* A description of the last TLS failure on this thread ("TLS handshake failed: certificate
 * verify failed: hostname mismatch"), "" if none: set by a failing context constructor,
 * open_connection, weir_start_tls as they return, and by any connection of the thread that
 * fails later (ask a connection for its own with get_extra_info "tls_error"). */
const char *weir_tls_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
