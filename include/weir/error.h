/* weir/error.h - error codes and error details.
 *
 * Every call that can fail returns an int: 0 (WEIR_OK) or a negative WEIR_E* code, in the
 * style of libuv. Calls that mirror an asyncio exception attach its details (message,
 * partial, expected, consumed) to a weir_error the caller can inspect afterwards. */
#ifndef WEIR_ERROR_H
#define WEIR_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "weir/bytes.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    WEIR_OK = 0,
    WEIR_EINVAL = -1,        /* bad argument (asyncio: ValueError) */
    WEIR_ENOMEM = -2,        /* out of memory */
    WEIR_EINCOMPLETE = -3,   /* EOF before the read completed (IncompleteReadError) */
    WEIR_ELIMIT = -4,        /* buffer limit reached (LimitOverrunError) */
    WEIR_ETOOLONG = -5,      /* readline: line over the limit (asyncio: ValueError) */
    WEIR_EBUSY = -6,         /* another task is already waiting on this reader (RuntimeError) */
    WEIR_EEOF = -7,          /* data fed after feed_eof (asyncio: AssertionError) */
    WEIR_ECANCELED = -8,     /* the calling task was cancelled */
    WEIR_ETIMEDOUT = -9,     /* the calling task's deadline passed */
    WEIR_EAGAIN = -10,       /* would block, and the caller is not inside a task */
    WEIR_ENOTASK = -11,      /* a blocking call made outside any task */
    WEIR_ECONNLOST = -12,    /* the connection is gone (ConnectionResetError 'Connection lost') */
    WEIR_ECONNRESET = -13,   /* the peer reset the connection */
    WEIR_ECLOSED = -14,      /* writing after close or write_eof (RuntimeError) */
    WEIR_ENOTSUP = -15,      /* the transport cannot do this (e.g. write_eof on TLS) */
    WEIR_ENOENT = -16,       /* no such item (e.g. an unknown get_extra_info key) */
    WEIR_EDEADLOCK = -17,    /* the loop stopped with tasks blocked and nothing left to wake them */
    WEIR_ESTATE = -18,       /* call not valid in the object's current state */
    WEIR_ECONNREFUSED = -19, /* nobody listens there (ConnectionRefusedError) */
    WEIR_EHOSTUNREACH = -20, /* no route to the host, or a partition */
    WEIR_EADDRINUSE = -21,   /* the address is already bound */
    WEIR_EPIPE = -22,        /* writing to a connection the peer has closed (BrokenPipeError) */
    WEIR_ESTALL = -23,       /* a simulation stopped at its bound with tasks still blocked */
    WEIR_EIO = -24,          /* an OS error without a closer code (see the message) */
    WEIR_EMISMATCH = -25,    /* the peer sent something else than expected (line client) */
    WEIR_EMALFORMED = -26,   /* malformed protocol data (HTTP head: the message says what) */
    WEIR_ETLS = -27,         /* TLS failed: handshake, verification, or a protocol error */
    /* Codes at or below WEIR_EUSER are the application's own, e.g. for
     * weir_reader_set_exception(). weir_strerror() names them "application error". */
    WEIR_EUSER = -1000
};

/* A short constant description of a code ("buffer limit reached"). Never NULL. */
const char *weir_strerror(int code);
/* The constant name of a code ("WEIR_ELIMIT"), or "WEIR_EUSER" for application codes. */
const char *weir_errname(int code);

/* Details of the last failed call on an object (see weir_reader_error()). The message and
 * partial bytes are owned by that object and stay valid until its next call. */
typedef struct weir_error {
    int code;            /* the WEIR_E* code that was returned, 0 if the last call succeeded */
    const char *message; /* asyncio's message text, NUL-terminated (may contain NULs: see len) */
    size_t message_len;
    weir_bytes partial; /* WEIR_EINCOMPLETE: the bytes read before EOF */
    int64_t expected;   /* WEIR_EINCOMPLETE: bytes expected, or -1 for "None" (readuntil) */
    int64_t consumed;   /* WEIR_ELIMIT: asyncio's LimitOverrunError.consumed */
} weir_error;

#ifdef __cplusplus
}
#endif
#endif
