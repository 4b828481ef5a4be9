/* tests/unit/test_task.c - stackful tasks: spawn, join, FIFO order, yield, cancel, detach,
 * loop teardown, deep stacks, the guard page, many tasks, bad arguments. All on the virtual
 * backend, so every time checked below is exact. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "tap.h"
#include "virtual_util.h"

/* --- spawn and join with results ------------------------------------------------------ */

static int add_ten(void *arg) { return *(int *)arg + 10; }

static void test_spawn_join(void) {
    weir_loop *loop = new_loop();
    int args[3] = {1, 2, 3};
    weir_task *t[3];
    for (int i = 0; i < 3; i++)
        is_int(weir_spawn(loop, add_ten, &args[i], NULL, &t[i]), 0, "spawn %d", i);
    is_int(weir_loop_live_tasks(loop), 3, "three live tasks before running");
    ok(!weir_task_done(t[0]), "not done before the loop runs");
    is_int(weir_loop_run(loop), 0, "run returns 0 when all tasks finished");
    is_int(weir_loop_live_tasks(loop), 0, "no live tasks after the run");
    for (int i = 0; i < 3; i++) {
        ok(weir_task_done(t[i]), "task %d done", i);
        int r = -1;
        is_int(weir_join(t[i], &r), 0, "join %d outside a task after it finished", i);
        is_int(r, args[i] + 10, "task %d result", i);
    }
    weir_loop_free(loop);
}

static int return_neg(void *arg) {
    (void)arg;
    return WEIR_EUSER - 7;
}

static void test_join_result_null(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, return_neg, NULL, NULL, &t);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(weir_join(t, NULL), 0, "join with a NULL result pointer");
    weir_task *u;
    weir_spawn(loop, return_neg, NULL, NULL, &u);
    weir_loop_run(loop);
    int r = 0;
    is_int(weir_join(u, &r), 0, "join");
    is_int(r, WEIR_EUSER - 7, "a negative return value is passed through, not taken as an error");
    weir_loop_free(loop);
}

/* --- FIFO order of ready tasks -------------------------------------------------------- */

static int say_arg(void *arg) {
    say(arg);
    return 0;
}

static int spawner(void *arg) {
    (void)arg;
    say("a");
    weir_task *d;
    is_int(weir_spawn(weir_current_loop(), say_arg, "d", NULL, &d), 0, "spawn from a task");
    weir_task_detach(d);
    say("a+");
    return 0;
}

static void test_fifo(void) {
    weir_loop *loop = new_loop();
    reset_order();
    const char *names[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};
    for (int i = 0; i < 8; i++) {
        weir_task *t;
        weir_spawn(loop, say_arg, (void *)names[i], NULL, &t);
        weir_task_detach(t);
    }
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "t0 t1 t2 t3 t4 t5 t6 t7", "ready tasks start in spawn order");

    reset_order();
    weir_task *t;
    weir_spawn(loop, spawner, NULL, NULL, &t);
    weir_task_detach(t);
    weir_spawn(loop, say_arg, "b", NULL, &t);
    weir_task_detach(t);
    weir_spawn(loop, say_arg, "c", NULL, &t);
    weir_task_detach(t);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "a a+ b c d", "a task spawned by a task queues behind those already ready");
    is_int(weir_loop_live_tasks(loop), 0, "detached tasks all finished");
    weir_loop_free(loop);
}

/* --- weir_yield interleaving ---------------------------------------------------------- */

static int yield_rcs;

static int yielder(void *arg) {
    const char *name = arg;
    for (int i = 1; i <= 3; i++) {
        char w[16];
        snprintf(w, sizeof w, "%s%d", name, i);
        say(w);
        if (weir_yield() != 0) yield_rcs++;
    }
    return 0;
}

static int say_once(void *arg) {
    say(arg);
    return 0;
}

static void test_yield(void) {
    weir_loop *loop = new_loop();
    reset_order();
    yield_rcs = 0;
    weir_task *a, *b, *c;
    weir_spawn(loop, yielder, "a", NULL, &a);
    weir_spawn(loop, yielder, "b", NULL, &b);
    weir_spawn(loop, yielder, "c", NULL, &c);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "a1 b1 c1 a2 b2 c2 a3 b3 c3", "yield round-robins in FIFO order");
    is_int(yield_rcs, 0, "every yield returned 0");
    is_int(weir_loop_now(loop), 0, "yielding does not advance the clock");
    weir_join(a, NULL);
    weir_join(b, NULL);
    weir_join(c, NULL);

    /* A task that yields lets a task spawned later (but ready) run before it resumes. */
    reset_order();
    weir_spawn(loop, yielder, "y", NULL, &a);
    weir_spawn(loop, say_once, "z", NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "y1 z y2 y3", "yield lets the other ready task run once");
    weir_join(a, NULL);
    weir_join(b, NULL);
    weir_loop_free(loop);
}

/* --- registers survive switches ----------------------------------------------------- */

/* Values live across a switch sit in callee-saved registers or on the stack; several tasks
 * doing this at once with different values catch a switch that loses one. */
__attribute__((noinline)) static long mix(unsigned long seed, int rounds) {
    unsigned long a = seed * 3 + 1, b = seed * 5 + 2, c = seed * 7 + 3, d = seed * 11 + 4;
    unsigned long e = seed * 13 + 5, f = seed * 17 + 6, g = seed * 19 + 7, h = seed * 23 + 8;
    double x = (double)seed * 0.5, y = (double)seed * 0.25;
    for (int i = 0; i < rounds; i++) {
        if (weir_yield() != 0) return -1;
        a += b ^ (unsigned long)i;
        b += c * 3;
        c ^= d + (unsigned long)i;
        d += e;
        e -= f ^ 5;
        f += g;
        g ^= h << 1;
        h += a;
        x = x * 1.5 + y;
        y = y * 0.5 + (double)i;
    }
    return (long)((a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ (unsigned long)x ^ (unsigned long)y) >> 2);
}

static long mix_expected[4], mix_got[4];

