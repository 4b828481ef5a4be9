/* core/loop.c - the ready queue, the timer heap and the run loop.
 *
 * One iteration works like asyncio's _run_once: fire the timers that are due, then run the
 * handles that were ready when the iteration began (so work made ready by them waits for the
 * next iteration and a task that keeps yielding cannot starve timers). When nothing is
 * ready, the backend waits until the next timer. */
#include <stdlib.h>

#include "core/loop_internal.h"
#include "core/rng.h"

int weir_loop_new(const weir_backend_ops *ops, void *impl, weir_loop **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    if (!ops || !ops->now || !ops->wait) return WEIR_EINVAL;
    weir_loop *loop = calloc(1, sizeof *loop);
    if (!loop) return WEIR_ENOMEM;
    loop->ops = ops;
    loop->impl = impl;
    *out = loop;
    return WEIR_OK;
}

uint64_t weir__loop_next_seq(weir_loop *loop) { return ++loop->seq; }

void *weir__loop_impl(const weir_loop *loop, const weir_backend_ops *ops) {
    return loop && loop->ops == ops ? loop->impl : NULL;
}

const weir_net_ops *weir__loop_net(weir_loop *loop, void **impl) {
    if (impl) *impl = NULL;
    if (!loop || !loop->ops->net) return NULL;
    if (impl) *impl = loop->impl;
    return loop->ops->net;
}

int64_t weir_loop_now(const weir_loop *loop) { return loop->ops->now(loop->impl); }

size_t weir_loop_live_tasks(const weir_loop *loop) { return loop->live; }

void weir__loop_push_ready(weir_loop *loop, weir__handle *h) {
    h->next = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next = h;
    else
        loop->ready_head = h;
    loop->ready_tail = h;
    loop->nready++;
}

static weir__handle *pop_ready(weir_loop *loop) {
    weir__handle *h = loop->ready_head;
    if (!h) return NULL;
    loop->ready_head = h->next;
    if (!loop->ready_head) loop->ready_tail = NULL;
    loop->nready--;
    return h;
}

/* call_soon: a heap-allocated handle that frees itself after running. */
typedef struct soon {
    weir__handle h;
    void (*fn)(void *);
    void *arg;
} soon;

static void soon_run(weir__handle *h) {
    soon *s = (soon *)h;
    void (*fn)(void *) = s->fn;
    void *arg = s->arg;
    free(s);
    fn(arg);
}

int weir_call_soon(weir_loop *loop, void (*fn)(void *arg), void *arg) {
    if (!loop || !fn) return WEIR_EINVAL;
    soon *s = malloc(sizeof *s);
    if (!s) return WEIR_ENOMEM;
    s->h.run = soon_run;
    s->fn = fn;
    s->arg = arg;
    weir__loop_push_ready(loop, &s->h);
    return WEIR_OK;
}

/* --- timers ------------------------------------------------------------------------ */

/* A 4-ary min-heap of (when, seq) keys, each beside its timer's pointer: sifting compares
 * keys in one array and never dereferences a timer, and a timer is written to (its
 * heap_index, the position + 1, so 0 means "not armed") only when it moves. Four children a
 * node halves the depth of a binary heap, so a sift moves half as many timers; the four
 * keys it compares are adjacent. Keys are unique (seq is), so timers fire in the same order
 * whatever shape the heap has. bench/sim_core measures it. */
#define ARITY 4

static inline bool key_before(const weir__heap_entry *a, const weir__heap_entry *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void heap_put(weir__heap_entry *heap, size_t i, weir__heap_entry e) {
    heap[i] = e;
    e.timer->heap_index = i + 1;
}

/* Place e at hole i, moving parents down while e comes before them. */
static void sift_up(weir__heap_entry *heap, size_t i, weir__heap_entry e) {
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!key_before(&e, &heap[parent])) break;
        heap_put(heap, i, heap[parent]);
        i = parent;
    }
    heap_put(heap, i, e);
}

/* The earliest of the children heap[first .. end). */
static inline size_t earliest_child(const weir__heap_entry *heap, size_t first, size_t end) {
    if (end - first == ARITY) {
        /* A full node, the common case: a two-round tournament. */
        size_t a = key_before(&heap[first + 1], &heap[first]) ? first + 1 : first;
        size_t b = key_before(&heap[first + 3], &heap[first + 2]) ? first + 3 : first + 2;
        return key_before(&heap[b], &heap[a]) ? b : a;
    }
    size_t best = first;
    for (size_t c = first + 1; c < end; c++)
        if (key_before(&heap[c], &heap[best])) best = c;
    return best;
}

