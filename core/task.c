/* core/task.c - stackful tasks: spawn, switch, wait/wake, cancel, deadlines, join, sleep.
 *
 * Tasks never switch to each other directly: a task runs until it blocks or returns, then
 * switches back to the loop's context (whoever called weir_loop_run*), which picks the next
 * ready handle. Every switch is announced to the sanitizers (ASan's fiber API, TSan's
 * fibers) and stacks are registered with Valgrind, so all three see one coherent stack. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/loop_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEIR_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEIR_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEIR_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define WEIR_TSAN 1
#endif

#ifdef WEIR_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#ifdef WEIR_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define WEIR_VALGRIND 1
#endif
#endif

#define DEFAULT_STACK (256 * 1024)

typedef enum { TASK_NEW, TASK_READY, TASK_RUNNING, TASK_BLOCKED, TASK_DONE } task_state;

struct weir_task {
    weir__handle handle; /* the task's place in the ready queue */
    weir__ctx ctx;
    weir_loop *loop;
    weir_task *prev, *next; /* the loop's list of tasks */
    weir_task_fn fn;
    void *arg;
    int result;
    task_state state;
    bool cancelled;
    bool detached;
    int64_t deadline;
    weir_timer deadline_timer;
    bool deadline_deferred; /* the deadline timer fired once and re-armed itself */
    weir__waiter *waiting;  /* what the task is blocked on, while blocked */
    weir__waiter joiner;    /* a task waiting in weir_join */
    int64_t blocked_since;  /* when the current wait began */
    void *data;             /* the backend's (weir__task_data) */
    char *name;
    void *map; /* the whole mapping: guard page + stack */
    size_t map_size;
    void *stack; /* usable stack, above the guard page */
    size_t stack_size;
#ifdef WEIR_ASAN
    void *fake_stack;
#endif
#ifdef WEIR_TSAN
    void *tsan_fiber;
#endif
#ifdef WEIR_VALGRIND
    unsigned vg_stack_id;
#endif
};

/* The running task, and what the sanitizers need to know about the loop's own stack. */
static _Thread_local weir_task *current;
#ifdef WEIR_ASAN
static _Thread_local const void *sched_stack_bottom;
static _Thread_local size_t sched_stack_size;
#endif
#ifdef WEIR_TSAN
static _Thread_local void *sched_tsan_fiber;
#endif

weir_task *weir_task_current(void) { return current; }
weir_loop *weir_current_loop(void) { return current ? current->loop : NULL; }
int64_t weir_now(void) { return current ? weir_loop_now(current->loop) : 0; }

/* --- switching --------------------------------------------------------------------- */

/* Loop context -> task t. Returns when t blocks or finishes. */
static void switch_into(weir_task *t) {
    weir_loop *loop = t->loop;
    current = t;
    t->state = TASK_RUNNING;
#ifdef WEIR_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, t->stack, t->stack_size);
#endif
#ifdef WEIR_TSAN
    sched_tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    weir__ctx_switch(&loop->sched, &t->ctx);
#ifdef WEIR_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    current = NULL;
}

/* Task -> loop context. `finished`: the task will never run again, so ASan may drop its
 * fake stack. Returns (for a task that is not finished) when the loop resumes it. */
static void switch_out(weir_task *t, bool finished) {
#ifdef WEIR_ASAN
    __sanitizer_start_switch_fiber(finished ? NULL : &t->fake_stack, sched_stack_bottom,
                                   sched_stack_size);
#endif
#ifdef WEIR_TSAN
    __tsan_switch_to_fiber(sched_tsan_fiber, 0);
#endif
    (void)finished;
    weir__ctx_switch(&t->ctx, &t->loop->sched);
#ifdef WEIR_ASAN
    __sanitizer_finish_switch_fiber(t->fake_stack, &sched_stack_bottom, &sched_stack_size);
#endif
}

static void task_free(weir_task *t);

static void task_finish(weir_task *t, int result) {
    weir_loop *loop = t->loop;
    t->result = result;
    t->state = TASK_DONE;
    weir_timer_stop(loop, &t->deadline_timer);
    loop->live--;
    weir__wake(&t->joiner, WEIR_OK);
}

static void task_entry(void *arg) {
    weir_task *t = arg;
#ifdef WEIR_ASAN
    __sanitizer_finish_switch_fiber(NULL, &sched_stack_bottom, &sched_stack_size);
#endif
    task_finish(t, t->fn(t->arg));
    switch_out(t, true);
    abort(); /* a finished task is never resumed */
}

/* The ready-queue entry point of a task. */
static void task_run(weir__handle *h) {
    weir_task *t = (weir_task *)h;
    switch_into(t);
    if (t->state == TASK_DONE && t->detached) task_free(t);
}