static int mixer(void *arg) {
    intptr_t i = (intptr_t)arg;
    mix_got[i] = mix((unsigned long)i * 1000 + 17, 20);
    return 0;
}

static int fp_rc[2];

/* The floating-point control state, as one number: x86-64 MXCSR (low half) and the x87
 * control word (high half); aarch64 FPCR. FP_ROUND_UP(m) is m with rounding set upward. */
#if defined(__x86_64__)
static uint64_t get_fpmode(void) {
    unsigned mxcsr;
    unsigned short cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (uint64_t)mxcsr | (uint64_t)cw << 32;
}
static void set_fpmode(uint64_t m) {
    unsigned mxcsr = (unsigned)m;
    unsigned short cw = (unsigned short)(m >> 32);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}
#define FP_ROUND_UP(m) (((m) & ~(0x6000ull | 0xC00ull << 32)) | 0x4000ull | 0x800ull << 32)
#elif defined(__aarch64__)
static uint64_t get_fpmode(void) {
    uint64_t m;
    __asm__ volatile("mrs %0, fpcr" : "=r"(m));
    return m;
}
static void set_fpmode(uint64_t m) { __asm__ volatile("msr fpcr, %0" : : "r"(m)); }
#define FP_ROUND_UP(m) (((m) & ~(3ull << 22)) | (1ull << 22))
#endif

#ifdef FP_ROUND_UP
/* The floating-point control word (rounding mode) belongs to each task. */
static int fp_changer(void *arg) {
    uint64_t orig = get_fpmode();
    set_fpmode(FP_ROUND_UP(orig));
    weir_yield();
    fp_rc[0] = get_fpmode() == FP_ROUND_UP(orig);
    set_fpmode(orig);
    (void)arg;
    return 0;
}

static int fp_observer(void *arg) {
    uint64_t *outside = arg;
    fp_rc[1] = get_fpmode() == *outside;
    return 0;
}
#endif

/* probe_call(out, base, fn, a0, a1): put base+k in every callee-saved register a switch must
 * keep, call fn(a0, a1) (a switch: other code runs and puts its own values there), then
 * store what the registers hold into out[]. In assembly, so the compiler cannot save the
 * registers for us. */
#if defined(__x86_64__)
#define PROBE_REGS 5 /* rbx r12 r13 r14 r15 (rbp stays a frame pointer for unwinders) */
__asm__(".text\n"
        ".type probe_call, @function\n"
        "probe_call:\n"
        "  pushq %rbx\n  pushq %rbp\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  pushq %rdi\n" /* 7 pushes: the stack is 16-byte aligned for the call */
        "  leaq 1(%rsi), %rbx\n  leaq 2(%rsi), %r12\n  leaq 3(%rsi), %r13\n"
        "  leaq 4(%rsi), %r14\n  leaq 5(%rsi), %r15\n"
        "  movq %rdx, %rax\n  movq %rcx, %rdi\n  movq %r8, %rsi\n"
        "  call *%rax\n"
        "  popq %rdi\n"
        "  movq %rbx, 0(%rdi)\n  movq %r12, 8(%rdi)\n  movq %r13, 16(%rdi)\n"
        "  movq %r14, 24(%rdi)\n  movq %r15, 32(%rdi)\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbp\n  popq %rbx\n"
        "  ret\n"
        ".size probe_call, .-probe_call\n");
#elif defined(__aarch64__)
#define PROBE_REGS 18 /* x19-x28, d8-d15 */
__asm__(".text\n"
        ".type probe_call, %function\n"
        "probe_call:\n"
        "  stp x29, x30, [sp, #-16]!\n  mov x29, sp\n"
        "  stp x19, x20, [sp, #-16]!\n  stp x21, x22, [sp, #-16]!\n"
        "  stp x23, x24, [sp, #-16]!\n  stp x25, x26, [sp, #-16]!\n"
        "  stp x27, x28, [sp, #-16]!\n  stp d8, d9, [sp, #-16]!\n"
        "  stp d10, d11, [sp, #-16]!\n  stp d12, d13, [sp, #-16]!\n"
        "  stp d14, d15, [sp, #-16]!\n  str x0, [sp, #-16]!\n"
        "  add x19, x1, #1\n  add x20, x1, #2\n  add x21, x1, #3\n  add x22, x1, #4\n"
        "  add x23, x1, #5\n  add x24, x1, #6\n  add x25, x1, #7\n  add x26, x1, #8\n"
        "  add x27, x1, #9\n  add x28, x1, #10\n"
        "  add x9, x1, #11\n  fmov d8, x9\n  add x9, x1, #12\n  fmov d9, x9\n"
        "  add x9, x1, #13\n  fmov d10, x9\n  add x9, x1, #14\n  fmov d11, x9\n"
        "  add x9, x1, #15\n  fmov d12, x9\n  add x9, x1, #16\n  fmov d13, x9\n"
        "  add x9, x1, #17\n  fmov d14, x9\n  add x9, x1, #18\n  fmov d15, x9\n"
        "  mov x10, x2\n  mov x0, x3\n  mov x1, x4\n"
        "  blr x10\n"
        "  ldr x0, [sp], #16\n"
        "  stp x19, x20, [x0, #0]\n  stp x21, x22, [x0, #16]\n  stp x23, x24, [x0, #32]\n"
        "  stp x25, x26, [x0, #48]\n  stp x27, x28, [x0, #64]\n"
        "  stp d8, d9, [x0, #80]\n  stp d10, d11, [x0, #96]\n"
        "  stp d12, d13, [x0, #112]\n  stp d14, d15, [x0, #128]\n"
        "  ldp d14, d15, [sp], #16\n  ldp d12, d13, [sp], #16\n  ldp d10, d11, [sp], #16\n"
        "  ldp d8, d9, [sp], #16\n  ldp x27, x28, [sp], #16\n  ldp x25, x26, [sp], #16\n"
        "  ldp x23, x24, [sp], #16\n  ldp x21, x22, [sp], #16\n  ldp x19, x20, [sp], #16\n"
        "  ldp x29, x30, [sp], #16\n"
        "  ret\n"
        ".size probe_call, .-probe_call\n");
