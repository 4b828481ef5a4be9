/* core/stream_internal.h - what the stream layer shares with tests and other transports. */
#ifndef WEIR_CORE_STREAM_INTERNAL_H
#define WEIR_CORE_STREAM_INTERNAL_H

#include <stddef.h>

#include "weir/weir.h"

/* The in-memory pipe's two transports, without readers or writers on top (see
 * weir_stream_pair() for what they do). Both start with no protocol; set t->protocol before
 * the loop runs. Each end is released with its ops->free; the pipe goes when both are.
 * capacity 0 means 65536. WEIR_EINVAL, WEIR_ENOMEM or 0. */
int weir__mempipe_new(weir_loop *loop, size_t capacity, weir_transport *ends[2]);

#endif
