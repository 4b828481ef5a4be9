/* core/loop_internal.h - the loop's insides, shared by loop.c and task.c only. */
#ifndef WEIR_CORE_LOOP_INTERNAL_H
#define WEIR_CORE_LOOP_INTERNAL_H

#include "core/ctx.h"
#include "core/internal.h"

/* An entry of the ready queue: a task to resume or a callback to run. */
typedef struct weir__handle weir__handle;
struct weir__handle {
    weir__handle *next;
    void (*run)(weir__handle *h);
};

/* A timer in the heap, with its key beside it (core/loop.c). */
typedef struct weir__heap_entry {
    int64_t when;
    uint64_t seq;
    weir_timer *timer;
} weir__heap_entry;

struct weir_loop {
    const weir_backend_ops *ops;
    void *impl;

    weir__handle *ready_head, *ready_tail; /* FIFO */
    size_t nready;

    weir__heap_entry *heap; /* 4-ary min-heap ordered by (when, seq), from heap[0] */
    size_t heap_len, heap_cap;
    bool root_vacant; /* heap[0] is an empty slot (inside a timer callback) */
    uint64_t seq;

    weir_task *tasks; /* every task not yet freed, newest first */
    size_t live;      /* tasks not yet finished */

    weir__ctx sched; /* the context of whoever called weir_loop_run*: tasks return here */
    bool running;
    bool closing;                   /* inside weir_loop_free */
    uint64_t rng;                   /* weir_loop_random state when the backend has none */
    bool stop;                      /* weir_loop_stop */
    uint64_t steps;                 /* handles run */
    uint64_t step_limit, step_base; /* per run call: stall once steps - base > limit */
};

void weir__loop_push_ready(weir_loop *loop, weir__handle *h);
/* task.c, for weir_loop_free: cancel every live task; then free every task. */
void weir__tasks_cancel_all(weir_loop *loop);
void weir__tasks_free_all(weir_loop *loop);

#endif
