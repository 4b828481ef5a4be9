/* tests/unit/virtual_util.h - what the loop, task, timer and deadline tests share: a fresh
 * loop on the virtual clock, an order log (each step appends a word, the test compares the
 * whole sentence) and is_str for NUL-terminated strings. */
#ifndef WEIR_TESTS_VIRTUAL_UTIL_H
#define WEIR_TESTS_VIRTUAL_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "weir/weir.h"

static char order[16384];

static inline void say(const char *word) {
    size_t n = strlen(order);
    snprintf(order + n, sizeof order - n, "%s%s", n ? " " : "", word);
}

static inline void reset_order(void) { order[0] = '\0'; }

#define is_str(got, want, ...)                                                                     \
    tap_is_mem((got), strlen(got), (want), strlen(want), __FILE__, __LINE__, __VA_ARGS__)

/* A machine that cannot make a virtual loop cannot run these tests at all. */
static inline weir_loop *new_loop(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_virtual(&loop) != 0 || !loop) {
        printf("Bail out! weir_loop_new_virtual failed\n");
        exit(1);
    }
    return loop;
}

#endif
