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
    weir_task *task;  /* the task waiting here, NULL when none */
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

#endif