#endif

#ifdef PROBE_REGS
void probe_call(uint64_t *out, uint64_t base, void *fn, void *a0, void *a1);

/* How many of out[] differ from what probe_call put there for `base`. */
static int probe_errors(const uint64_t *out, uint64_t base) {
    int bad = 0;
    for (int k = 0; k < PROBE_REGS; k++) bad += out[k] != base + (uint64_t)k + 1;
    return bad;
}

static int probe_bad[4];

/* Through the public API: the registers survive weir_yield. (Functions between the task
 * and the switch may save some registers themselves; test_ctx_direct has none between.) */
static int prober(void *arg) {
    uint64_t base = (uint64_t)(uintptr_t)arg << 32;
    for (int round = 0; round < 3; round++) {
        uint64_t out[PROBE_REGS];
        memset(out, 0, sizeof out);
        probe_call(out, base + (uint64_t)round * 0x100, (void *)weir_yield, NULL, NULL);
        probe_bad[(uintptr_t)arg - 1] += probe_errors(out, base + (uint64_t)round * 0x100);
    }
    return 0;
}
#endif

static void test_registers(void) {
    for (int i = 0; i < 4; i++) mix_expected[i] = -2;
    /* The reference: each mixer run alone first, then all four interleaved. */
    weir_loop *loop = new_loop();
    weir_task *t[4];
    for (intptr_t i = 0; i < 4; i++) {
        weir_spawn(loop, mixer, (void *)i, NULL, &t[i]);
        weir_loop_run(loop); /* alone: nobody else touches the registers in between */
        weir_join(t[i], NULL);
        mix_expected[i] = mix_got[i];
        mix_got[i] = -3;
    }
    for (intptr_t i = 0; i < 4; i++) weir_spawn(loop, mixer, (void *)i, NULL, &t[i]);
    is_int(weir_loop_run(loop), 0, "run four interleaved mixers");
    for (int i = 0; i < 4; i++) {
        weir_join(t[i], NULL);
        ok(mix_got[i] == mix_expected[i] && mix_got[i] != -1,
           "mixer %d: values live across 20 switches survived (%ld vs %ld)", i, mix_got[i],
           mix_expected[i]);
    }
#ifdef PROBE_REGS
    weir_task *p[3];
    memset(probe_bad, 0, sizeof probe_bad);
    for (intptr_t i = 1; i <= 3; i++) weir_spawn(loop, prober, (void *)i, NULL, &p[i - 1]);
    weir_loop_run(loop);
    for (int i = 0; i < 3; i++) {
        weir_join(p[i], NULL);
        is_int(probe_bad[i], 0, "prober %d: all %d callee-saved registers survive each switch", i,
               PROBE_REGS);
    }
#endif
#ifdef FP_ROUND_UP
    uint64_t outside = get_fpmode();
    weir_task *a, *b;
    weir_spawn(loop, fp_changer, NULL, NULL, &a);
    weir_spawn(loop, fp_observer, &outside, NULL, &b);
    weir_loop_run(loop);
    ok(fp_rc[0], "a task's rounding mode survives a switch");
    ok(fp_rc[1], "another task does not inherit it");
    ok(get_fpmode() == outside, "nor does the loop's caller");
    weir_join(a, NULL);
    weir_join(b, NULL);
#endif
    weir_loop_free(loop);
}

/* --- the context switch itself ------------------------------------------------------- */

/* weir__ctx_switch called straight from probe_call, with no C function in between that
 * could save a register the switch loses. Not under ASan: these switches bypass the
 * sanitizer fiber hooks that task.c adds. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif

#if defined(PROBE_REGS) && !defined(TEST_ASAN)
#include "core/ctx.h"

static weir__ctx ctx_main, ctx_child;
static int child_bad, child_rounds, child_misaligned;

static void child_entry(void *arg) {
    (void)arg;
#if defined(__x86_64__)
    /* Entered as if by a call: the frame pointer is 16-byte aligned. */
    child_misaligned = ((uintptr_t)__builtin_frame_address(0) & 15) != 0;
#endif
    for (uint64_t round = 0;; round++) {
        uint64_t out[PROBE_REGS];
        uint64_t base = 0xC0DE000000000000ull + round * 0x100;
        probe_call(out, base, (void *)weir__ctx_switch, &ctx_child, &ctx_main);
        child_bad += probe_errors(out, base);
        child_rounds++;
    }
}

static void test_ctx_direct(void) {
    size_t size = 64 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
        ok(0, "mmap a stack");
        return;
    }
    weir__ctx_make(&ctx_child, stack, size, child_entry, NULL);
    int main_bad = 0;
    for (uint64_t round = 0; round < 4; round++) {
        uint64_t out[PROBE_REGS];
        uint64_t base = 0xAAAA000000000000ull + round * 0x100;
        probe_call(out, base, (void *)weir__ctx_switch, &ctx_main, &ctx_child);
        main_bad += probe_errors(out, base);
    }
    is_int(child_rounds, 3, "four switches into the child, three back to it after the first");
    is_int(main_bad, 0, "%s: every callee-saved register of the caller survives the switch",
           weir__ctx_kind());
    is_int(child_bad, 0, "%s: and every one of the other context", weir__ctx_kind());
    is_int(child_misaligned, 0, "a new context starts with an ABI-aligned stack");
    munmap(stack, size);
}
#else
static void test_ctx_direct(void) {}
#endif

/* --- current task, loop, name, clock -------------------------------------------------- */

static weir_task *seen_current;
static weir_loop *seen_loop;
static const char *seen_name;

static int introspect(void *arg) {
    (void)arg;
    seen_current = weir_task_current();
    seen_loop = weir_current_loop();
    seen_name = weir_task_name(seen_current);
    weir_sleep(3 * WEIR_MS);
    return (int)(weir_now() / WEIR_MS);
}

