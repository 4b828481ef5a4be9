/* core/stream.c - asyncio's StreamReaderProtocol and StreamWriter.
 *
 * The writer is also the protocol of its transport (asyncio keeps them as two objects; here
 * the writer owns the connection, so one object is enough). As a protocol it feeds the
 * reader and keeps FlowControlMixin's state: whether writing is paused, whether the
 * connection is lost, and the tasks waiting in drain() or wait_closed(). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/stream_internal.h"

/* A task blocked in drain() or wait_closed(). The node lives on that task's stack and is
 * linked into the writer's list while the task waits. Whoever wakes it unlinks it first, so
 * the woken task never has to touch the writer again (it may have been freed meanwhile). */
typedef struct wait_node wait_node;
struct wait_node {
    weir__waiter waiter;
    wait_node *prev, *next;
    bool linked;
};

typedef struct wait_list {
    wait_node *head, *tail;
} wait_list;

struct weir_writer {
    weir_protocol proto; /* first: the transport hands us back &proto */
    weir_loop *loop;
    weir_transport *t;
    weir_reader *r;
    bool paused;        /* pause_writing seen, resume_writing not yet (FlowControlMixin._paused) */
    bool conn_lost;     /* connection_lost seen */
    bool write_closed;  /* write_eof or close called: writes fail, whatever the transport does */
    int lost_error;     /* its argument: 0 for a clean close */
    wait_list drainers; /* tasks in drain() */
    wait_list closers;  /* tasks in wait_closed() */
};

static weir_writer *writer_of(weir_protocol *p) { return (weir_writer *)p; }

/* --- waiting ----------------------------------------------------------------------- */

static void list_push(wait_list *l, wait_node *n) {
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    n->linked = true;
}

static void list_unlink(wait_list *l, wait_node *n) {
    if (!n->linked) return;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    n->linked = false;
}

/* Wake every waiter, oldest first, with `result`. */
static void list_wake_all(wait_list *l, int result) {
    wait_node *n;
    while ((n = l->head) != NULL) {
        list_unlink(l, n);
        weir__wake(&n->waiter, result);
    }
}

/* Block the running task on list l. Outside a task there is nobody to suspend: WEIR_EAGAIN,
 * as for a reader's reads. `what` names the wait in stall reports. */
static int list_wait(wait_list *l, const char *what) {
    if (!weir_task_current()) return WEIR_EAGAIN;
    wait_node n = {0};
    n.waiter.what = what;
    list_push(l, &n);
    int rc = weir__wait(&n.waiter);
    /* Still linked: the wait ended by cancellation or deadline (or never started). */
    list_unlink(l, &n);
    return rc;
}

/* --- the protocol ------------------------------------------------------------------- */

static void proto_connection_made(weir_protocol *p, weir_transport *t) {
    weir_writer *w = writer_of(p);
    w->t = t;
    weir_reader_set_transport(w->r, t);
}

static void proto_data_received(weir_protocol *p, const void *data, size_t len) {
    /* The only failure is data after EOF, which a correct transport never sends; asyncio
     * would raise inside the transport's callback and lose the bytes too. */
    (void)weir_reader_feed(writer_of(p)->r, data, len);
}

static bool proto_eof_received(weir_protocol *p) {
    weir_reader_feed_eof(writer_of(p)->r);
    /* Keep our write side open: the peer half-closed, we may still answer. */
    return true;
}

static void proto_connection_lost(weir_protocol *p, int error) {
    weir_writer *w = writer_of(p);
    if (w->conn_lost) return;
    w->conn_lost = true;
    w->lost_error = error;
    if (error == 0) {
        weir_reader_feed_eof(w->r);
    } else {
        const char *msg = weir_strerror(error);
        /* A code >= 0 other than 0 is a transport bug; report it as a plain loss. */
        if (error > 0 || weir_reader_set_exception(w->r, error, msg, strlen(msg)) != 0)
            weir_reader_feed_eof(w->r);
    }
    list_wake_all(&w->drainers, error);
    list_wake_all(&w->closers, error);
}

static void proto_pause_writing(weir_protocol *p) { writer_of(p)->paused = true; }

static void proto_resume_writing(weir_protocol *p) {
    weir_writer *w = writer_of(p);
    w->paused = false;
    list_wake_all(&w->drainers, WEIR_OK);
}

static const weir_protocol_ops stream_protocol_ops = {
    .connection_made = proto_connection_made,
    .data_received = proto_data_received,
    .eof_received = proto_eof_received,
    .connection_lost = proto_connection_lost,
    .pause_writing = proto_pause_writing,
    .resume_writing = proto_resume_writing,
};

/* --- opening and freeing ------------------------------------------------------------ */

int weir_stream_open(weir_loop *loop, weir_transport *t, int64_t limit, weir_reader **r,
                     weir_writer **w) {
    if (r) *r = NULL;
    if (w) *w = NULL;
    if (!loop || !t || !t->ops || !r || !w || limit <= 0) return WEIR_EINVAL;
    /* The calls the writer makes without checking: a transport must provide them. */
    if (!t->ops->write || !t->ops->close || !t->ops->abort || !t->ops->is_closing)
        return WEIR_EINVAL;
    weir_writer *wr = calloc(1, sizeof *wr);
    if (!wr) return WEIR_ENOMEM;
    int rc = weir_reader_new(limit, &wr->r);
    if (rc) {
        free(wr);
        return rc;
    }
    wr->proto.ops = &stream_protocol_ops;
    wr->loop = loop;
    t->protocol = &wr->proto;
    /* The transport exists before its protocol here, so we announce the connection
     * ourselves; a transport calling connection_made again does no harm. */
    proto_connection_made(&wr->proto, t);
    *r = wr->r;
    *w = wr;
    return WEIR_OK;
}

