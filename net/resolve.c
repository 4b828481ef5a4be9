/* net/resolve.c - name resolution that does not block the loop (asyncio's loop.getaddrinfo,
 * which runs getaddrinfo in the loop's default executor).
 *
 * An address literal is resolved on the loop's thread with AI_NUMERICHOST: that never
 * touches DNS or /etc/hosts, so it cannot wait. A name goes to a pool of at most
 * MAX_THREADS threads per loop, started on first need; requests beyond that wait in a FIFO
 * queue. The task that asked blocks (weir__wait) as in any other call, so its cancellation
 * and its deadline end the wait at once. A thread that finishes a lookup writes a byte into
 * a pipe that the loop watches while requests are pending, and the loop's callback wakes the
 * tasks whose requests are done.
 *
 * Ownership, the rule everything below follows:
 *
 * - The pool (mutex, queue, pipe) is shared by the loop and its threads and counted: one
 *   reference for the loop, one for each thread. Whoever drops the last one closes the pipe
 *   and frees it, so the pipe outlives every thread that may still write into it, and no
 *   thread ever writes to a closed (or reused) descriptor.
 * - A request has one owner at a time, and changes owner only under pool->mu:
 *     QUEUED   in pool->queue: the loop's. A task that gives up takes it out and frees it.
 *     RUNNING  taken by a thread: the thread's, and nobody else frees it. When the lookup
 *              returns, the thread frees the request (and its result) if it was abandoned
 *              meanwhile (the task gave up, or the loop was freed); otherwise it marks it
 *              DONE and writes a byte into the pipe.
 *     DONE     the loop's again: the waiting task takes the result and frees the request.
 * - The loop also lists its own requests (`pending`), touched only on the loop's thread: to
 *   find the tasks to wake, and to clean up when the loop is freed.
 *
 * So weir_loop_free never waits for a lookup: it frees the requests that are queued or done,
 * marks the running ones abandoned, tells idle threads to exit (pool->gone) and drops the
 * loop's reference. getaddrinfo cannot be interrupted, so a busy thread outlives the loop by
 * as long as its lookup takes, holding nothing but its request and its pool reference. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/poll_internal.h"

#define MAX_THREADS 4 /* per loop; each holds one lookup, so more would only queue in DNS */

typedef enum { REQ_QUEUED, REQ_RUNNING, REQ_DONE } req_state;

typedef struct request request;
struct request {
    /* Set before the request is queued and never changed: a thread reads them unlocked. */
    char *host;
    char serv[16];
    struct addrinfo hints;
    weir__gai_fn gai;
    /* Guarded by pool->mu. */
    req_state state;
    bool abandoned;
    request *qnext; /* pool->head's queue */
    int gai_rc, gai_errno;
    struct addrinfo *res;
    /* The loop's thread only. */
    weir__waiter *waiter; /* the asking task's, on its stack */
    request *prev, *next; /* weir__resolver.pending */
};

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a request was queued, or the loop is gone */
    int refs;            /* the loop's (until it is freed) + one per thread */
    bool gone;           /* the loop was freed: idle threads exit */
    request *head, *tail;
    size_t queued;
    int threads, idle;
    int rd, wr; /* the wake-up pipe, both ends non-blocking */
} pool;

struct weir__resolver {
    weir__poll *p;
    weir__gai_fn gai; /* getaddrinfo, or a test's stand-in */
    pool *pool;       /* NULL until the first name */
    weir__io io;      /* pool->rd; wants POLLIN while a request is pending */
    request *pending;
};

/* Threads alive in the whole process (tests wait for them to be gone). */
static atomic_int live_threads;

int weir__resolver_threads(void) { return atomic_load(&live_threads); }

/* --- errors --------------------------------------------------------------------------- */

static int gai_code(int rc, int err) {
    switch (rc) {
        case 0:
            return WEIR_OK;
        case EAI_MEMORY:
            return WEIR_ENOMEM;
        case EAI_SYSTEM:
            return weir__errno_code(err);
        case EAI_FAMILY:
        case EAI_SERVICE:
        case EAI_SOCKTYPE:
        case EAI_BADFLAGS:
            return WEIR_EINVAL;
        default:
            /* EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_NODATA: the name does not resolve. */
            return WEIR_ENOENT;
    }
}

/* --- the pool ------------------------------------------------------------------------- */

static void request_free(request *r) {
    if (r->res) freeaddrinfo(r->res);
    free(r->host);
    free(r);
}

static void pool_destroy(pool *pl) {
    close(pl->rd);
    close(pl->wr);
    pthread_cond_destroy(&pl->work);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}