static void test_introspection(void) {
    ok(weir_task_current() == NULL, "no current task outside tasks");
    ok(weir_current_loop() == NULL, "no current loop outside tasks");
    is_int(weir_now(), 0, "weir_now outside a task is 0");

    weir_loop *loop = new_loop();
    char name[] = "worker-1";
    weir_task_opts opts = {.stack_size = 0, .name = name};
    weir_task *t;
    is_int(weir_spawn(loop, introspect, NULL, &opts, &t), 0, "spawn with a name");
    name[0] = 'X'; /* the name was copied */
    is_str(weir_task_name(t), "worker-1", "weir_task_name returns a copy of the name");
    is_int(weir_loop_run(loop), 0, "run");
    ok(seen_current == t, "weir_task_current inside the task is the task");
    ok(seen_loop == loop, "weir_current_loop inside the task is its loop");
    is_str(seen_name, "worker-1", "name seen from inside the task");
    ok(weir_task_current() == NULL, "no current task after the loop returns");
    int r = 0;
    weir_join(t, &r);
    is_int(r, 3, "weir_now inside the task follows the loop clock");

    weir_task *u;
    weir_spawn(loop, say_once, "", NULL, &u);
    ok(weir_task_name(u) != NULL && weir_task_name(u)[0] == '\0', "no name: empty string");
    weir_loop_run(loop);
    weir_join(u, NULL);
    weir_loop_free(loop);
}

/* --- cancellation --------------------------------------------------------------------- */

static int cancel_rcs[8];
static int64_t cancel_time;

static int long_sleeper(void *arg) {
    (void)arg;
    cancel_rcs[0] = weir_sleep(WEIR_SEC);
    cancel_time = weir_now();
    cancel_rcs[1] = weir_sleep(0);
    cancel_rcs[2] = weir_yield();
    weir__waiter w = {0};
    cancel_rcs[3] = weir__wait(&w);
    cancel_rcs[4] = weir_sleep_until(0);
    cancel_rcs[5] = weir_task_cancelled(weir_task_current());
    return 99;
}

static void test_cancel_blocked_sleep(void) {
    weir_loop *loop = new_loop();
    memset(cancel_rcs, 0, sizeof cancel_rcs);
    weir_task *t;
    weir_spawn(loop, long_sleeper, NULL, NULL, &t);
    is_int(weir_loop_run_ready(loop), 1, "the task ran once and blocked in sleep");
    ok(!weir_task_done(t), "still blocked");
    ok(!weir_task_cancelled(t), "not cancelled yet");
    weir_task_cancel(t);
    ok(weir_task_cancelled(t), "weir_task_cancelled after cancel");
    is_int(weir_loop_run(loop), 0, "run");
    is_int(cancel_rcs[0], WEIR_ECANCELED, "the blocked sleep returns WEIR_ECANCELED");
    is_int(cancel_time, 0, "at once: the clock did not move to the sleep's end");
    is_int(cancel_rcs[1], WEIR_ECANCELED, "a later sleep(0) fails too");
    is_int(cancel_rcs[2], WEIR_ECANCELED, "a later yield fails too");
    is_int(cancel_rcs[3], WEIR_ECANCELED, "a later weir__wait fails too");
    is_int(cancel_rcs[4], WEIR_ECANCELED, "a later sleep_until fails too");
    is_int(cancel_rcs[5], 1, "the task sees itself cancelled");
    is_int(weir_loop_now(loop), 0, "the cancelled sleep's timer is gone (clock stayed at 0)");
    int r = 0;
    is_int(weir_join(t, &r), 0, "join the cancelled task");
    is_int(r, 99, "its return value survives cancellation");
    weir_loop_free(loop);
}

static weir_task *victim;

static int killer(void *arg) {
    (void)arg;
    weir_sleep(5 * WEIR_MS);
    say("kill");
    weir_task_cancel(victim);
    say("killed");
    return 0;
}

static int victim_fn(void *arg) {
    (void)arg;
    int rc = weir_sleep(WEIR_SEC);
    say("victim");
    cancel_rcs[0] = rc;
    cancel_time = weir_now();
    return 0;
}

static void test_cancel_from_task(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *k;
    weir_spawn(loop, victim_fn, NULL, NULL, &victim);
    weir_spawn(loop, killer, NULL, NULL, &k);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(cancel_rcs[0], WEIR_ECANCELED, "sleep cancelled by another task");
    is_int(cancel_time, 5 * WEIR_MS, "woken at the time of the cancel");
    is_str(order, "kill killed victim", "cancel makes the victim ready; the canceller goes on");
    is_int(weir_loop_now(loop), 5 * WEIR_MS, "the victim's 1 s timer was removed");
    weir_join(victim, NULL);
    weir_join(k, NULL);
    weir_loop_free(loop);
}

static int started;

static int cancelled_before_start(void *arg) {
    (void)arg;
    started = 1;
    cancel_rcs[0] = weir_task_cancelled(weir_task_current());
    cancel_rcs[1] = weir_yield();
    cancel_rcs[2] = weir_sleep(WEIR_MS);
    return 5;
}

static void test_cancel_before_start(void) {
    weir_loop *loop = new_loop();
    memset(cancel_rcs, 0, sizeof cancel_rcs);
    started = 0;
    weir_task *t;
    weir_spawn(loop, cancelled_before_start, NULL, NULL, &t);
    weir_task_cancel(t);
    ok(!started, "cancel does not run the task");
    is_int(weir_loop_run(loop), 0, "run");
    ok(started, "a task cancelled before it starts still runs");
    is_int(cancel_rcs[0], 1, "and sees itself cancelled");
    is_int(cancel_rcs[1], WEIR_ECANCELED, "its first blocking call fails");
    is_int(cancel_rcs[2], WEIR_ECANCELED, "and the next");
    is_int(weir_loop_now(loop), 0, "no time passed");
    int r = 0;
    weir_join(t, &r);
    is_int(r, 5, "result");
    weir_loop_free(loop);
}

