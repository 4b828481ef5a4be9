/* net/tls_rand.c - where OpenSSL's random bytes come from, for weir's library context.
 *
 * A TLS handshake draws random bytes (client and server randoms, key shares, signature
 * nonces, padding). For a simulated run to repeat byte for byte, those bytes must come from
 * the run's seed; on real sockets they must come from the system's generator. OpenSSL 3
 * lets a provider supply the generator of a library context (RAND_set_DRBG_type), so weir's
 * contexts live in a library context of their own whose generator is the small one below:
 *
 *   - while a connection on a simulated loop is inside an OpenSSL call (tls.c brackets
 *     each call with weir__tls_rng_enter/leave), bytes come from that connection's seeded
 *     stream;
 *   - at any other time, from the default library context's generator (the system's
 *     DRBG, seeded by the kernel): real connections and context set-up get real randomness.
 *
 * The seeded stream is xoshiro256**, which is not a cryptographic generator: that is the
 * point (a simulation's keys are meant to be reproducible), and why it is only ever active
 * for loops whose backend supplies its own randomness (weir__loop_backend_random). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "core/rng.h"
#include "net/tls_internal.h"

static _Thread_local weir__tls_rng *active;

/* --- the seeded stream ------------------------------------------------------------------ */

void weir__tls_rng_seed(weir__tls_rng *g, uint64_t seed) {
    /* splitmix64 never yields four zero words, the one state xoshiro cannot leave. */
    for (int i = 0; i < 4; i++) g->s[i] = weir__splitmix64(&seed);
}

static void fill(weir__tls_rng *g, unsigned char *out, size_t n) {
    while (n > 0) {
        uint64_t v = weir__xoshiro_next(g->s);
        size_t k = n < sizeof v ? n : sizeof v;
        memcpy(out, &v, k);
        out += k;
        n -= k;
    }
}

weir__tls_rng *weir__tls_rng_enter(weir__tls_rng *g) {
    weir__tls_rng *prev = active;
    active = g;
    return prev;
}

void weir__tls_rng_leave(weir__tls_rng *prev) { active = prev; }

/* --- the generator, as an OpenSSL RAND implementation ----------------------------------- */

/* OpenSSL chains its generators (primary, then public and private per thread) and asks
 * each for its state; ours keeps nothing but that state, since every byte comes from the
 * active stream or the system. */
typedef struct wrand {
    int state;
} wrand;

static void *wrand_new(void *provctx, void *parent, const OSSL_DISPATCH *parent_calls) {
    (void)provctx;
    (void)parent;
    (void)parent_calls;
    wrand *r = calloc(1, sizeof *r);
    if (r) r->state = EVP_RAND_STATE_UNINITIALISED;
    return r;
}

static void wrand_free(void *vr) { free(vr); }

static int wrand_instantiate(void *vr, unsigned int strength, int prediction_resistance,
                             const unsigned char *pstr, size_t pstr_len,
                             const OSSL_PARAM params[]) {
    (void)strength;
    (void)prediction_resistance;
    (void)pstr;
    (void)pstr_len;
    (void)params;
    ((wrand *)vr)->state = EVP_RAND_STATE_READY;
    return 1;
}

static int wrand_uninstantiate(void *vr) {
    ((wrand *)vr)->state = EVP_RAND_STATE_UNINITIALISED;
    return 1;
}

static int wrand_generate(void *vr, unsigned char *out, size_t outlen, unsigned int strength,
                          int prediction_resistance, const unsigned char *adin, size_t adin_len) {
    (void)vr;
    (void)prediction_resistance;
    (void)adin;
    (void)adin_len;
    if (active) {
        fill(active, out, outlen);
        return 1;
    }
    /* NULL: the default library context, whose generator the system seeds. */
    return RAND_priv_bytes_ex(NULL, out, outlen, strength);
}

static int wrand_reseed(void *vr, int prediction_resistance, const unsigned char *entropy,
                        size_t entropy_len, const unsigned char *adin, size_t adin_len) {
    (void)vr;
    (void)prediction_resistance;
    (void)entropy;
    (void)entropy_len;
    (void)adin;
    (void)adin_len;
    return 1;
}

/* Nothing to protect: the state above is set once, and the system generator locks itself. */
static int wrand_enable_locking(void *vr) {
    (void)vr;
    return 1;
}

static int wrand_lock(void *vr) {
    (void)vr;
    return 1;
}

static void wrand_unlock(void *vr) { (void)vr; }

static int wrand_get_ctx_params(void *vr, OSSL_PARAM params[]) {
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
    if (p && !OSSL_PARAM_set_int(p, ((wrand *)vr)->state)) return 0;
    p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
    if (p && !OSSL_PARAM_set_uint(p, 256)) return 0;
    p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
    if (p && !OSSL_PARAM_set_size_t(p, 1 << 16)) return 0;
    return 1;
}

static const OSSL_PARAM *wrand_gettable_ctx_params(void *vr, void *provctx) {
    (void)vr;
    (void)provctx;
    static const OSSL_PARAM known[] = {
        OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
        OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
        OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
        OSSL_PARAM_END,
    };
    return known;
}

static int wrand_verify_zeroization(void *vr) {
    (void)vr;
    return 1;
}

/* OpenSSL's dispatch tables hold every function as void (*)(void); it calls each through
 * its real type. */
#define FN(f) ((void (*)(void))(f))

static const OSSL_DISPATCH wrand_functions[] = {
    {OSSL_FUNC_RAND_NEWCTX, FN(wrand_new)},
    {OSSL_FUNC_RAND_FREECTX, FN(wrand_free)},
    {OSSL_FUNC_RAND_INSTANTIATE, FN(wrand_instantiate)},
    {OSSL_FUNC_RAND_UNINSTANTIATE, FN(wrand_uninstantiate)},
    {OSSL_FUNC_RAND_GENERATE, FN(wrand_generate)},
    {OSSL_FUNC_RAND_RESEED, FN(wrand_reseed)},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, FN(wrand_enable_locking)},
    {OSSL_FUNC_RAND_LOCK, FN(wrand_lock)},
    {OSSL_FUNC_RAND_UNLOCK, FN(wrand_unlock)},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, FN(wrand_gettable_ctx_params)},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, FN(wrand_get_ctx_params)},
    {OSSL_FUNC_RAND_VERIFY_ZEROIZATION, FN(wrand_verify_zeroization)},
    {0, NULL},
};

#define PROVIDER_NAME "weir-rand"
#define RAND_NAME "WEIR-RAND"

static const OSSL_ALGORITHM rands[] = {
    {RAND_NAME, "provider=" PROVIDER_NAME, wrand_functions,
     "the system's generator, or a seeded stream in a simulation"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *provider_query(void *provctx, int operation, int *no_cache) {
    (void)provctx;
    *no_cache = 0;
    return operation == OSSL_OP_RAND ? rands : NULL;
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, FN(provider_query)},
    {0, NULL},
};

static int provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                         const OSSL_DISPATCH **out, void **provctx) {
    (void)in;
    *out = provider_functions;
    *provctx = (void *)handle;
    return 1;
}

int weir__tls_rand_install(OSSL_LIB_CTX *libctx) {
    if (!OSSL_PROVIDER_add_builtin(libctx, PROVIDER_NAME, provider_init)) return 0;
    /* Loaded providers belong to the library context and go with it. */
    if (!OSSL_PROVIDER_load(libctx, PROVIDER_NAME)) return 0;
    /* Before anything in libctx has drawn a byte, so all three generators are ours. */
    return RAND_set_DRBG_type(libctx, RAND_NAME, "provider=" PROVIDER_NAME, NULL, NULL);
}
