/* net/tls_ctx.c - TLS contexts: an SSL_CTX with weir's defaults, and error texts.
 *
 * Defaults, as Python's ssl.create_default_context() has them: TLS 1.2 at least, a client
 * verifies the server's certificate chain and name, against a CA file or directory or the
 * system's default paths. Renegotiation is refused (it is the only way a write could have
 * to wait for a read with memory BIOs, and TLS 1.3 dropped it). Every SSL_CTX lives in
 * weir's library context, so its randomness is under tls_rand.c's control.
 * Options as Python's SSLContext has them: a client's certificate (load_cert_chain), a
 * server's demand for one (verify_mode, load_verify_locations), ALPN on both sides
 * (set_alpn_protocols, with CPython's choice on the server: its own order, and no protocol
 * rather than an alert when nothing matches). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/x509_vfy.h>

#include "net/tls_internal.h"

/* --- the library context ------------------------------------------------------------- */

static CRYPTO_ONCE libctx_once = CRYPTO_ONCE_STATIC_INIT;
static OSSL_LIB_CTX *libctx;

static void libctx_init(void) {
    OSSL_LIB_CTX *l = OSSL_LIB_CTX_new();
    if (!l) return;
    if (!OSSL_PROVIDER_load(l, "default") || !weir__tls_rand_install(l)) {
        OSSL_LIB_CTX_free(l);
        return;
    }
    /* Kept for the life of the process, like OpenSSL's own default context. */
    libctx = l;
}

OSSL_LIB_CTX *weir__tls_libctx(void) {
    if (!CRYPTO_THREAD_run_once(&libctx_once, libctx_init)) return NULL;
    return libctx;
}

/* --- errors -------------------------------------------------------------------------- */

static _Thread_local char last_error[512];

const char *weir_tls_last_error(void) { return last_error; }

void weir__tls_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

/* Append s to buf (holding len bytes of text), separated by ": ". */
static size_t append(char *buf, size_t n, size_t len, const char *s) {
    if (len == 0) buf[0] = '\0';
    if (len >= n) return len;
    int k = snprintf(buf + len, n - len, "%s%s", len ? ": " : "", s);
    return k < 0 ? len : len + (size_t)k;
}

void weir__tls_describe(const SSL *ssl, const char *what, char *buf, size_t n) {
    size_t len = append(buf, n, 0, what);
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    bool verify_failed = false, any = false;
    char prev[128] = "";
    unsigned long e;
    /* Oldest first: OpenSSL queues the cause before the consequences. Repeated reasons (a
     * file error reported by each layer) are said once. */
    while ((e = ERR_get_error()) != 0) {
        bool vf =
            ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED;
        verify_failed |= vf;
        char reason[128];
        const char *r = ERR_reason_error_string(e);
        if (vf && ssl && SSL_is_server(ssl)) {
            /* A server verifies only clients: say whose certificate it was. */
            snprintf(reason, sizeof reason, "client %s", r ? r : "certificate verify failed");
        } else if (ERR_SYSTEM_ERROR(e)) {
            /* An errno, which OpenSSL 3 keeps as the reason without a string for it. */
            if (strerror_r(ERR_GET_REASON(e), reason, sizeof reason) != 0)
                snprintf(reason, sizeof reason, "errno %d", ERR_GET_REASON(e));
        } else {
            snprintf(reason, sizeof reason, "%s", r ? r : "unknown OpenSSL error");
        }
        /* "system lib" only says that the reason before it came from the system. */
        if (strcmp(reason, "system lib") == 0 || strcmp(prev, reason) == 0) continue;
        len = append(buf, n, len, reason);
        memcpy(prev, reason, sizeof prev);
        any = true;
    }
    if (verify_failed && vr != X509_V_OK)
        len = append(buf, n, len, X509_verify_cert_error_string(vr));
    if (!any) append(buf, n, len, "no further detail from OpenSSL");
}

static int fail(weir_tls_ctx *c, int code, const char *what, const char *path) {
    char buf[448];
    char label[256];
    snprintf(label, sizeof label, path ? "%s %s" : "%s", what, path ? path : "");
    weir__tls_describe(NULL, label, buf, sizeof buf);
    weir__tls_set_error("%s", buf);
    weir_tls_ctx_free(c);
    return code;
}

/* --- contexts ------------------------------------------------------------------------ */