static void test_cancel_done(void) {
    weir_loop *loop = new_loop();
    int arg = 1;
    weir_task *t;
    weir_spawn(loop, add_ten, &arg, NULL, &t);
    weir_loop_run(loop);
    ok(weir_task_done(t), "done");
    weir_task_cancel(t);
    ok(!weir_task_cancelled(t), "cancelling a finished task is a no-op");
    ok(weir_task_done(t), "still done");
    int r = 0;
    is_int(weir_join(t, &r), 0, "join after the no-op cancel");
    is_int(r, 11, "result unchanged");
    weir_task_cancel(NULL); /* must not crash */
    ok(1, "weir_task_cancel(NULL) is a no-op");
    weir_loop_free(loop);
}

static int cancel_self(void *arg) {
    (void)arg;
    weir_task_cancel(weir_task_current());
    say("after-cancel");
    cancel_rcs[0] = weir_yield();
    return 0;
}

static void test_cancel_self(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t, *u;
    weir_spawn(loop, cancel_self, NULL, NULL, &t);
    weir_spawn(loop, say_once, "other", NULL, &u);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(cancel_rcs[0], WEIR_ECANCELED, "a task that cancels itself fails its next block");
    is_str(order, "after-cancel other", "the failed yield did not switch away");
    weir_join(t, NULL);
    weir_join(u, NULL);
    weir_loop_free(loop);
}

/* A task blocked in weir_join is cancelled: the join fails, the target is untouched. */
static weir_task *join_target;

static int slow_target(void *arg) {
    (void)arg;
    weir_sleep(10 * WEIR_MS);
    return 77;
}

static int joiner_fn(void *arg) {
    (void)arg;
    int r = -1;
    cancel_rcs[0] = weir_join(join_target, &r);
    cancel_rcs[1] = r;
    cancel_time = weir_now();
    return 0;
}

static int cancel_later(void *arg) {
    weir_sleep(2 * WEIR_MS);
    weir_task_cancel(arg);
    return 0;
}

static void test_cancel_join(void) {
    weir_loop *loop = new_loop();
    weir_task *j, *c;
    weir_spawn(loop, slow_target, NULL, NULL, &join_target);
    weir_spawn(loop, joiner_fn, NULL, NULL, &j);
    weir_spawn(loop, cancel_later, j, NULL, &c);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(cancel_rcs[0], WEIR_ECANCELED, "a cancelled join fails with WEIR_ECANCELED");
    is_int(cancel_rcs[1], -1, "and stores no result");
    is_int(cancel_time, 2 * WEIR_MS, "when the cancel happened");
    ok(weir_task_done(join_target), "the target still ran to the end");
    int r = 0;
    is_int(weir_join(join_target, &r), 0, "the target can still be joined");
    is_int(r, 77, "with its result");
    weir_join(j, NULL);
    weir_join(c, NULL);
    weir_loop_free(loop);
}

/* --- join ----------------------------------------------------------------------------- */

static int target_fn(void *arg) {
    (void)arg;
    say("target-start");
    weir_sleep(10 * WEIR_MS);
    say("target-end");
    return 7;
}

static int join_rc, join_res;
static int64_t join_time;

static int join_it(void *arg) {
    say("join-start");
    join_res = -1;
    join_rc = weir_join(arg, &join_res);
    join_time = weir_now();
    say("join-end");
    return 0;
}

static int ticker(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++) {
        weir_sleep(3 * WEIR_MS);
        say("tick");
    }
    return 0;
}

static void test_join_blocks(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t, *j, *k;
    weir_spawn(loop, target_fn, NULL, NULL, &t);
    weir_spawn(loop, join_it, t, NULL, &j);
    weir_spawn(loop, ticker, NULL, NULL, &k);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(join_rc, 0, "join from a task returns 0");
    is_int(join_res, 7, "with the target's result");
    is_int(join_time, 10 * WEIR_MS, "once the target finished");
    is_str(order, "target-start join-start tick tick tick target-end join-end",
           "the joiner blocked while other tasks ran");
    weir_join(j, NULL);
    weir_join(k, NULL);

    /* Joining a finished task from a task does not block. */
    reset_order();
    weir_spawn(loop, say_once, "done-first", NULL, &t);
    weir_loop_run(loop);
    weir_spawn(loop, join_it, t, NULL, &j);
    weir_spawn(loop, say_once, "other", NULL, &k);
    weir_loop_run(loop);
    is_str(order, "done-first join-start join-end other", "join of a finished task is immediate");
    is_int(join_rc, 0, "rc");
    is_int(join_res, 0, "result");
    weir_join(j, NULL);
    weir_join(k, NULL);
    weir_loop_free(loop);
}

static void test_join_outside(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, slow_target, NULL, NULL, &t);
    int r = 123;
    is_int(weir_join(t, &r), WEIR_EAGAIN, "join outside a task on an unstarted task: WEIR_EAGAIN");
    is_int(r, 123, "no result stored");
    is_int(weir_loop_run_ready(loop), 1, "the task is still there and runs");
    is_int(weir_join(t, &r), WEIR_EAGAIN, "join outside a task on a blocked task: WEIR_EAGAIN");
    is_int(weir_loop_run(loop), 0, "run");
    is_int(weir_join(t, &r), 0, "join after it finished");
    is_int(r, 77, "result");
    weir_loop_free(loop);
}

static int join_self_rc;

static int join_self(void *arg) {
    (void)arg;
    join_self_rc = weir_join(weir_task_current(), NULL);
    return 3;
}

static void test_join_self(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, join_self, NULL, NULL, &t);
    is_int(weir_loop_run(loop), 0, "run (a self-join does not hang)");
    is_int(join_self_rc, WEIR_EDEADLOCK, "joining yourself fails with WEIR_EDEADLOCK");
    ok(weir_task_done(t), "the task went on and finished");
    int r = 0;
    is_int(weir_join(t, &r), 0, "and can be joined");
    is_int(r, 3, "result");
    weir_loop_free(loop);
}

static int second_rc, second_res = -1;

static int second_joiner(void *arg) {
    second_rc = weir_join(arg, &second_res);
    return 0;
}