static pool *pool_new(void) {
    pool *pl = calloc(1, sizeof *pl);
    if (!pl) return NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        free(pl);
        return NULL;
    }
    pl->rd = fds[0];
    pl->wr = fds[1];
    bool ok = !weir__fd_nonblock_cloexec(pl->rd) && !weir__fd_nonblock_cloexec(pl->wr);
    bool mu = ok && pthread_mutex_init(&pl->mu, NULL) == 0;
    bool cv = mu && pthread_cond_init(&pl->work, NULL) == 0;
    if (!cv) {
        if (mu) pthread_mutex_destroy(&pl->mu);
        close(pl->rd);
        close(pl->wr);
        free(pl);
        return NULL;
    }
    pl->refs = 1;
    return pl;
}

/* Take r out of the queue (pl->mu held; r is QUEUED). */
static void queue_remove(pool *pl, request *r) {
    request **pp = &pl->head;
    request *prev = NULL;
    while (*pp != r) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    *pp = r->qnext;
    if (pl->tail == r) pl->tail = prev;
    pl->queued--;
}

static void *thread_main(void *arg) {
    pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->gone && !pl->head) {
            pl->idle++;
            pthread_cond_wait(&pl->work, &pl->mu);
            pl->idle--;
        }
        if (pl->gone) break;
        request *r = pl->head;
        queue_remove(pl, r);
        r->state = REQ_RUNNING;
        pthread_mutex_unlock(&pl->mu);

        struct addrinfo *res = NULL;
        int rc = r->gai(r->host, r->serv, &r->hints, &res);
        int err = errno; /* for EAI_SYSTEM; errno is this thread's */

        pthread_mutex_lock(&pl->mu);
        r->res = rc == 0 ? res : NULL; /* res is undefined after a failure */
        if (r->abandoned) {
            request_free(r);
            continue;
        }
        r->gai_rc = rc;
        r->gai_errno = err;
        r->state = REQ_DONE;
        /* EAGAIN: the pipe is full, so a wake-up is pending anyway. */
        while (write(pl->wr, "", 1) < 0 && errno == EINTR) {
        }
    }
    pl->threads--;
    bool last = --pl->refs == 0;
    pthread_mutex_unlock(&pl->mu);
    if (last) pool_destroy(pl);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

/* Start one more (detached) thread; pl->mu held. Signals are blocked in it, so that a
 * signal meant for the program (a SIGALRM that interrupts poll) is not taken by a
 * resolver thread instead. */
static bool start_thread(pool *pl) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Counted first: the thread may finish and uncount itself before create returns. */
    pl->refs++;
    pl->threads++;
    atomic_fetch_add(&live_threads, 1);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, thread_main, pl);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pl->refs--;
        pl->threads--;
        atomic_fetch_sub(&live_threads, 1);
        return false;
    }
    return true;
}

/* --- the loop's side ------------------------------------------------------------------ */

/* The pipe is readable: wake every task whose request is done. The pipe is drained before
 * looking, so a lookup that finishes after the look writes a byte that brings us back. */