static void make_ready(weir_task *t) {
    t->state = TASK_READY;
    weir__loop_push_ready(t->loop, &t->handle);
}

/* --- spawn and free ---------------------------------------------------------------- */

int weir_spawn(weir_loop *loop, weir_task_fn fn, void *arg, const weir_task_opts *opts,
               weir_task **out) {
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    if (!loop || !fn) return WEIR_EINVAL;
    if (loop->closing) return WEIR_ESTATE;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = opts && opts->stack_size ? opts->stack_size : DEFAULT_STACK;
    if (size > ((size_t)1 << 40)) return WEIR_EINVAL;
    size = (size + page - 1) / page * page;

    weir_task *t = calloc(1, sizeof *t);
    if (!t) return WEIR_ENOMEM;
    if (opts && opts->name && !(t->name = strdup(opts->name))) {
        free(t);
        return WEIR_ENOMEM;
    }
    t->map_size = size + page;
    t->map = mmap(NULL, t->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t->map == MAP_FAILED) {
        free(t->name);
        free(t);
        return WEIR_ENOMEM;
    }
    /* The lowest page stays inaccessible: a stack overflow faults instead of corrupting. */
    mprotect(t->map, page, PROT_NONE);
    t->stack = (char *)t->map + page;
    t->stack_size = size;
#ifdef WEIR_VALGRIND
    t->vg_stack_id = VALGRIND_STACK_REGISTER(t->stack, (char *)t->stack + size);
#endif
#ifdef WEIR_TSAN
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    weir__ctx_make(&t->ctx, t->stack, size, task_entry, t);
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    t->deadline = WEIR_FOREVER;
    t->data = current ? current->data : NULL;
    t->handle.run = task_run;
    t->next = loop->tasks;
    if (loop->tasks) loop->tasks->prev = t;
    loop->tasks = t;
    loop->live++;
    make_ready(t);
    *out = t;
    return WEIR_OK;
}

static void task_free(weir_task *t) {
    weir_loop *loop = t->loop;
    weir_timer_stop(loop, &t->deadline_timer);
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
#ifdef WEIR_VALGRIND
    VALGRIND_STACK_DEREGISTER(t->vg_stack_id);
#endif
#ifdef WEIR_TSAN
    __tsan_destroy_fiber(t->tsan_fiber);
#endif
    munmap(t->map, t->map_size);
    free(t->name);
    free(t);
}

void weir__tasks_cancel_all(weir_loop *loop) {
    for (weir_task *t = loop->tasks; t; t = t->next)
        if (t->state != TASK_DONE) weir_task_cancel(t);
}

void weir__tasks_free_all(weir_loop *loop) {
    while (loop->tasks) {
        weir_task *t = loop->tasks;
        if (t->state != TASK_DONE) loop->live--;
        if (t->waiting) t->waiting->task = NULL; /* nobody may wake a freed task */
        task_free(t);
    }
}

/* --- waiting ----------------------------------------------------------------------- */

void weir__wake(weir__waiter *w, int result) {
    if (!w || !w->task) return;
    weir_task *t = w->task;
    w->task = NULL;
    w->result = result;
    t->waiting = NULL;
    make_ready(t);
}

/* A deadline is inclusive: whatever else is due at the same instant (a delivery, a timer
 * armed after the deadline's) comes first. So the first firing re-arms the timer at the same
 * time, which puts it behind every timer already due and the ready work they make (a timer
 * armed during a firing pass waits for the next iteration); the second firing times out. */
static void deadline_fired(weir_timer *timer, void *arg) {
    weir_task *t = arg;
    if (!t->deadline_deferred) {
        t->deadline_deferred = true;
        weir_timer_start(t->loop, timer, t->deadline, deadline_fired, t);
        return;
    }
    weir__wake(t->waiting, WEIR_ETIMEDOUT);
}

/* Suspend until woken; the caller has checked cancellation and the deadline. */
static int block_on(weir_task *t, weir__waiter *w) {
    w->task = t;
    w->result = WEIR_OK;
    t->waiting = w;
    t->state = TASK_BLOCKED;
    t->blocked_since = weir_loop_now(t->loop);
    if (t->deadline != WEIR_FOREVER) {
        t->deadline_deferred = false;
        weir_timer_start(t->loop, &t->deadline_timer, t->deadline, deadline_fired, t);
    }
    switch_out(t, false);
    if (weir_timer_armed(&t->deadline_timer)) weir_timer_stop(t->loop, &t->deadline_timer);
    return w->result;
}