static void test_double_join(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t, *a, *b;
    weir_spawn(loop, target_fn, NULL, NULL, &t);
    weir_spawn(loop, join_it, t, NULL, &a);
    weir_spawn(loop, second_joiner, t, NULL, &b);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(second_rc, WEIR_EBUSY, "a second joiner gets WEIR_EBUSY");
    is_int(second_res, -1, "and no result");
    is_int(join_rc, 0, "the first joiner succeeds");
    is_int(join_res, 7, "with the result");
    weir_join(a, NULL);
    weir_join(b, NULL);
    weir_loop_free(loop);
}

/* A detached task is nobody's to join: joining it while it still runs is refused at once
 * (once it finishes it is freed, and its handle must not be used at all). */
static void test_join_detached(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t, *j;
    weir_spawn(loop, target_fn, NULL, NULL, &t);
    weir_task_detach(t);
    weir_spawn(loop, join_it, t, NULL, &j);
    is_int(weir_loop_run(loop), 0, "run");
    is_int(join_rc, WEIR_EINVAL, "joining a detached task from a task: WEIR_EINVAL");
    is_int(join_res, -1, "and no result");
    is_int(join_time, 0, "at once, without waiting for it");
    is_str(order, "target-start join-start join-end target-end",
           "the detached task ran on to its end");
    weir_join(j, NULL);
    weir_loop_free(loop);
}

/* --- detach --------------------------------------------------------------------------- */

static int detach_self(void *arg) {
    char *mem = arg;
    weir_task_detach(weir_task_current());
    weir_sleep(WEIR_MS);
    free(mem);
    say("detached-self-done");
    return 0;
}

static int sleep_then_free(void *arg) {
    weir_sleep(2 * WEIR_MS);
    free(arg);
    say("detached-done");
    return 0;
}

static void test_detach(void) {
    weir_loop *loop = new_loop();
    reset_order();
    weir_task *t;
    /* Detached before it finishes: freed by the loop when it does (ASan checks the leak). */
    weir_spawn(loop, sleep_then_free, malloc(16), NULL, &t);
    weir_task_detach(t);
    /* Detaches itself. */
    weir_spawn(loop, detach_self, malloc(16), NULL, &t);
    is_int(weir_loop_run(loop), 0, "run");
    is_str(order, "detached-self-done detached-done", "detached tasks ran to the end");
    is_int(weir_loop_live_tasks(loop), 0, "no live tasks");
    /* Detached after it finished: freed at once. */
    weir_spawn(loop, say_once, "x", NULL, &t);
    weir_loop_run(loop);
    ok(weir_task_done(t), "done before detach");
    weir_task_detach(t);
    weir_task_detach(NULL);
    ok(1, "detach after finishing and detach(NULL) are fine");
    weir_loop_free(loop);
}

/* Detached tasks give their stacks back when they finish, not when the loop is freed (a
 * server spawning a detached task per connection must not grow). Counted in /proc/self/maps
 * where there is one. */
static int count_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static int short_lived(void *arg) {
    (void)arg;
    return weir_sleep(WEIR_MS);
}

static void test_detached_stacks_released(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    /* Warm up: let malloc and the sanitizers create whatever mappings they keep. */
    for (int i = 0; i < 50; i++) {
        weir_spawn(loop, short_lived, NULL, NULL, &t);
        weir_task_detach(t);
    }
    weir_loop_run(loop);
    int before = count_maps();
    for (int i = 0; i < 500; i++) {
        weir_spawn(loop, short_lived, NULL, NULL, &t);
        weir_task_detach(t);
    }
    int during = count_maps();
    weir_loop_run(loop);
    int after = count_maps();
    if (before < 0) {
        ok(1, "# SKIP no /proc/self/maps");
    } else {
        ok(during - before >= 500, "500 tasks hold their own stacks (%d mappings more)",
           during - before);
        ok(after - before < 20, "finished detached tasks released them (%d -> %d -> %d)", before,
           during, after);
    }
    weir_loop_free(loop);
}

/* --- weir_loop_free with tasks still blocked ------------------------------------------ */

enum { N_TEARDOWN = 6 };
static int teardown_rc[N_TEARDOWN], teardown_again[N_TEARDOWN], teardown_cleaned[N_TEARDOWN];
static weir__waiter teardown_waiter;
static weir_task *teardown_forever;

static int td_sleep(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    teardown_rc[0] = weir_sleep(3600 * WEIR_SEC);
    teardown_again[0] = weir_sleep(WEIR_MS);
    free(mem);
    teardown_cleaned[0] = 1;
    return 0;
}

static int td_wait(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    teardown_rc[1] = weir__wait(&teardown_waiter);
    teardown_again[1] = weir_yield();
    free(mem);
    teardown_cleaned[1] = 1;
    return 0;
}

static int td_join(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    teardown_rc[2] = weir_join(teardown_forever, NULL);
    teardown_again[2] = weir__wait(&(weir__waiter){0});
    free(mem);
    teardown_cleaned[2] = 1;
    return 0;
}

static int td_unstarted(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    teardown_rc[3] = weir_yield();
    teardown_again[3] = weir_sleep(0);
    free(mem);
    teardown_cleaned[3] = 1;
    return 0;
}

static int td_detached(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    teardown_rc[4] = weir_sleep(WEIR_SEC);
    teardown_again[4] = weir_sleep(WEIR_SEC);
    free(mem);
    teardown_cleaned[4] = 1;
    return 0;
}

static int td_forever(void *arg) {
    (void)arg;
    char *mem = malloc(1000);
    weir__waiter w = {0};
    teardown_rc[5] = weir__wait(&w);
    teardown_again[5] = weir__wait(&w);
    free(mem);
    teardown_cleaned[5] = 1;
    return 0;
}

static int finished_unjoined(void *arg) {
    (void)arg;
    return 1;
}

