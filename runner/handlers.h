/* runner/handlers.h - what the bundled handlers share with each other and with the scenario
 * runner: connecting to an endpoint, and running a named client as a task. The handlers
 * themselves and the registry are public (weir/handlers.h). */
#ifndef WEIR_RUNNER_HANDLERS_H
#define WEIR_RUNNER_HANDLERS_H

#include "weir/handlers.h"
#include "weir/task.h"

/* open_connection or open_unix_connection, whichever the endpoint names. */
int weir__connect_endpoint(const weir_endpoint *ep, const weir_open_opts *opts, weir_reader **r,
                           weir_writer **w);

/* A client to run in a task: weir_spawn(loop, weir__client_task, &run, ...) calls
 * run.fn(&run.target, run.arg) and leaves its return value in run.result (and returns it).
 * The struct must outlive the task. */
typedef struct weir__client_run {
    weir_client_fn fn;
    weir_endpoint target;
    void *arg;
    int result;
} weir__client_run;

int weir__client_task(void *arg);

#endif
