/* core/ctx.h - switching between stacks.
 *
 * The smallest piece of the task machinery: save the callee-saved registers and stack
 * pointer of the running context, load another's. Our own assembly on x86-64 and aarch64
 * (a few instructions, no signal-mask syscall); ucontext elsewhere, or everywhere when built
 * with -DWEIR_USE_UCONTEXT. The sanitizer hooks live one level up, in task.c. */
#ifndef WEIR_CORE_CTX_H
#define WEIR_CORE_CTX_H

#include <stddef.h>

#if !defined(WEIR_USE_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define WEIR_USE_UCONTEXT 1
#endif

#ifdef WEIR_USE_UCONTEXT
#include <ucontext.h>
typedef struct weir__ctx {
    ucontext_t uc;
} weir__ctx;
#else
typedef struct weir__ctx {
    void *sp; /* the saved stack pointer; registers are saved on the stack itself */
} weir__ctx;
#endif

/* Prepare ctx to run entry(arg) on the stack [stack, stack + size) the first time it is
 * switched to. entry must never return: it ends by switching away for good. */
void weir__ctx_make(weir__ctx *ctx, void *stack, size_t size, void (*entry)(void *), void *arg);

/* Save the running context into `from` and continue in `to`. Returns when something
 * switches back to `from`. */
void weir__ctx_switch(weir__ctx *from, weir__ctx *to);

/* Which implementation this build uses: "x86_64", "aarch64" or "ucontext". */
const char *weir__ctx_kind(void);

#endif
