/* weir/task.h - stackful tasks: code that reads like blocking code.
 *
 * A task runs a function on its own stack. When it makes a blocking call (a read that must
 * wait, drain, sleep, join) it is suspended and the loop runs other work; when the call can
 * complete, the task is resumed where it left off. Only one task runs at a time.
 *
 * Cancellation and deadlines, as in libdill: a blocking call returns WEIR_ECANCELED once the
 * task has been cancelled (and every later blocking call does too, so cleanup code that
 * blocks fails fast), and WEIR_ETIMEDOUT once the task's deadline has passed. */
#ifndef WEIR_TASK_H
#define WEIR_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_task weir_task;
typedef int (*weir_task_fn)(void *arg);

typedef struct weir_task_opts {
    size_t stack_size; /* bytes, 0 = default (256 KiB); rounded up to whole pages */
    const char *name;  /* for diagnostics; copied; may be NULL */
} weir_task_opts;

/* Create a task that will run fn(arg) on `loop` (it starts when the loop runs it, in FIFO
 * order). opts may be NULL. *out receives a handle the caller must later pass to
 * weir_join() or weir_task_detach(); on failure it is set to NULL. 0; WEIR_EINVAL (a NULL
 * loop, fn or out, or a stack size over 1 TiB); WEIR_ESTATE (the loop is being freed: a task
 * unwinding inside weir_loop_free cannot start another); WEIR_ENOMEM. */
int weir_spawn(weir_loop *loop, weir_task_fn fn, void *arg, const weir_task_opts *opts,
               weir_task **out);

/* Wait for t to finish, store its return value in *result (may be NULL) and free t.
 * Inside a task this blocks (and may fail with WEIR_ECANCELED/WEIR_ETIMEDOUT, leaving t
 * alive and still to be joined). Outside any task it only succeeds when t has finished;
 * otherwise it returns WEIR_EAGAIN and t is left alone. Other errors, each leaving t alone:
 * WEIR_EINVAL (t is NULL, or, inside a task, t was detached and still runs: it is nobody's
 * to join, and once it finishes it is freed, so its handle must not be used at all),
 * WEIR_EBUSY (another task already waits to join t), WEIR_EDEADLOCK (t is the caller). */
int weir_join(weir_task *t, int *result);

/* Free t automatically when it finishes (now, if it already has). */
void weir_task_detach(weir_task *t);

/* Cancel t: its current blocking call (if any) and every later one returns WEIR_ECANCELED.
 * A task cancelled before it starts still runs, with its first blocking call failing. */
void weir_task_cancel(weir_task *t);

bool weir_task_done(const weir_task *t);
bool weir_task_cancelled(const weir_task *t);
const char *weir_task_name(const weir_task *t);

/* The running task, or NULL outside any task. */
weir_task *weir_task_current(void);
/* The loop of the running task, or NULL outside any task. */
weir_loop *weir_current_loop(void);
/* The current loop's clock; 0 outside any task. */
int64_t weir_now(void);

/* Set the running task's deadline (absolute ns, WEIR_FOREVER for none) and return the
 * previous one. A blocking call still waiting when the clock reaches the deadline fails
 * with WEIR_ETIMEDOUT then, after everything else due at that same instant (the deadline is
 * inclusive: data arriving exactly at it is in time). Scopes nest:  int64_t old =
 * weir_deadline_set(weir_now() + 50 * WEIR_MS);
 * ...; weir_deadline_set(old);  Outside a task it does nothing and returns WEIR_FOREVER. */
int64_t weir_deadline_set(int64_t deadline);
int64_t weir_deadline_get(void);

/* Suspend the running task for ns nanoseconds / until the absolute time `when`.
 * 0, WEIR_ECANCELED, WEIR_ETIMEDOUT (the deadline comes first) or WEIR_ENOTASK. */
int weir_sleep(int64_t ns);
int weir_sleep_until(int64_t when);
/* Let every other ready task run once (asyncio.sleep(0)). Same errors as weir_sleep; a
 * yield at the deadline instant itself already fails with WEIR_ETIMEDOUT (the virtual clock
 * does not move while a task keeps yielding, so a yield loop must be able to time out). */
int weir_yield(void);

#ifdef __cplusplus
}
#endif
#endif