static void test_loop_free_cancels(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, finished_unjoined, NULL, NULL, &t); /* done, never joined */
    weir_spawn(loop, td_forever, NULL, NULL, &teardown_forever);
    weir_spawn(loop, td_sleep, NULL, NULL, &t);
    weir_spawn(loop, td_wait, NULL, NULL, &t);
    weir_spawn(loop, td_join, NULL, NULL, &t);
    weir_spawn(loop, td_detached, NULL, NULL, &t);
    weir_task_detach(t);
    is_int(weir_loop_run_until(loop, 10 * WEIR_MS), 0, "run a while");
    weir_spawn(loop, td_unstarted, NULL, NULL, &t); /* never runs before the free */
    is_int(weir_loop_live_tasks(loop), 6, "six tasks alive at teardown");
    weir_loop_free(loop);
    for (int i = 0; i < N_TEARDOWN; i++) {
        is_int(teardown_rc[i], WEIR_ECANCELED, "teardown task %d: blocked call cancelled", i);
        is_int(teardown_again[i], WEIR_ECANCELED, "teardown task %d: cleanup block fails fast", i);
        ok(teardown_cleaned[i], "teardown task %d ran its cleanup", i);
    }
    ok(teardown_waiter.task == NULL, "the waiter nobody woke no longer names the freed task");
    weir_loop_free(NULL);
    ok(1, "weir_loop_free(NULL) is a no-op");
}

/* A task that answers weir_loop_free's cancellation by spawning another is refused: the
 * loop is going away and would never run the new one. */
static int teardown_sleep_rc, teardown_spawn_rc;
static weir_task *teardown_spawned;

static int spawn_at_teardown(void *arg) {
    (void)arg;
    teardown_sleep_rc = weir_sleep(WEIR_SEC);
    teardown_spawned = (weir_task *)&teardown_spawned; /* must be cleared */
    teardown_spawn_rc =
        weir_spawn(weir_current_loop(), finished_unjoined, NULL, NULL, &teardown_spawned);
    return 0;
}

static void test_spawn_during_teardown(void) {
    weir_loop *loop = new_loop();
    weir_task *t;
    weir_spawn(loop, spawn_at_teardown, NULL, NULL, &t);
    weir_task_detach(t);
    is_int(weir_loop_run_until(loop, WEIR_MS), 0, "run until the task sleeps");
    weir_loop_free(loop);
    is_int(teardown_sleep_rc, WEIR_ECANCELED, "weir_loop_free cancelled its sleep");
    is_int(teardown_spawn_rc, WEIR_ESTATE, "spawning during the loop's teardown: WEIR_ESTATE");
    ok(teardown_spawned == NULL, "*out cleared");
}

/* --- deep recursion on a 1 MiB stack -------------------------------------------------- */

__attribute__((noinline)) static long recurse(long depth, uintptr_t top, size_t want,
                                              size_t *used) {
    volatile unsigned char buf[512];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(depth * 31 + i);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    long r;
    if (top - here < want) {
        r = recurse(depth + 1, top, want, used);
    } else {
        *used = top - here;
        r = depth;
    }
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != (unsigned char)(depth * 31 + i)) return -1;
    return r;
}

static size_t deep_used;
static long deep_depth;

static int deep(void *arg) {
    size_t want = *(size_t *)arg;
    uintptr_t top = (uintptr_t)__builtin_frame_address(0);
    deep_depth = recurse(0, top, want, &deep_used);
    /* Do it again after a switch: the frames written before must not have been disturbed. */
    weir_yield();
    long again = recurse(0, top, want, &deep_used);
    return again == deep_depth ? 0 : 1;
}

static void test_deep_recursion(void) {
    weir_loop *loop = new_loop();
    size_t want = 1024 * 1024 - 96 * 1024;
    weir_task_opts opts = {.stack_size = 1024 * 1024, .name = "deep"};
    weir_task *t, *u;
    is_int(weir_spawn(loop, deep, &want, &opts, &t), 0, "spawn with a 1 MiB stack");
    weir_spawn(loop, deep, &want, &opts, &u); /* two at once, interleaved by the yield */
    is_int(weir_loop_run(loop), 0, "run");
    ok(deep_depth > 0, "recursion came back intact (depth %ld)", deep_depth);
    ok(deep_used >= want, "used %zu bytes of the 1 MiB stack", deep_used);
    int r1 = -1, r2 = -1;
    weir_join(t, &r1);
    weir_join(u, &r2);
    is_int(r1, 0, "first deep task saw the same depth twice");
    is_int(r2, 0, "second deep task saw the same depth twice");
    weir_loop_free(loop);
}

/* --- the guard page ------------------------------------------------------------------- */

static volatile int keep_going = 1;
static uintptr_t guard_lo, guard_hi;
enum { SMALL_STACK = 64 * 1024 };

__attribute__((noinline)) static int overflow(int depth) {
    volatile char buf[128];
    buf[0] = (char)depth;
    buf[127] = (char)depth;
    int r = keep_going ? overflow(depth + 1) : 0;
    return r + buf[0] + buf[127];
}

static int overflower(void *arg) {
    (void)arg;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t top = (here + page - 1) & ~(page - 1); /* the stack's top is page-aligned */
    guard_hi = top - SMALL_STACK;
    guard_lo = guard_hi - page;
    return overflow(0);
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    _exit(a >= guard_lo && a < guard_hi ? 42 : 43);
}

/* In a child: overflow a task's small stack; how the child dies is the result. */
static int overflow_child(bool with_handler) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (with_handler) {
            static char altstack[64 * 1024];
            stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
            sigaltstack(&ss, NULL);
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_segv;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
            sigaction(SIGSEGV, &sa, NULL);
        } else {
            signal(SIGSEGV, SIG_DFL);
        }
        weir_loop *loop = new_loop();
        weir_task_opts opts = {.stack_size = SMALL_STACK, .name = "overflow"};
        weir_task *t;
        weir_spawn(loop, overflower, NULL, &opts, &t);
        weir_loop_run(loop);
        _exit(0); /* reaching this means the overflow went unnoticed */
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return status;
}

static void test_guard_page(void) {
    int status = overflow_child(false);
    ok(status != -1 && WIFSIGNALED(status), "a task overflowing its stack kills the process");
    if (WIFSIGNALED(status))
        is_int(WTERMSIG(status), SIGSEGV, "with SIGSEGV");
    else
        ok(0, "with SIGSEGV (exited with status %d instead)", WEXITSTATUS(status));
    status = overflow_child(true);
    ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 42,
       "the faulting address is in the guard page just below the stack (status %d)", status);
}

