/* core/error.c - names and descriptions of error codes. */
#include "weir/error.h"

#include <stdlib.h>
#include <string.h>

#define WEIR_ERRORS(X)                                                                             \
    X(WEIR_OK, "success")                                                                          \
    X(WEIR_EINVAL, "invalid argument")                                                             \
    X(WEIR_ENOMEM, "out of memory")                                                                \
    X(WEIR_EINCOMPLETE, "end of stream before the read completed")                                 \
    X(WEIR_ELIMIT, "buffer limit reached before the separator")                                    \
    X(WEIR_ETOOLONG, "line longer than the buffer limit")                                          \
    X(WEIR_EBUSY, "another task is already waiting for incoming data")                             \
    X(WEIR_EEOF, "data fed after end of stream")                                                   \
    X(WEIR_ECANCELED, "task cancelled")                                                            \
    X(WEIR_ETIMEDOUT, "deadline passed")                                                           \
    X(WEIR_EAGAIN, "would block outside a task")                                                   \
    X(WEIR_ENOTASK, "blocking call outside a task")                                                \
    X(WEIR_ECONNLOST, "connection lost")                                                           \
    X(WEIR_ECONNRESET, "connection reset by peer")                                                 \
    X(WEIR_ECLOSED, "stream closed for writing")                                                   \
    X(WEIR_ENOTSUP, "operation not supported by the transport")                                    \
    X(WEIR_ENOENT, "no such item")                                                                 \
    X(WEIR_EDEADLOCK, "tasks blocked with nothing left to wake them")                              \
    X(WEIR_ESTATE, "call not valid in the current state")                                          \
    X(WEIR_ECONNREFUSED, "connection refused")                                                     \
    X(WEIR_EHOSTUNREACH, "host unreachable")                                                       \
    X(WEIR_EADDRINUSE, "address already in use")                                                   \
    X(WEIR_EPIPE, "broken pipe")                                                                   \
    X(WEIR_ESTALL, "simulation stalled")                                                           \
    X(WEIR_EIO, "input/output error")                                                              \
    X(WEIR_EMISMATCH, "unexpected data from the peer")                                             \
    X(WEIR_EMALFORMED, "malformed protocol data")                                                  \
    X(WEIR_ETLS, "TLS error")

const char *weir_strerror(int code) {
#define DESC(c, d)                                                                                 \
    if (code == (c)) return d;
    WEIR_ERRORS(DESC)
#undef DESC
    if (code <= WEIR_EUSER) return "application error";
    return "unknown error";
}

const char *weir_errname(int code) {
#define NAME(c, d)                                                                                 \
    if (code == (c)) return #c;
    WEIR_ERRORS(NAME)
#undef NAME
    if (code <= WEIR_EUSER) return "WEIR_EUSER";
    return "WEIR_E?";
}
