/* net/tls_internal.h - what the TLS files share. Not installed.
 *
 *   tls_ctx.c   contexts, the OpenSSL library context weir uses, error texts
 *   tls_rand.c  the random generator OpenSSL draws from: the system's, or a seeded stream
 *               while a connection on a simulated loop is inside OpenSSL
 *   tls.c       the TLS transport, weir_start_tls and the hooks core calls */
#ifndef WEIR_NET_TLS_INTERNAL_H
#define WEIR_NET_TLS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/internal.h"
#include "weir/tls.h"

struct weir_tls_ctx {
    weir__tls_head head; /* first: core reaches the hooks through it */
    SSL_CTX *ssl_ctx;
    bool verify; /* client: the peer's certificate and name are checked */
    atomic_int refs;
    unsigned char *alpn; /* server: its ALPN names in wire form (RFC 7301), or NULL */
    size_t alpn_len;
};

/* The hooks of every context (tls.c). */
extern const weir__tls_hooks weir__tls_hooks_impl;

/* The library context every weir SSL_CTX lives in: the default provider for algorithms,
 * weir's generator (tls_rand.c) for randomness. NULL if OpenSSL could not set it up. */
OSSL_LIB_CTX *weir__tls_libctx(void);

void weir__tls_ctx_retain(weir_tls_ctx *ctx);
void weir__tls_ctx_release(weir_tls_ctx *ctx);

/* --- randomness (tls_rand.c) ----------------------------------------------------------- */

/* A seeded stream for one connection on a simulated loop (xoshiro256**): reproducible,
 * and for that reason never used on real sockets. */
typedef struct weir__tls_rng {
    uint64_t s[4];
} weir__tls_rng;

void weir__tls_rng_seed(weir__tls_rng *g, uint64_t seed);
/* Until the matching leave, every random byte OpenSSL draws on this thread for weir's
 * library context comes from g (NULL: from the system's generator). Returns what was
 * active, to hand to leave. */
weir__tls_rng *weir__tls_rng_enter(weir__tls_rng *g);
void weir__tls_rng_leave(weir__tls_rng *prev);
/* Make weir's generator the one libctx uses. 1 on success, 0 on failure (OpenSSL's). */
int weir__tls_rand_install(OSSL_LIB_CTX *libctx);

/* --- errors (tls_ctx.c) ------------------------------------------------------------------ */

/* weir_tls_last_error()'s text, printf-style. */
void weir__tls_set_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* "what: reason" from OpenSSL's error queue (with the verification result of ssl when a
 * certificate was rejected; ssl may be NULL) into buf; empties the queue. */
void weir__tls_describe(const SSL *ssl, const char *what, char *buf, size_t n);

#endif
