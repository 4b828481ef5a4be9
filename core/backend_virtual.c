/* core/backend_virtual.c - the in-memory backend: a virtual clock and nothing else.
 *
 * Time stands still while anything is runnable; when nothing is, the clock jumps to the next
 * timer. With no timer armed nothing can ever happen again, so the loop is idle. Runs are
 * therefore deterministic and take no wall-clock time. */
#include <stdlib.h>

#include "core/internal.h"

typedef struct vclock {
    int64_t now;
} vclock;

static int64_t vclock_now(void *impl) { return ((vclock *)impl)->now; }

static int vclock_wait(void *impl, weir_loop *loop, int64_t deadline) {
    (void)loop;
    vclock *c = impl;
    if (deadline == WEIR_FOREVER) return 0;
    if (deadline > c->now) c->now = deadline;
    return 1;
}

static void vclock_free(void *impl) { free(impl); }

static const weir_backend_ops vclock_ops = {
    .name = "virtual",
    .now = vclock_now,
    .wait = vclock_wait,
    .free = vclock_free,
};

int weir_loop_new_virtual(weir_loop **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    vclock *c = calloc(1, sizeof *c);
    if (!c) return WEIR_ENOMEM;
    int rc = weir_loop_new(&vclock_ops, c, out);
    if (rc) free(c);
    return rc;
}
