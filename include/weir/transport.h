/* weir/transport.h - transports move bytes; protocols receive them (asyncio's split).
 *
 * A transport (a socket, TLS over another transport, a simulated link, an in-memory pipe)
 * implements weir_transport_ops and reports what happens to its protocol through
 * weir_protocol_ops. The stream reader/writer (weir/stream.h) is the protocol almost every
 * program uses; these interfaces are for writing new transports. */
#ifndef WEIR_TRANSPORT_H
#define WEIR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_transport weir_transport;
typedef struct weir_protocol weir_protocol;

/* A value from get_extra_info. Pointers are owned by the transport and stay valid while it
 * lives. */
typedef enum weir_extra_kind {
    WEIR_EXTRA_NONE = 0,
    WEIR_EXTRA_STR, /* str: NUL-terminated text, e.g. "peername" as "127.0.0.1:8080" */
    WEIR_EXTRA_INT, /* num: e.g. "socket" as a file descriptor */
    WEIR_EXTRA_PTR, /* ptr (+ len when it has one): e.g. "sockaddr", "ssl_object" */
} weir_extra_kind;

typedef struct weir_extra {
    weir_extra_kind kind;
    const char *str;
    int64_t num;
    const void *ptr;
    size_t len;
} weir_extra;

typedef struct weir_transport_ops {
    const char *name;
    /* Queue len bytes for sending; never blocks. WEIR_ECLOSED after write_eof or close,
     * WEIR_ECONNLOST once the connection is gone, WEIR_ENOMEM. */
    int (*write)(weir_transport *t, const void *data, size_t len);
    /* Close the write side once the queue is flushed. WEIR_ENOTSUP if it cannot. */
    int (*write_eof)(weir_transport *t);
    bool (*can_write_eof)(weir_transport *t);
    /* Flush the queue, then close; the protocol's connection_lost follows, later. */
    void (*close)(weir_transport *t);
    /* Close now, dropping the queue; connection_lost follows, later. */
    void (*abort)(weir_transport *t);
    bool (*is_closing)(weir_transport *t);
    void (*pause_reading)(weir_transport *t);
    void (*resume_reading)(weir_transport *t);
    /* Bytes queued and not yet handed on. */
    size_t (*write_buffer_size)(weir_transport *t);
    /* Watermarks: pause_writing above high, resume_writing at or below low. WEIR_EINVAL
     * unless high >= low >= 0. */
    int (*set_write_buffer_limits)(weir_transport *t, size_t high, size_t low);
    void (*get_write_buffer_limits)(weir_transport *t, size_t *high, size_t *low);
    /* WEIR_ENOENT for an unknown name. */
    int (*get_extra_info)(weir_transport *t, const char *name, struct weir_extra *out);
    /* Release the transport. Called once, after connection_lost or after abort (then the
     * loss may not have been delivered yet): the protocol is detached (NULL) by then, so
     * the transport must never call it again and must make callbacks still scheduled on
     * the loop harmless. */
    void (*free)(weir_transport *t);
} weir_transport_ops;

struct weir_transport {
    const weir_transport_ops *ops;
    weir_protocol *protocol; /* who receives this transport's events */
};

typedef struct weir_protocol_ops {
    void (*connection_made)(weir_protocol *p, weir_transport *t);
    void (*data_received)(weir_protocol *p, const void *data, size_t len);
    /* The peer closed its write side. Return true to keep ours open (half-close), false to
     * let the transport close itself. */
    bool (*eof_received)(weir_protocol *p);
    /* The connection is gone: error 0 for a clean close, else a negative code such as
     * WEIR_ECONNRESET. Called once; nothing follows it. */
    void (*connection_lost)(weir_protocol *p, int error);
    void (*pause_writing)(weir_protocol *p);
    void (*resume_writing)(weir_protocol *p);
} weir_protocol_ops;

struct weir_protocol {
    const weir_protocol_ops *ops;
};

#ifdef __cplusplus
}
#endif
#endif
