/* tests/unit/sock_util.h - what the real-socket tests (test_sock.c, test_sock_faults.c)
 * share: a test body run in a task on a poll loop under a time limit, tasks spawned and
 * joined from inside one, a loopback server with a connection to it, servers stopped in one
 * call, and a scratch directory for Unix socket files.
 *
 * Each .c file under tests/unit is a program of its own, so the helpers are static inline here
 * rather than in a library of the tests. */
#ifndef WEIR_TESTS_SOCK_UTIL_H
#define WEIR_TESTS_SOCK_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir/poll.h"
#include "weir/weir.h"

/* A fresh poll loop; a machine that cannot make one cannot run these tests at all. */
static inline weir_loop *new_loop(void) {
    weir_loop *loop = NULL;
    if (weir_loop_new_poll(&loop) != 0) {
        printf("Bail out! weir_loop_new_poll failed\n");
        exit(1);
    }
    return loop;
}

typedef struct job {
    weir_task_fn fn;
    void *arg;
    int rc;
    bool done;
} job;

static inline int job_main(void *arg) {
    job *j = arg;
    j->rc = j->fn(j->arg);
    j->done = true;
    weir_loop_stop(weir_current_loop());
    return 0;
}

/* Run fn(arg) in a task on `loop` for at most `limit` ns. Returns fn's result, or
 * WEIR_ETIMEDOUT when it did not finish in time. */
static inline int run_on(weir_loop *loop, weir_task_fn fn, void *arg, int64_t limit) {
    job j = {.fn = fn, .arg = arg};
    weir_task *t;
    weir_spawn(loop, job_main, &j, NULL, &t);
    weir_task_detach(t);
    int rc = weir_loop_run_until(loop, weir_loop_now(loop) + limit);
    if (rc) printf("# loop: %s\n", weir_errname(rc));
    return j.done ? j.rc : WEIR_ETIMEDOUT;
}

/* The same on a fresh poll loop of its own. */
static inline int run_limited(weir_task_fn fn, void *arg, int64_t limit) {
    weir_loop *loop = new_loop();
    int rc = run_on(loop, fn, arg, limit);
    weir_loop_free(loop);
    return rc;
}

/* Spawn fn(arg) on the running task's loop; join it with join(). */
static inline weir_task *spawn(weir_task_fn fn, void *arg) {
    weir_task *t = NULL;
    weir_spawn(weir_current_loop(), fn, arg, NULL, &t);
    return t;
}

/* t's result (WEIR_EINVAL when there is no task, as when spawn failed). */
static inline int join(weir_task *t) {
    int rc = WEIR_EINVAL;
    if (t) weir_join(t, &rc);
    return rc;
}

static inline void stop_server(weir_server *s) {
    weir_server_close(s);
    (void)weir_server_wait_closed(s);
    weir_server_free(s);
}

/* A server on 127.0.0.1 (an ephemeral port) serving each connection with handler(arg), and
 * a connection to it: 0, or the first error. */
static inline int serve_and_connect(weir_handler handler, void *arg, weir_server **s,
                                    weir_reader **r, weir_writer **w) {
    int rc = weir_start_server(NULL, handler, arg, "127.0.0.1", 0, NULL, s);
    if (rc) return rc;
    return weir_open_connection("127.0.0.1", weir_server_port(*s), NULL, r, w);
}

/* Make dir (size bytes) a new directory from tmpl ("/tmp/weir-sock-XXXXXX"), or bail out. */
static inline void make_tmpdir(char *dir, size_t size, const char *tmpl) {
    snprintf(dir, size, "%s", tmpl);
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
}

#endif
