/* core/internal.h - what core's files share with each other and with sim/, net/ and runner/.
 * Not installed; the weir__ prefix marks it as internal. */
#ifndef WEIR_CORE_INTERNAL_H
#define WEIR_CORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

/* A place one task waits. The waiting task calls weir__wait(); whoever has what it waits
 * for calls weir__wake() with the result the wait returns (0 or an error code). A deadline
 * or cancellation also ends the wait (WEIR_ETIMEDOUT / WEIR_ECANCELED); after any wake,
 * w->task is NULL, so a second wake is a no-op. */
typedef struct weir__waiter {
    weir_task *task; /* the task waiting here, NULL when none */
    int result;
    const char *what; /* what the task waits for ("readuntil", "drain"), for stall reports */
} weir__waiter;

/* Block the running task on w. Returns at once with WEIR_ECANCELED if the task is
 * cancelled, WEIR_ETIMEDOUT if its deadline has passed, WEIR_ENOTASK outside a task. */
int weir__wait(weir__waiter *w);
/* Make the task waiting on w runnable (FIFO), with `result`. No-op if nobody waits. */
void weir__wake(weir__waiter *w, int result);

/* Data a backend attaches to a task (the simulator: the host it runs on). A task spawned
 * from another task inherits its parent's. */
void *weir__task_data(const weir_task *t);
void weir__task_set_data(weir_task *t, void *data);

/* Call fn for every task of the loop that is blocked, in spawn order, with what it waits
 * for and since when. Returns how many there are. */
typedef void (*weir__blocked_fn)(void *arg, weir_task *t, const char *what, int64_t since);
size_t weir__loop_blocked(weir_loop *loop, weir__blocked_fn fn, void *arg);

/* The backend's impl if the loop runs on `ops`, else NULL (how a backend finds itself). */
void *weir__loop_impl(const weir_loop *loop, const weir_backend_ops *ops);
/* The network half of the loop's backend and the impl to hand to it, or NULL when the
 * backend has none (callers report WEIR_ENOTSUP). */
const struct weir_net_ops *weir__loop_net(weir_loop *loop, void **impl);

/* The loop's monotonic sequence: creation order for timers and anything else that must
 * break ties deterministically. */
uint64_t weir__loop_next_seq(weir_loop *loop);

/* A draw from the backend's own random source (the simulator's decision stream): true and
 * *out, or false when the backend has none, as on real sockets. Whoever needs randomness a
 * simulation must reproduce (the TLS layer) seeds from it; it is never secret. */
bool weir__loop_backend_random(weir_loop *loop, uint64_t *out);

/* --- TLS, as core sees it -------------------------------------------------------------
 * net/tls.c implements TLS with OpenSSL, which core must not see: every weir_tls_ctx
 * begins with a weir__tls_head, and connect.c and server.c call through its hooks. */

typedef struct weir__tls_params {
    const char *server_hostname; /* client: SNI and the name to verify; NULL = none */
    int64_t handshake_timeout;   /* ns; 0 = 60 s */
    int64_t shutdown_timeout;    /* ns; 0 = 30 s */
} weir__tls_params;

typedef struct weir__tls_hooks {
    /* Put w's connection under TLS at once, without blocking: the TLS transport becomes the
     * protocol of the old one and w's transport, and the handshake starts (its timeout
     * runs from now). Call it before any byte can arrive for TLS on the old transport (on
     * accept; or after the plaintext exchange that precedes a STARTTLS). WEIR_EINVAL (a
     * client context that verifies without a server_hostname), WEIR_ENOMEM, or 0. */
    int (*attach)(weir_writer *w, weir_loop *loop, struct weir_tls_ctx *ctx,
                  const weir__tls_params *p);
    /* Block the running task until the handshake of w's attached TLS connection is over:
     * 0, or why it failed (the connection is then closed or closing; free w as usual). */
    int (*handshake)(weir_writer *w);
    /* Reference counting, for a server that keeps a context for its connections. */
    void (*retain)(struct weir_tls_ctx *ctx);
    void (*release)(struct weir_tls_ctx *ctx);
} weir__tls_hooks;

typedef struct weir__tls_head {
    const weir__tls_hooks *hooks;
    bool server; /* a server context (else a client one) */
} weir__tls_head;

static inline const weir__tls_head *weir__tls_head_of(const struct weir_tls_ctx *ctx) {
    return (const weir__tls_head *)(const void *)ctx;
}

#endif