static int ctx_new(bool server, weir_tls_ctx **out) {
    *out = NULL;
    OSSL_LIB_CTX *lib = weir__tls_libctx();
    if (!lib) {
        char buf[256];
        weir__tls_describe(NULL, "cannot set up OpenSSL", buf, sizeof buf);
        weir__tls_set_error("%s", buf);
        return WEIR_ENOMEM;
    }
    weir_tls_ctx *c = calloc(1, sizeof *c);
    if (!c) return WEIR_ENOMEM;
    c->head.hooks = &weir__tls_hooks_impl;
    c->head.server = server;
    atomic_init(&c->refs, 1);
    c->ssl_ctx = SSL_CTX_new_ex(lib, NULL, server ? TLS_server_method() : TLS_client_method());
    if (!c->ssl_ctx) return fail(c, WEIR_ENOMEM, "cannot make an SSL_CTX", NULL);
    if (!SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION))
        return fail(c, WEIR_ENOMEM, "cannot set the minimum TLS version", NULL);
    SSL_CTX_set_options(c->ssl_ctx, SSL_OP_NO_RENEGOTIATION);
    *out = c;
    return WEIR_OK;
}

/* A certificate chain and its key; key_file NULL = the key is in cert_file. */
static int use_cert(weir_tls_ctx *c, const char *cert_file, const char *key_file) {
    if (!key_file) key_file = cert_file;
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cert_file) != 1)
        return fail(c, WEIR_EINVAL, "cannot load the certificate chain", cert_file);
    if (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return fail(c, WEIR_EINVAL, "cannot load the private key", key_file);
    if (SSL_CTX_check_private_key(c->ssl_ctx) != 1)
        return fail(c, WEIR_EINVAL, "the private key does not match the certificate", key_file);
    return WEIR_OK;
}

/* The CAs to verify the peer with: a PEM file, a hashed directory, or both. OpenSSL opens a
 * directory only when it looks a certificate up, so one that is not there is caught here. */
static int load_cas(weir_tls_ctx *c, const char *ca_file, const char *ca_dir, const char *what) {
    if (ca_dir) {
        struct stat st;
        int e = 0;
        if (stat(ca_dir, &st) != 0)
            e = errno;
        else if (!S_ISDIR(st.st_mode))
            e = ENOTDIR;
        else if (access(ca_dir, R_OK | X_OK) != 0)
            e = errno;
        if (e) {
            weir__tls_set_error("%s %s: %s", what, ca_dir, strerror(e));
            weir_tls_ctx_free(c);
            return WEIR_EINVAL;
        }
    }
    if (SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, ca_dir) != 1)
        return fail(c, WEIR_EINVAL, what, ca_file ? ca_file : ca_dir);
    return WEIR_OK;
}

/* --- ALPN ---------------------------------------------------------------------------- */

/* The length of the wire form of an ALPN list (RFC 7301: each name as one length byte and
 * its bytes), into *len; 0 for NULL or an empty list. WEIR_EINVAL for a name Python's
 * set_alpn_protocols refuses too (empty, longer than 255 bytes), or a list longer than the
 * extension can carry. */
static int alpn_length(const char *const *names, size_t *len) {
    *len = 0;
    for (size_t i = 0; names && names[i]; i++) {
        size_t n = strlen(names[i]);
        if (n == 0 || n > 255) {
            weir__tls_set_error("ALPN protocol %zu is %zu bytes long: names are 1 to 255 bytes", i,
                                n);
            return WEIR_EINVAL;
        }
        *len += 1 + n;
        if (*len > 65535) {
            weir__tls_set_error("the ALPN protocols take more than 65535 bytes");
            return WEIR_EINVAL;
        }
    }
    return WEIR_OK;
}

/* The wire form of names, len bytes (alpn_length's). */
static unsigned char *alpn_wire(const char *const *names, size_t len) {
    unsigned char *w = malloc(len), *p = w;
    if (!w) return NULL;
    for (size_t i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        *p++ = (unsigned char)n;
        memcpy(p, names[i], n);
        p += n;
    }
    return w;
}

/* The server's choice, as CPython's _selectALPN_cb makes it: the first of our names that the
 * client offered; none in common, no protocol, and the handshake goes on (no alert). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    weir_tls_ctx *c = arg;
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, outlen, c->alpn, (unsigned int)c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int use_alpn(weir_tls_ctx *c, const char *const *names, size_t len) {
    if (len == 0) return WEIR_OK;
    unsigned char *wire = alpn_wire(names, len);
    if (!wire) return fail(c, WEIR_ENOMEM, "cannot set the ALPN protocols", NULL);
    if (c->head.server) {
        c->alpn = wire;
        c->alpn_len = len;
        SSL_CTX_set_alpn_select_cb(c->ssl_ctx, alpn_select, c);
        return WEIR_OK;
    }
    /* 0 is success here. */
    int r = SSL_CTX_set_alpn_protos(c->ssl_ctx, wire, (unsigned int)len);
    free(wire);
    if (r != 0) return fail(c, WEIR_ENOMEM, "cannot set the ALPN protocols", NULL);
    return WEIR_OK;
}

/* --- the constructors ---------------------------------------------------------------- */

