/* weir/loop.h - the event loop, its clock, callbacks and timers.
 *
 * A loop runs tasks (see weir/task.h) and callbacks on one thread. Ready work runs in FIFO
 * order; timers fire in (deadline, creation order). What the loop waits on between ticks
 * (sockets, a virtual clock, a fuzz input) is its backend's business: the calls here are the
 * same on every backend. */
#ifndef WEIR_LOOP_H
#define WEIR_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Times are nanoseconds on the loop's clock (virtual or monotonic). */
#define WEIR_NS ((int64_t)1)
#define WEIR_US ((int64_t)1000)
#define WEIR_MS ((int64_t)1000000)
#define WEIR_SEC ((int64_t)1000000000)
/* "No deadline": later than any time the clock reaches. */
#define WEIR_FOREVER INT64_MAX

typedef struct weir_loop weir_loop;

/* A timer: storage owned by the caller (embed it in your own struct), managed by the loop
 * while armed. Fields are private; zero-initialise it before first use. */
typedef struct weir_timer weir_timer;
typedef void (*weir_timer_fn)(weir_timer *timer, void *arg);
struct weir_timer {
    int64_t when;      /* private */
    uint64_t seq;      /* private: creation order, breaks ties */
    size_t heap_index; /* private: 0 when not armed */
    weir_timer_fn fn;  /* private */
    void *arg;         /* private */
};

/* The backend interface: what a loop needs from the world. The in-memory backend below is
 * the reference; sim/ and net/ provide others. All calls are made on the loop's thread. */
typedef struct weir_backend_ops {
    const char *name;
    /* The current time in ns. Must never go backwards. */
    int64_t (*now)(void *impl);
    /* Nothing is runnable. Wait for outside events until `deadline` (the next timer, or
     * WEIR_FOREVER when none is armed), delivering what arrives through the loop's calls.
     * Return 1 if something may have become runnable or time advanced, 0 if nothing can
     * ever happen again (the loop is idle), or a negative error code. */
    int (*wait)(void *impl, weir_loop *loop, int64_t deadline);
    /* Release the backend; called by weir_loop_free(). May be NULL. */
    void (*free)(void *impl);
    /* Optional. A random 64-bit number for weir_random(): the simulator draws it from its
     * seeded decision stream. NULL: the loop's own generator (seeded with 0) is used. */
    uint64_t (*random)(void *impl);
    /* Optional. Networking (weir/net.h): NULL when the backend has none (WEIR_ENOTSUP). */
    const struct weir_net_ops *net;
    /* true: also call wait(now), which must not block, on every iteration that has ready
     * work, so tasks that keep yielding cannot starve I/O (asyncio polls with a zero timeout
     * on every iteration). For backends with outside events; the virtual ones leave it. */
    bool poll_when_busy;
} weir_backend_ops;

/* A loop on a backend. `impl` is handed back to every backend call. */
int weir_loop_new(const weir_backend_ops *ops, void *impl, weir_loop **out);

/* A loop on the in-memory backend: a virtual clock starting at 0 that only moves when no task
 * is runnable, and then jumps straight to the next timer. Deterministic. */
int weir_loop_new_virtual(weir_loop **out);

/* Cancels every task still alive, runs the loop until they have returned (blocking calls fail
 * with WEIR_ECANCELED, so they unwind), then frees the loop and its backend. Tasks that keep
 * blocking after cancellation are freed without finishing. NULL is a no-op. */
void weir_loop_free(weir_loop *loop);

/* Run until nothing is runnable, no timer is armed and the backend reports idle.
 * 0 when everything finished; WEIR_EDEADLOCK when tasks are still blocked with nothing left
 * that could wake them (they stay blocked; weir_loop_free() cancels them); or a backend
 * error. */
int weir_loop_run(weir_loop *loop);

/* Run ready work until nothing is runnable, without advancing time or waiting on the
 * backend. Returns the number of tasks and callbacks run. */
size_t weir_loop_run_ready(weir_loop *loop);

/* Like weir_loop_run, but stop once the clock would pass `deadline`: timers due at or before
 * it fire, and the clock ends at `deadline` if the backend lets it (the virtual one does).
 * 0 or WEIR_EDEADLOCK/backend error as for weir_loop_run. */
int weir_loop_run_until(weir_loop *loop, int64_t deadline);

/* Make weir_loop_run* return after the current iteration (asyncio's loop.stop()). */
void weir_loop_stop(weir_loop *loop);

/* Bound the number of tasks and callbacks one weir_loop_run* call may run: past it the call
 * returns WEIR_ESTALL (a livelock guard for simulations). 0 = no bound. */
void weir_loop_set_step_limit(weir_loop *loop, uint64_t steps);
/* Tasks and callbacks run so far by this loop. */
uint64_t weir_loop_steps(const weir_loop *loop);

/* The loop's clock, in ns. */
int64_t weir_loop_now(const weir_loop *loop);

/* Number of tasks spawned on this loop that have not finished. */
size_t weir_loop_live_tasks(const weir_loop *loop);

/* A deterministic random number for the running task's loop (the simulator's decision
 * stream on a simulator loop); outside a task, from a generator seeded with 0. */
uint64_t weir_random(void);
uint64_t weir_loop_random(weir_loop *loop);

/* Run fn(arg) once, soon, in FIFO order with ready tasks. WEIR_ENOMEM or 0. */
int weir_call_soon(weir_loop *loop, void (*fn)(void *arg), void *arg);

/* Arm `timer` to call fn(timer, arg) at `when` (absolute ns on the loop's clock; a time in
 * the past fires on the next tick). Re-arming an armed timer moves it (and gives it a new
 * place in the creation order). */
void weir_timer_start(weir_loop *loop, weir_timer *timer, int64_t when, weir_timer_fn fn,
                      void *arg);
/* Disarm; a no-op when the timer is not armed. */
void weir_timer_stop(weir_loop *loop, weir_timer *timer);
static inline bool weir_timer_armed(const weir_timer *timer) { return timer->heap_index != 0; }

#ifdef __cplusplus
}
#endif
#endif
