/* core/net_internal.h - what connect.c and server.c share: the loop's network backend. */
#ifndef WEIR_CORE_NET_INTERNAL_H
#define WEIR_CORE_NET_INTERNAL_H

#include "core/internal.h"
#include "weir/net.h"

/* A port as open_connection and start_server accept it: 0..65535. */
static inline bool weir__port_ok(int port) { return port >= 0 && port <= 65535; }

#endif