static int invalid(const char *why) {
    weir__tls_set_error("%s", why);
    return WEIR_EINVAL;
}

int weir_tls_client_ctx_new(const weir_tls_client_opts *opts, weir_tls_ctx **out) {
    if (!out) return invalid("no place for the context (out is NULL)");
    *out = NULL;
    weir_tls_client_opts o = opts ? *opts : (weir_tls_client_opts){0};
    if (o.verify_time < 0) return invalid("verify_time is negative");
    if (o.key_file && !o.cert_file) return invalid("a key_file without its cert_file");
    size_t alpn_len;
    int rc = alpn_length(o.alpn_protocols, &alpn_len);
    if (rc) return rc;
    weir_tls_ctx *c;
    rc = ctx_new(false, &c);
    if (rc) return rc;
    ERR_clear_error();
    if (o.ca_file || o.ca_dir) {
        if ((rc = load_cas(c, o.ca_file, o.ca_dir, "cannot load the trusted CAs from")) != 0)
            return rc;
    } else if (!o.no_verify && SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
        return fail(c, WEIR_EINVAL, "cannot load the system's trusted CAs", NULL);
    }
    c->verify = !o.no_verify;
    SSL_CTX_set_verify(c->ssl_ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (o.verify_time)
        X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(c->ssl_ctx), (time_t)o.verify_time);
    if (o.cert_file && (rc = use_cert(c, o.cert_file, o.key_file)) != 0) return rc;
    if ((rc = use_alpn(c, o.alpn_protocols, alpn_len)) != 0) return rc;
    *out = c;
    return WEIR_OK;
}

/* Client certificates: asked for, and checked against the CAs given (Python's verify_mode
 * and load_verify_locations on a server context). */
static int verify_clients(weir_tls_ctx *c, const weir_tls_server_opts *o) {
    int rc = load_cas(c, o->ca_file, o->ca_dir, "cannot load the CAs for client certificates from");
    if (rc) return rc;
    int mode = SSL_VERIFY_PEER;
    if (o->verify_mode == WEIR_TLS_CERT_REQUIRED) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(c->ssl_ctx, mode, NULL);
    if (o->verify_time)
        X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(c->ssl_ctx), (time_t)o->verify_time);
    return WEIR_OK;
}

int weir_tls_server_ctx_new(const weir_tls_server_opts *opts, weir_tls_ctx **out) {
    if (!out) return invalid("no place for the context (out is NULL)");
    *out = NULL;
    if (!opts || !opts->cert_file)
        return invalid("a server context needs a certificate chain (cert_file)");
    const weir_tls_server_opts *o = opts;
    if (o->verify_mode != WEIR_TLS_CERT_NONE && o->verify_mode != WEIR_TLS_CERT_OPTIONAL &&
        o->verify_mode != WEIR_TLS_CERT_REQUIRED)
        return invalid("verify_mode is none of WEIR_TLS_CERT_NONE, _OPTIONAL, _REQUIRED");
    if (o->verify_time < 0) return invalid("verify_time is negative");
    bool verify = o->verify_mode != WEIR_TLS_CERT_NONE;
    bool cas = o->ca_file || o->ca_dir;
    if (verify && !cas)
        return invalid("verifying client certificates needs the CAs to trust (ca_file or ca_dir)");
    if (!verify && (cas || o->verify_time))
        return invalid("ca_file, ca_dir and verify_time verify client certificates: they need a "
                       "verify_mode");
    size_t alpn_len;
    int rc = alpn_length(o->alpn_protocols, &alpn_len);
    if (rc) return rc;
    weir_tls_ctx *c;
    rc = ctx_new(true, &c);
    if (rc) return rc;
    ERR_clear_error();
    if ((rc = use_cert(c, o->cert_file, o->key_file)) != 0) return rc;
    /* A client resuming a session with a server that verifies clients fails without one
     * ("session id context uninitialized"); CPython sets its own name the same way. */
    static const unsigned char sid_ctx[] = "weir";
    if (SSL_CTX_set_session_id_context(c->ssl_ctx, sid_ctx, sizeof sid_ctx - 1) != 1)
        return fail(c, WEIR_ENOMEM, "cannot set the session id context", NULL);
    if (verify && (rc = verify_clients(c, o)) != 0) return rc;
    if ((rc = use_alpn(c, o->alpn_protocols, alpn_len)) != 0) return rc;
    *out = c;
    return WEIR_OK;
}

void weir__tls_ctx_retain(weir_tls_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void weir__tls_ctx_release(weir_tls_ctx *ctx) {
    if (atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->alpn);
    free(ctx);
}

void weir_tls_ctx_free(weir_tls_ctx *ctx) {
    if (ctx) weir__tls_ctx_release(ctx);
}