/* Place e at hole i, moving the earliest child up while it comes before e. */
static void sift_down(weir__heap_entry *heap, size_t len, size_t i, weir__heap_entry e) {
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= len) break;
        size_t best = earliest_child(heap, first, first + ARITY < len ? first + ARITY : len);
        if (!key_before(&heap[best], &e)) break;
        heap_put(heap, i, heap[best]);
        i = best;
    }
    heap_put(heap, i, e);
}

/* Put e at hole i (which it may not keep): up if it comes before the parent, else down. */
static void heap_fix(weir_loop *loop, size_t i, weir__heap_entry e) {
    if (i > 0 && key_before(&e, &loop->heap[(i - 1) / ARITY]))
        sift_up(loop->heap, i, e);
    else
        sift_down(loop->heap, loop->heap_len, i, e);
}

/* Take the entry at i out of the heap. */
static void heap_remove(weir_loop *loop, size_t i) {
    weir__heap_entry last = loop->heap[--loop->heap_len];
    loop->heap[i].timer->heap_index = 0;
    if (i < loop->heap_len) heap_fix(loop, i, last);
}

/* While a fired timer's callback runs, the root slot it came from is left empty
 * (root_vacant). The callback usually arms a timer (a simulated link re-arms for its next
 * segment), and that entry then goes straight into the empty root and sinks from there:
 * one sift instead of the last entry sinking from the root and the new one rising from the
 * bottom. Any other heap operation first fills the slot the ordinary way. */
static void fill_root(weir_loop *loop) {
    loop->root_vacant = false;
    weir__heap_entry last = loop->heap[--loop->heap_len];
    if (loop->heap_len > 0) sift_down(loop->heap, loop->heap_len, 0, last);
}

void weir_timer_stop(weir_loop *loop, weir_timer *timer) {
    if (!loop || !timer || timer->heap_index == 0) return;
    if (loop->root_vacant) fill_root(loop); /* may move the timer: read its index after */
    heap_remove(loop, timer->heap_index - 1);
}

void weir_timer_start(weir_loop *loop, weir_timer *timer, int64_t when, weir_timer_fn fn,
                      void *arg) {
    if (!loop || !timer || !fn) return;
    timer->when = when;
    timer->seq = ++loop->seq;
    timer->fn = fn;
    timer->arg = arg;
    weir__heap_entry e = {when, timer->seq, timer};
    if (timer->heap_index) {
        /* Re-armed while armed: move it from where it is (cheaper than out and back in). */
        if (loop->root_vacant) fill_root(loop);
        heap_fix(loop, timer->heap_index - 1, e);
        return;
    }
    if (loop->root_vacant) {
        loop->root_vacant = false;
        sift_down(loop->heap, loop->heap_len, 0, e);
        return;
    }
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        weir__heap_entry *heap = realloc(loop->heap, cap * sizeof *heap);
        /* Out of memory for the heap: nothing sane can continue without this timer. */
        if (!heap) abort();
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    sift_up(loop->heap, loop->heap_len++, e);
}

static int64_t next_timer(const weir_loop *loop) {
    return loop->heap_len ? loop->heap[0].when : WEIR_FOREVER;
}

/* Fire every timer due at or before now, in (when, seq) order. Only timers armed before the
 * pass began: one armed (or re-armed) by a callback, even for a time already past, waits for
 * the next iteration, as asyncio's call_at does, so a timer that re-arms itself at `now`
 * cannot starve everything else. Fired timers count as steps. */
static size_t fire_due_timers(weir_loop *loop) {
    size_t n = 0;
    if (!loop->heap_len) return 0;
    int64_t now = weir_loop_now(loop);
    uint64_t armed_before = loop->seq;
    while (loop->heap_len && loop->heap[0].when <= now && loop->heap[0].seq <= armed_before) {
        weir_timer *t = loop->heap[0].timer;
        t->heap_index = 0;
        loop->root_vacant = true;
        loop->steps++;
        t->fn(t, t->arg);
        if (loop->root_vacant) fill_root(loop);
        n++;
    }
    return n;
}

