/* tests/unit/tls_util.h - what the TLS tests share (test_tls.c on real sockets,
 * test_tls_sim.c over the simulator): the certificates of tests/certs.sh in a fresh
 * temporary directory, contexts that bail out when they cannot be made, and text helpers.
 * Included by one test file each, so everything here is static. */
#ifndef WEIR_TESTS_TLS_UTIL_H
#define WEIR_TESTS_TLS_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir/tls.h"

/* --- certificates ------------------------------------------------------------------- */

static char certdir[64];

/* The path of a file of tests/certs.sh's (one of a few rotating buffers). */
static inline const char *cert(const char *name) {
    static char bufs[8][128];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", certdir, name);
    return b;
}

/* 0 when the certificates are there; otherwise the TAP skip line is printed. */
static inline int make_certs(void) {
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP openssl CLI missing\n");
        return 1;
    }
    if (access("tests/certs.sh", X_OK) != 0) {
        printf("1..0 # SKIP tests/certs.sh not found (run from the repository root)\n");
        return 1;
    }
    snprintf(certdir, sizeof certdir, "/tmp/weir-tls-XXXXXX");
    if (!mkdtemp(certdir)) {
        printf("1..0 # SKIP cannot make a temporary directory\n");
        return 1;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/certs.sh %s", certdir);
    if (system(cmd) != 0) {
        printf("Bail out! tests/certs.sh failed\n");
        exit(1);
    }
    return 0;
}

static inline void remove_certs(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", certdir);
}

/* --- contexts that must work --------------------------------------------------------- */

static inline weir_tls_ctx *new_server_ctx(const weir_tls_server_opts *o) {
    weir_tls_ctx *ctx = NULL;
    if (weir_tls_server_ctx_new(o, &ctx)) {
        printf("Bail out! server ctx: %s\n", weir_tls_last_error());
        exit(1);
    }
    return ctx;
}

static inline weir_tls_ctx *new_client_ctx(const weir_tls_client_opts *o) {
    weir_tls_ctx *ctx = NULL;
    if (weir_tls_client_ctx_new(o, &ctx)) {
        printf("Bail out! client ctx: %s\n", weir_tls_last_error());
        exit(1);
    }
    return ctx;
}

/* --- text ---------------------------------------------------------------------------- */

/* s with its newlines written as \n, for test names (one of a few rotating buffers). */
static inline const char *shown(const char *s) {
    static char bufs[4][128];
    static int next;
    char *b = bufs[next++ % 4];
    size_t j = 0;
    for (; *s && j + 3 < sizeof bufs[0]; s++) {
        if (*s == '\n') {
            b[j++] = '\\';
            b[j++] = 'n';
        } else {
            b[j++] = *s;
        }
    }
    b[j] = '\0';
    return b;
}

static inline bool contains(const char *hay, const char *needle) {
    return hay && strstr(hay, needle) != NULL;
}

#endif
