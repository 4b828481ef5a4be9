/* core/ctx_x86_64.S - the context switch for x86-64 (System V ABI).
 *
 * void weir__ctx_swap(void **save_sp, void *load_sp)
 * Pushes the callee-saved registers (rbp rbx r12-r15) and the SSE/x87 control words, stores
 * rsp in *save_sp, loads load_sp and pops the same frame from there. */
#if defined(__x86_64__) && !defined(WEIR_USE_UCONTEXT)
        .text
        .globl  weir__ctx_swap
        .hidden weir__ctx_swap
        .type   weir__ctx_swap, @function
weir__ctx_swap:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   weir__ctx_swap, .-weir__ctx_swap

/* First code run on a new stack: entry in r12, its argument in r13 (see ctx.c). */
        .globl  weir__ctx_trampoline
        .hidden weir__ctx_trampoline
        .type   weir__ctx_trampoline, @function
weir__ctx_trampoline:
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .size   weir__ctx_trampoline, .-weir__ctx_trampoline
#endif
        .section .note.GNU-stack,"",@progbits