/* One iteration: due timers, then the handles ready when it began. */
static size_t run_once(weir_loop *loop) {
    size_t n = fire_due_timers(loop);
    for (size_t todo = loop->nready; todo > 0; todo--) {
        weir__handle *h = pop_ready(loop);
        if (!h) break;
        loop->steps++;
        h->run(h);
        n++;
    }
    return n;
}

void weir_loop_stop(weir_loop *loop) {
    if (loop) loop->stop = true;
}

void weir_loop_set_step_limit(weir_loop *loop, uint64_t steps) {
    if (loop) loop->step_limit = steps;
}

uint64_t weir_loop_steps(const weir_loop *loop) { return loop ? loop->steps : 0; }

static bool over_step_limit(const weir_loop *loop) {
    return loop->step_limit && loop->steps - loop->step_base > loop->step_limit;
}

size_t weir_loop_run_ready(weir_loop *loop) {
    if (!loop || loop->running || weir_task_current()) return 0;
    loop->running = true;
    loop->stop = false;
    loop->step_base = loop->steps;
    size_t total = 0, n;
    while (!loop->stop && !over_step_limit(loop) && (n = run_once(loop)) > 0) total += n;
    loop->running = false;
    return total;
}

static int run(weir_loop *loop, int64_t limit) {
    if (!loop) return WEIR_EINVAL;
    if (loop->running || weir_task_current()) return WEIR_ESTATE;
    loop->running = true;
    loop->stop = false;
    loop->step_base = loop->steps;
    int rc = WEIR_OK;
    for (;;) {
        run_once(loop);
        if (loop->stop) break;
        if (over_step_limit(loop)) {
            rc = WEIR_ESTALL;
            break;
        }
        if (loop->nready) {
            if (loop->ops->poll_when_busy) {
                int w = loop->ops->wait(loop->impl, loop, weir_loop_now(loop));
                if (w < 0) {
                    rc = w;
                    break;
                }
            }
            continue;
        }
        int64_t now = weir_loop_now(loop);
        int64_t next = next_timer(loop);
        if (next <= now) continue;
        if (now >= limit) break;
        int w = loop->ops->wait(loop->impl, loop, next < limit ? next : limit);
        if (w < 0) {
            rc = w;
            break;
        }
        /* Idle: nothing can ever happen again. A timer at WEIR_FOREVER never fires. */
        if (w == 0 && !loop->nready && (!loop->heap_len || next_timer(loop) == WEIR_FOREVER)) {
            if (loop->live) rc = WEIR_EDEADLOCK;
            break;
        }
    }
    loop->running = false;
    return rc;
}

int weir_loop_run(weir_loop *loop) { return run(loop, WEIR_FOREVER); }

int weir_loop_run_until(weir_loop *loop, int64_t deadline) { return run(loop, deadline); }

void weir_loop_free(weir_loop *loop) {
    if (!loop) return;
    loop->closing = true;
    /* Cancel every live task and give them a bounded number of iterations to unwind: their
     * blocking calls now fail at once, so well-behaved tasks return quickly. */
    weir__tasks_cancel_all(loop);
    for (int i = 0; i < 1000 && (loop->nready || loop->heap_len); i++) {
        if (!run_once(loop) && !loop->nready) break;
    }
    /* Drop what is still queued: callbacks are freed, task handles belong to their tasks. */
    weir__handle *h;
    while ((h = pop_ready(loop)) != NULL)
        if (h->run == soon_run) free(h);
    weir__tasks_free_all(loop);
    free(loop->heap);
    if (loop->ops->free) loop->ops->free(loop->impl);
    free(loop);
}

/* --- deterministic randomness ------------------------------------------------------ */

/* splitmix64: the loop's fallback generator when the backend has no decision stream. */
uint64_t weir_loop_random(weir_loop *loop) {
    if (loop && loop->ops->random) return loop->ops->random(loop->impl);
    static _Thread_local uint64_t outside;
    return weir__splitmix64(loop ? &loop->rng : &outside);
}

uint64_t weir_random(void) { return weir_loop_random(weir_current_loop()); }

bool weir__loop_backend_random(weir_loop *loop, uint64_t *out) {
    if (!loop || !loop->ops->random) return false;
    *out = loop->ops->random(loop->impl);
    return true;
}
