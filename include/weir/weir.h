/* weir/weir.h - everything public. */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include "weir/bytes.h"
#include "weir/error.h"
#include "weir/handlers.h"
#include "weir/loop.h"
#include "weir/net.h"
#include "weir/poll.h"
#include "weir/reader.h"
#include "weir/scenario.h"
#include "weir/sim.h"
#include "weir/stream.h"
#include "weir/task.h"
#include "weir/tls.h"
#include "weir/transport.h"

#define WEIR_VERSION "0.1.0"

#endif