/* Whether the running task may block now. The deadline is inclusive, so a wait that starts
 * at the deadline instant may still be satisfied within it (its deadline timer, armed for
 * now, expires after everything else due then). `at_deadline_too` is for weir_yield: it
 * arms no timer and the virtual clock cannot move while a task keeps yielding, so a yield
 * at the deadline instant already fails, or a task polling with yields would never time out. */
static int may_block(weir_task *t, bool at_deadline_too) {
    if (!t) return WEIR_ENOTASK;
    if (t->cancelled) return WEIR_ECANCELED;
    if (t->deadline != WEIR_FOREVER) {
        int64_t now = weir_loop_now(t->loop);
        if (t->deadline < now || (at_deadline_too && t->deadline == now)) return WEIR_ETIMEDOUT;
    }
    return WEIR_OK;
}

int weir__wait(weir__waiter *w) {
    weir_task *t = current;
    int rc = may_block(t, false);
    if (rc) return rc;
    return block_on(t, w);
}

/* --- cancellation, deadlines ------------------------------------------------------- */

void weir_task_cancel(weir_task *t) {
    if (!t || t->state == TASK_DONE) return;
    t->cancelled = true;
    if (t->waiting) weir__wake(t->waiting, WEIR_ECANCELED);
}

bool weir_task_done(const weir_task *t) { return t && t->state == TASK_DONE; }
bool weir_task_cancelled(const weir_task *t) { return t && t->cancelled; }
const char *weir_task_name(const weir_task *t) { return t && t->name ? t->name : ""; }

int64_t weir_deadline_set(int64_t deadline) {
    if (!current) return WEIR_FOREVER;
    int64_t old = current->deadline;
    current->deadline = deadline;
    return old;
}

int64_t weir_deadline_get(void) { return current ? current->deadline : WEIR_FOREVER; }

/* --- sleep, yield, join ------------------------------------------------------------ */

static void sleep_fired(weir_timer *timer, void *arg) {
    (void)timer;
    weir__wake(arg, WEIR_OK);
}

int weir_sleep_until(int64_t when) {
    weir_task *t = current;
    int rc = may_block(t, false);
    if (rc) return rc;
    weir__waiter w = {.what = "sleep"};
    weir_timer timer = {0};
    weir_timer_start(t->loop, &timer, when, sleep_fired, &w);
    rc = block_on(t, &w);
    weir_timer_stop(t->loop, &timer);
    return rc;
}

int weir_sleep(int64_t ns) {
    if (!current) return WEIR_ENOTASK;
    if (ns < 0) ns = 0;
    int64_t now = weir_loop_now(current->loop);
    return weir_sleep_until(ns > WEIR_FOREVER - now ? WEIR_FOREVER : now + ns);
}

int weir_yield(void) {
    weir_task *t = current;
    int rc = may_block(t, true);
    if (rc) return rc;
    /* Queue ourselves behind everything already ready, then step aside. */
    weir__waiter w = {.what = "yield"};
    w.task = t;
    t->waiting = &w;
    t->state = TASK_BLOCKED;
    weir__wake(&w, WEIR_OK);
    switch_out(t, false);
    return w.result;
}

int weir_join(weir_task *t, int *result) {
    if (!t) return WEIR_EINVAL;
    if (t == current) return WEIR_EDEADLOCK;
    if (t->state != TASK_DONE) {
        if (!current) return WEIR_EAGAIN;
        if (t->joiner.task) return WEIR_EBUSY;
        if (t->detached) return WEIR_EINVAL;
        t->joiner.what = "join";
        int rc = weir__wait(&t->joiner);
        if (rc) return rc;
    }
    if (result) *result = t->result;
    task_free(t);
    return WEIR_OK;
}

void weir_task_detach(weir_task *t) {
    if (!t) return;
    /* A task that finished is freed now, unless we are on its own stack (it cannot be). */
    if (t->state == TASK_DONE)
        task_free(t);
    else
        t->detached = true;
}

/* --- for backends ------------------------------------------------------------------ */

void *weir__task_data(const weir_task *t) { return t ? t->data : NULL; }
void weir__task_set_data(weir_task *t, void *data) {
    if (t) t->data = data;
}

size_t weir__loop_blocked(weir_loop *loop, weir__blocked_fn fn, void *arg) {
    /* loop->tasks is newest first; report oldest first. */
    weir_task *last = loop->tasks;
    while (last && last->next) last = last->next;
    size_t n = 0;
    for (weir_task *t = last; t; t = t->prev) {
        if (t->state != TASK_BLOCKED || !t->waiting) continue;
        n++;
        if (fn) fn(arg, t, t->waiting->what ? t->waiting->what : "?", t->blocked_since);
    }
    return n;
}