static void wake_ready(weir__io *io, int revents) {
    (void)revents;
    weir__resolver *rs = io->arg;
    char buf[64];
    while (read(rs->pool->rd, buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&rs->pool->mu);
    for (request *r = rs->pending; r; r = r->next)
        if (r->state == REQ_DONE) weir__wake(r->waiter, WEIR_OK); /* no-op if already woken */
    pthread_mutex_unlock(&rs->pool->mu);
}

static void pending_add(weir__resolver *rs, request *r) {
    r->prev = NULL;
    r->next = rs->pending;
    if (rs->pending) rs->pending->prev = r;
    rs->pending = r;
    weir__io_want(rs->p, &rs->io, POLLIN);
}

static void pending_remove(weir__resolver *rs, request *r) {
    if (r->prev)
        r->prev->next = r->next;
    else
        rs->pending = r->next;
    if (r->next) r->next->prev = r->prev;
    /* Nothing pending: the pipe is not watched, so an idle loop can still end its run. */
    if (!rs->pending) weir__io_want(rs->p, &rs->io, 0);
}

static weir__resolver *resolver_of(weir__poll *p) {
    weir__resolver **slot = weir__poll_resolver_slot(p);
    if (!*slot) {
        *slot = calloc(1, sizeof **slot);
        if (*slot) (*slot)->p = p;
    }
    return *slot;
}

/* Look host up in the pool, blocking the running task until the answer comes, the task is
 * cancelled or its deadline passes. */
static int resolve_in_pool(weir__resolver *rs, const char *host, const char *serv,
                           const struct addrinfo *hints, struct addrinfo **res) {
    if (!rs->pool && !(rs->pool = pool_new())) return WEIR_ENOMEM;
    if (!rs->io.slot) {
        int rc = weir__io_start(rs->p, &rs->io, rs->pool->rd, wake_ready, rs);
        if (rc) return rc;
    }
    request *r = calloc(1, sizeof *r);
    if (!r || !(r->host = strdup(host))) {
        free(r);
        return WEIR_ENOMEM;
    }
    snprintf(r->serv, sizeof r->serv, "%s", serv);
    r->hints = *hints;
    r->gai = rs->gai ? rs->gai : getaddrinfo;
    weir__waiter w = {.what = "getaddrinfo"};
    r->waiter = &w;

    pool *pl = rs->pool;
    pthread_mutex_lock(&pl->mu);
    r->state = REQ_QUEUED;
    if (pl->tail)
        pl->tail->qnext = r;
    else
        pl->head = r;
    pl->tail = r;
    pl->queued++;
    /* A thread for each request not already covered by an idle one, up to the bound. */
    if (pl->queued > (size_t)pl->idle && pl->threads < MAX_THREADS) start_thread(pl);
    if (pl->threads == 0) {
        /* No thread could be started and none exists to take the request. */
        queue_remove(pl, r);
        pthread_mutex_unlock(&pl->mu);
        request_free(r);
        return WEIR_ENOMEM;
    }
    pthread_cond_signal(&pl->work);
    pthread_mutex_unlock(&pl->mu);

    pending_add(rs, r);
    int rc = weir__wait(&w);
    pending_remove(rs, r);

    pthread_mutex_lock(&pl->mu);
    if (r->state == REQ_RUNNING) {
        /* Cancelled or out of time during the lookup: the thread frees it when done. */
        r->abandoned = true;
        pthread_mutex_unlock(&pl->mu);
        return rc;
    }
    if (r->state == REQ_QUEUED) queue_remove(pl, r);
    pthread_mutex_unlock(&pl->mu);
    /* QUEUED or DONE: ours. A task that gave up drops even a result that came meanwhile. */
    if (rc == 0) {
        rc = gai_code(r->gai_rc, r->gai_errno);
        *res = r->res;
        r->res = NULL;
    }
    request_free(r);
    return rc;
}

void weir__resolver_free(weir__resolver *rs) {
    if (!rs) return;
    weir__io_stop(rs->p, &rs->io);
    pool *pl = rs->pool;
    if (pl) {
        pthread_mutex_lock(&pl->mu);
        /* Tasks still waiting here were never resumed (weir_loop_free frees them), so their
         * waiters are gone: only the requests are looked at. */
        request *next;
        for (request *r = rs->pending; r; r = next) {
            next = r->next;
            if (r->state == REQ_RUNNING) {
                r->abandoned = true;
                continue;
            }
            if (r->state == REQ_QUEUED) queue_remove(pl, r);
            request_free(r);
        }
        pl->gone = true;
        pthread_cond_broadcast(&pl->work);
        bool last = --pl->refs == 0;
        pthread_mutex_unlock(&pl->mu);
        if (last) pool_destroy(pl);
    }
    free(rs);
}

void weir__poll_set_resolver(weir_loop *loop, weir__gai_fn fn) {
    weir__poll *p = weir__poll_of(loop);
    weir__resolver *rs = p ? resolver_of(p) : NULL;
    if (rs) rs->gai = fn;
}

/* --- resolving ------------------------------------------------------------------------ */

int weir__poll_resolve(weir__poll *p, const char *host, int port, int flags,
                       struct addrinfo **res) {
    *res = NULL;
    char serv[16];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags | AI_NUMERICSERV | (host ? AI_NUMERICHOST : 0);
    int rc = getaddrinfo(host, serv, &hints, res);
    if (rc != EAI_NONAME || !host) {
        if (rc) *res = NULL;
        return gai_code(rc, errno);
    }
    /* A name. */
    *res = NULL;
    hints.ai_flags &= ~AI_NUMERICHOST;
    weir__resolver *rs = resolver_of(p);
    if (!rs) return WEIR_ENOMEM;
    if (weir_task_current() && weir_current_loop() == weir__poll_loop(p))
        return resolve_in_pool(rs, host, serv, &hints, res);
    /* No task of this loop to block (weir_start_server called before the loop runs): the
     * lookup blocks the calling thread, which is not running the loop. */
    rc = (rs->gai ? rs->gai : getaddrinfo)(host, serv, &hints, res);
    if (rc) *res = NULL;
    return gai_code(rc, errno);
}
