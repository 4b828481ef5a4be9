/* weir/tls.h - TLS (OpenSSL 3) as a transport layered over any other transport.
 *
 * The TLS layer talks to OpenSSL through memory BIOs, so it runs over real sockets and over
 * the simulator alike. A context is made once and used by many connections: pass it as
 * weir_open_opts.tls / weir_server_opts.tls, or upgrade a connection with weir_start_tls(). */
#ifndef WEIR_TLS_H
#define WEIR_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "weir/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_tls_ctx weir_tls_ctx;

typedef struct weir_tls_client_opts {
    const char *ca_file;   /* PEM bundle of trusted CAs; NULL with ca_dir NULL = system */
    const char *ca_dir;
    bool no_verify;        /* skip certificate and hostname checks (on by default) */
    const char *cert_file; /* optional client certificate chain (PEM) */
    const char *key_file;
} weir_tls_client_opts;

typedef struct weir_tls_server_opts {
    const char *cert_file; /* certificate chain (PEM), leaf first */
    const char *key_file;  /* private key (PEM) */
} weir_tls_server_opts;

/* WEIR_EINVAL (a file that cannot be read or a key that does not match: the message is in
 * weir_tls_last_error()), WEIR_ENOMEM, or 0. */
int weir_tls_client_ctx_new(const weir_tls_client_opts *opts, weir_tls_ctx **out);
int weir_tls_server_ctx_new(const weir_tls_server_opts *opts, weir_tls_ctx **out);
/* Contexts are reference counted by the connections using them; free yours when done. */
void weir_tls_ctx_free(weir_tls_ctx *ctx);

/* Upgrade the connection of w to TLS in place (asyncio's start_tls): from the running task,
 * handshake (as client with server_hostname for SNI and verification, or as server when
 * ctx is a server context), then w and its reader carry the TLS stream. Data already
 * buffered in the reader stays there (it came before the upgrade). handshake_timeout in ns,
 * 0 = 60 s. Errors: WEIR_ETLS (handshake failed: verification, protocol, garbage; see
 * weir_tls_last_error()), WEIR_ETIMEDOUT, WEIR_ECONNRESET, WEIR_ENOTASK, WEIR_EINVAL. */
int weir_start_tls(weir_writer *w, weir_tls_ctx *ctx, const char *server_hostname,
                   int64_t handshake_timeout);

/* A description of the last TLS failure on this thread (OpenSSL's error queue, summarised). */
const char *weir_tls_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