void weir_writer_free(weir_writer *w) {
    if (!w) return;
    weir_transport *t = w->t;
    /* Anything not yet delivered is dropped: close and wait_closed first to flush. */
    if (!w->conn_lost) t->ops->abort(t);
    /* Tasks still blocked on this writer must not come back to it: release them now. */
    list_wake_all(&w->drainers, WEIR_ECONNLOST);
    list_wake_all(&w->closers, WEIR_ECONNLOST);
    /* Detach before freeing, so the transport has nobody to call if it still has events in
     * flight; the transport's free makes its scheduled callbacks harmless. */
    t->protocol = NULL;
    weir_reader_set_transport(w->r, NULL);
    if (t->ops->free) t->ops->free(t);
    weir_reader_free(w->r);
    free(w);
}

/* --- writing ------------------------------------------------------------------------ */

int weir_write(weir_writer *w, const void *data, size_t len) {
    if (!w || (!data && len > 0)) return WEIR_EINVAL;
    /* Checked here too, in asyncio's order (closed, empty, lost), so the promised errors hold
     * even over a transport that drops late writes silently, as asyncio's do. */
    if (w->write_closed) return WEIR_ECLOSED;
    if (len == 0) return WEIR_OK;
    if (w->conn_lost) return WEIR_ECONNLOST;
    return w->t->ops->write(w->t, data, len);
}

int weir_writelines(weir_writer *w, const weir_bytes *bufs, size_t n) {
    if (!w || (!bufs && n > 0)) return WEIR_EINVAL;
    /* Check every buffer first, so a bad one queues nothing. */
    for (size_t i = 0; i < n; i++)
        if (!bufs[i].data && bufs[i].len > 0) return WEIR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = weir_write(w, bufs[i].data, bufs[i].len);
        if (rc) return rc;
    }
    return WEIR_OK;
}

int weir_drain(weir_writer *w) {
    if (!w) return WEIR_EINVAL;
    const weir_error *e = weir_reader_exception(w->r);
    if (e) return e->code;
    /* A closing transport reports connection_lost on a later tick: step aside once so it
     * arrives before we look (asyncio's `await sleep(0)`, python/asyncio#263). */
    if (w->t->ops->is_closing(w->t) && weir_task_current()) {
        int rc = weir_yield();
        if (rc) return rc;
    }
    if (w->conn_lost) return WEIR_ECONNLOST;
    if (!w->paused) return WEIR_OK;
    return list_wait(&w->drainers, "drain");
}

int weir_write_eof(weir_writer *w) {
    if (!w) return WEIR_EINVAL;
    if (!w->t->ops->write_eof) return WEIR_ENOTSUP;
    int rc = w->t->ops->write_eof(w->t);
    if (rc == 0) w->write_closed = true;
    return rc;
}

bool weir_can_write_eof(weir_writer *w) {
    return w && w->t->ops->can_write_eof && w->t->ops->can_write_eof(w->t);
}

void weir_writer_close(weir_writer *w) {
    if (!w) return;
    w->write_closed = true;
    w->t->ops->close(w->t);
}

bool weir_writer_is_closing(weir_writer *w) { return w && w->t->ops->is_closing(w->t); }

int weir_wait_closed(weir_writer *w) {
    if (!w) return WEIR_EINVAL;
    if (w->conn_lost) return w->lost_error;
    return list_wait(&w->closers, "wait_closed");
}

/* --- the rest passes through to the transport --------------------------------------- */

int weir_get_extra_info(weir_writer *w, const char *name, weir_extra *out) {
    if (!w || !name || !out) return WEIR_EINVAL;
    *out = (weir_extra){0};
    if (!w->t->ops->get_extra_info) return WEIR_ENOENT;
    return w->t->ops->get_extra_info(w->t, name, out);
}

int weir_writer_set_limits(weir_writer *w, int64_t high, int64_t low) {
    if (!w || high < -1 || low < -1) return WEIR_EINVAL;
    /* asyncio's _set_write_buffer_limits: derive what was not given. */
    if (high == -1) {
        if (low == -1)
            high = WEIR_DEFAULT_HIGH_WATER;
        else if (low > INT64_MAX / 4)
            return WEIR_EINVAL;
        else
            high = 4 * low;
    }
    if (low == -1) low = high / 4;
    if (high < low || (uint64_t)high > SIZE_MAX) return WEIR_EINVAL;
    if (!w->t->ops->set_write_buffer_limits) return WEIR_ENOTSUP;
    return w->t->ops->set_write_buffer_limits(w->t, (size_t)high, (size_t)low);
}

void weir_writer_get_limits(weir_writer *w, size_t *high, size_t *low) {
    size_t h = 0, l = 0;
    if (w && w->t->ops->get_write_buffer_limits) w->t->ops->get_write_buffer_limits(w->t, &h, &l);
    if (high) *high = h;
    if (low) *low = l;
}

size_t weir_writer_buffer_size(weir_writer *w) {
    return w && w->t->ops->write_buffer_size ? w->t->ops->write_buffer_size(w->t) : 0;
}

weir_reader *weir_writer_reader(weir_writer *w) { return w ? w->r : NULL; }

weir_transport *weir_writer_transport(weir_writer *w) { return w ? w->t : NULL; }
