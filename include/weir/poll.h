/* weir/poll.h - the real-network backend: poll(2), the monotonic clock, real sockets.
 *
 * A loop on this backend runs the same code as a simulator loop: weir_open_connection,
 * weir_start_server, their Unix-socket twins and weir_open_connection_fd connect, listen and
 * adopt real sockets (TCP over IPv4 and IPv6, Unix stream sockets). Timers use
 * CLOCK_MONOTONIC. Host names are looked up by resolver threads while the calling task
 * waits, so nothing blocks the loop's thread (docs/net.md, "Name resolution").
 *
 * weir_loop_run on this backend returns only when no task is runnable, no timer is armed
 * and no socket is watched: a server that is serving or a connection that is open keeps it
 * running. Use weir_loop_run_until or weir_loop_stop to bound a run. */
#ifndef WEIR_POLL_H
#define WEIR_POLL_H

#include "weir/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loop on the poll backend. WEIR_EINVAL (out NULL), WEIR_ENOMEM, or 0. Free it with
 * weir_loop_free() after the connections and servers that run on it. */
int weir_loop_new_poll(weir_loop **out);

#ifdef __cplusplus
}
#endif
#endif
