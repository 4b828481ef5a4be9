/* core/ctx.c - set up a fresh stack for the assembly switch, or use ucontext. */
#include "core/ctx.h"

#include <stdint.h>
#include <string.h>

#ifndef WEIR_USE_UCONTEXT

/* In ctx_x86_64.S / ctx_aarch64.S. */
void weir__ctx_swap(void **save_sp, void *load_sp);
void weir__ctx_trampoline(void);

void weir__ctx_switch(weir__ctx *from, weir__ctx *to) { weir__ctx_swap(&from->sp, to->sp); }

#if defined(__x86_64__)
const char *weir__ctx_kind(void) { return "x86_64"; }

/* The first switch pops this frame: MXCSR and x87 control word, r15, r14, r13 (arg), r12
 * (entry), rbx, rbp, then `ret` lands in the trampoline, which calls entry(arg) with the
 * stack 16-byte aligned as the System V ABI requires at a call. */
void weir__ctx_make(weir__ctx *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 80);
    memset(frame, 0, 80);
    uint32_t mxcsr = 0x1F80; /* the power-on default: all exceptions masked */
    uint16_t fpucw = 0x037F;
    memcpy(&frame[0], &mxcsr, sizeof mxcsr);
    memcpy((char *)&frame[0] + 4, &fpucw, sizeof fpucw);
    frame[3] = (uint64_t)(uintptr_t)arg;
    frame[4] = (uint64_t)(uintptr_t)entry;
    frame[7] = (uint64_t)(uintptr_t)weir__ctx_trampoline;
    ctx->sp = frame;
}
#elif defined(__aarch64__)
const char *weir__ctx_kind(void) { return "aarch64"; }

/* The first switch loads x19 (entry), x20 (arg), x29 = 0, x30 = trampoline, FPCR = 0 from
 * this 176-byte frame and returns into the trampoline. */
void weir__ctx_make(weir__ctx *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 176);
    memset(frame, 0, 176);
    frame[0] = (uint64_t)(uintptr_t)entry;
    frame[1] = (uint64_t)(uintptr_t)arg;
    frame[11] = (uint64_t)(uintptr_t)weir__ctx_trampoline;
    ctx->sp = frame;
}
#endif

#else /* WEIR_USE_UCONTEXT */

const char *weir__ctx_kind(void) { return "ucontext"; }

/* makecontext passes int arguments only, so the entry and its argument travel as halves. */
static void ucontext_entry(unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo) {
    uintptr_t e = ((uintptr_t)e_hi << 16 << 16) | e_lo;
    uintptr_t a = ((uintptr_t)a_hi << 16 << 16) | a_lo;
    void (*entry)(void *);
    memcpy(&entry, &e, sizeof entry);
    entry((void *)a);
}

void weir__ctx_make(weir__ctx *ctx, void *stack, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t e, a = (uintptr_t)arg;
    memcpy(&e, &entry, sizeof e);
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))ucontext_entry, 4, (unsigned)(e >> 16 >> 16), (unsigned)e,
                (unsigned)(a >> 16 >> 16), (unsigned)a);
}

void weir__ctx_switch(weir__ctx *from, weir__ctx *to) { swapcontext(&from->uc, &to->uc); }

#endif