/* --- many tasks ----------------------------------------------------------------------- */

enum { MANY = 10000 };

static int many_fn(void *arg) {
    intptr_t i = (intptr_t)arg;
    if (weir_yield() != 0) return -1;
    if (i % 3 == 0 && weir_sleep((int64_t)(i % 7) * WEIR_MS) != 0) return -1;
    return (int)(i * 2);
}

static weir_task *many[MANY];

static int many_joiner(void *arg) {
    (void)arg;
    long long sum = 0;
    for (intptr_t i = 0; i < MANY; i++) {
        int r = -1;
        if (weir_join(many[i], &r) != 0) return -1;
        if (r != i * 2) return -2;
        sum += r;
    }
    return sum == (long long)MANY * (MANY - 1) ? 0 : -3;
}

static void test_many_tasks(void) {
    weir_loop *loop = new_loop();
    int failed = 0;
    for (intptr_t i = 0; i < MANY; i++)
        if (weir_spawn(loop, many_fn, (void *)i, NULL, &many[i]) != 0) failed++;
    is_int(failed, 0, "spawned %d tasks", MANY);
    is_int(weir_loop_live_tasks(loop), MANY, "all live");
    is_int(weir_loop_run(loop), 0, "run them all");
    is_int(weir_loop_now(loop), 6 * WEIR_MS, "the longest sleep ended the run");
    long long sum = 0;
    int bad = 0;
    for (intptr_t i = 0; i < MANY; i++) {
        int r = -1;
        if (weir_join(many[i], &r) != 0 || r != i * 2) bad++;
        sum += r;
    }
    is_int(bad, 0, "every task joined from outside with its own result");
    is_int(sum, (long long)MANY * (MANY - 1), "sum of results");

    /* Again, joined from inside a task this time. */
    for (intptr_t i = 0; i < MANY; i++) weir_spawn(loop, many_fn, (void *)i, NULL, &many[i]);
    weir_task *j;
    weir_spawn(loop, many_joiner, NULL, NULL, &j);
    is_int(weir_loop_run(loop), 0, "run");
    int r = -9;
    weir_join(j, &r);
    is_int(r, 0, "a task joined %d tasks with the right results", MANY);
    is_int(weir_loop_live_tasks(loop), 0, "none left");
    weir_loop_free(loop);
}

/* --- blocking outside a task; bad arguments ------------------------------------------- */

static int noop(void *arg) {
    (void)arg;
    return 0;
}

static void test_outside_and_einval(void) {
    is_int(weir_sleep(WEIR_MS), WEIR_ENOTASK, "weir_sleep outside a task");
    is_int(weir_sleep(0), WEIR_ENOTASK, "weir_sleep(0) outside a task");
    is_int(weir_sleep_until(0), WEIR_ENOTASK, "weir_sleep_until outside a task");
    is_int(weir_yield(), WEIR_ENOTASK, "weir_yield outside a task");
    weir__waiter w = {0};
    is_int(weir__wait(&w), WEIR_ENOTASK, "weir__wait outside a task");
    ok(w.task == NULL, "the waiter was not touched");

    weir_loop *loop = new_loop();
    weir_task *t = (weir_task *)&w;
    is_int(weir_spawn(NULL, noop, NULL, NULL, &t), WEIR_EINVAL, "spawn on a NULL loop");
    ok(t == NULL, "*out cleared on failure");
    t = (weir_task *)&w;
    is_int(weir_spawn(loop, NULL, NULL, NULL, &t), WEIR_EINVAL, "spawn a NULL function");
    ok(t == NULL, "*out cleared on failure");
    is_int(weir_spawn(loop, noop, NULL, NULL, NULL), WEIR_EINVAL, "spawn with a NULL out");
    weir_task_opts huge = {.stack_size = (size_t)1 << 41, .name = NULL};
    is_int(weir_spawn(loop, noop, NULL, &huge, &t), WEIR_EINVAL, "an absurd stack size");
    is_int(weir_loop_live_tasks(loop), 0, "failed spawns created nothing");
    is_int(weir_join(NULL, NULL), WEIR_EINVAL, "join NULL");
    is_int(weir_call_soon(NULL, free, NULL), WEIR_EINVAL, "call_soon NULL loop");
    is_int(weir_call_soon(loop, NULL, NULL), WEIR_EINVAL, "call_soon NULL fn");
    is_int(weir_loop_run(NULL), WEIR_EINVAL, "run NULL loop");
    is_int(weir_loop_run_until(NULL, 5), WEIR_EINVAL, "run_until NULL loop");
    is_int(weir_loop_run_ready(NULL), 0, "run_ready NULL loop runs nothing");
    is_int(weir_loop_new_virtual(NULL), WEIR_EINVAL, "loop_new_virtual NULL out");
    ok(!weir_task_done(NULL) && !weir_task_cancelled(NULL), "done/cancelled of NULL are false");

    /* Odd but valid stack sizes are rounded up to pages and work. */
    weir_task_opts odd = {.stack_size = 12345, .name = NULL};
    is_int(weir_spawn(loop, noop, NULL, &odd, &t), 0, "a stack size that is not a page multiple");
    is_int(weir_loop_run(loop), 0, "runs");
    is_int(weir_join(t, NULL), 0, "joins");
    weir_loop_free(loop);
}

int main(void) {
    test_spawn_join();
    test_join_result_null();
    test_fifo();
    test_yield();
    test_registers();
    test_ctx_direct();
    test_introspection();
    test_cancel_blocked_sleep();
    test_cancel_from_task();
    test_cancel_before_start();
    test_cancel_done();
    test_cancel_self();
    test_cancel_join();
    test_join_blocks();
    test_join_outside();
    test_join_self();
    test_double_join();
    test_join_detached();
    test_detach();
    test_detached_stacks_released();
    test_loop_free_cancels();
    test_spawn_during_teardown();
    test_deep_recursion();
    test_guard_page();
    test_many_tasks();
    test_outside_and_einval();
    return done_testing();
}
