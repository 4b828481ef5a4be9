/* core/ctx_aarch64.S - the context switch for aarch64 (AAPCS64).
 *
 * void weir__ctx_swap(void **save_sp, void *load_sp)
 * Saves x19-x30, d8-d15 and FPCR in a 176-byte frame on the current stack, stores sp in
 * *save_sp, loads load_sp and restores the same frame from there. */
#if defined(__aarch64__) && !defined(WEIR_USE_UCONTEXT)
        .text
        .globl  weir__ctx_swap
        .hidden weir__ctx_swap
        .type   weir__ctx_swap, %function
weir__ctx_swap:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        add     sp, sp, #176
        ret
        .size   weir__ctx_swap, .-weir__ctx_swap

/* First code run on a new stack: entry in x19, its argument in x20 (see ctx.c). */
        .globl  weir__ctx_trampoline
        .hidden weir__ctx_trampoline
        .type   weir__ctx_trampoline, %function
weir__ctx_trampoline:
        mov     x0, x20
        blr     x19
        brk     #0
        .size   weir__ctx_trampoline, .-weir__ctx_trampoline
#endif
        .section .note.GNU-stack,"",%progbits
