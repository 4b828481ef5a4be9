/* tools/sweep.c - run scenarios over a range of seeds and report them as one TAP stream.
 *
 * The work is a list of (scenario, seed) runs. With --jobs N, N forked workers take every
 * N-th seed of each scenario and send their results back through a pipe; the parent merges
 * them and prints each scenario once all its seeds are in, in file order and seed order.
 * So the output depends only on the files, the seeds and the flags, never on how many
 * workers ran or which finished first. With one job the same records go straight from the
 * runs to the merger, in this process. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/run_internal.h"
#include "tools/cli.h"

/* One run's result as it travels from a worker. */
typedef struct rec_hdr {
    uint32_t unit;
    int32_t rc;   /* 1 passed, 0 failed, < 0 the runner's own error */
    uint64_t k;   /* the seed's index in the shard */
    uint32_t len; /* bytes of diagnostics that follow */
} rec_hdr;

typedef struct seed_text {
    uint64_t k;
    char *text;
    size_t len;
} seed_text;

typedef struct unit_state {
    uint64_t received;
    uint64_t *fails; /* indices of failing seeds, as they come */
    size_t nfails, cap_fails;
    seed_text *texts; /* diagnostics to print, any order until printed */
    size_t ntexts, cap_texts;
    int error; /* the first runner error, if any */
} unit_state;

typedef struct merger {
    const weir__cli_sweep *sw;
    FILE *out;
    unit_state *units;
    size_t next;   /* the next unit to print */
    size_t failed; /* units printed as not ok */
    uint64_t done, total, nfail_runs;
    int oom;
} merger;

static uint64_t seeds_of(const weir__cli_sweep *sw, size_t u) {
    return sw->units[u].network ? sw->count : 1;
}

/* Keep every seed's diagnostics when they are what was asked for (--verbose, --trace) or
 * when there is only one seed; otherwise only the first failing seed's. */
static bool keep_all(const weir__cli_sweep *sw, size_t u) {
    return (sw->flags & (WEIR_SCENARIO_VERBOSE | WEIR_SCENARIO_TRACE)) || seeds_of(sw, u) == 1;
}

/* ---- output ------------------------------------------------------------------------- */

static void put_name(FILE *out, const char *name) {
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p > 0x20 && *p < 0x7f)
            fputc(*p, out);
        else
            fprintf(out, "\\x%02x", *p);
    }
}

/* A word for a shell: as it is when it is plain, else in single quotes. */
static void put_shell_word(FILE *out, const char *w) {
    bool plain = *w != '\0';
    for (const char *p = w; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-",
                       *p) != NULL;
    if (plain) {
        fputs(w, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", out);
        else
            fputc(*p, out);
    }
    fputc('\'', out);
}

static void put_seeds(FILE *out, const weir__cli_sweep *sw) {
    if (!sw->range && sw->count == 1)
        fprintf(out, "seed %" PRIu64, sw->lo);
    else if (sw->count == 1)
        fprintf(out, "seeds %" PRIu64 "..%" PRIu64 ", seed %" PRIu64, sw->first,
                sw->first + sw->total - 1, sw->lo);
    else
        fprintf(out, "seeds %" PRIu64 "..%" PRIu64, sw->lo, sw->lo + sw->count - 1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_text(const void *a, const void *b) {
    return cmp_u64(&((const seed_text *)a)->k, &((const seed_text *)b)->k);
}

static void print_unit(merger *M, size_t u) {
    const weir__cli_sweep *sw = M->sw;
    const weir__cli_unit *un = &sw->units[u];
    unit_state *st = &M->units[u];
    FILE *out = M->out;
    bool bad = st->nfails > 0 || st->error != 0;
    if (bad) M->failed++;
    fprintf(out, "%sok %zu - %s: ", bad ? "not " : "", u + 1, weir_scenario_file_name(un->file));
    put_name(out, weir_scenario_name(un->file, un->index));
    if (un->network && sw->count == 0) {
        fprintf(out, " # SKIP no seeds in shard %" PRIu64 "/%" PRIu64 "\n", sw->shard_k,
                sw->shard_n);
        return;
    }
    if (un->network) {
        fputs(" (", out);
        put_seeds(out, sw);
        if (sw->count > 1 && st->nfails > 0) fprintf(out, ": %zu failed", st->nfails);
        fputc(')', out);
    }
    fputc('\n', out);
    if (st->ntexts > 1) qsort(st->texts, st->ntexts, sizeof *st->texts, cmp_text);
    bool headers = un->network && sw->count > 1;
    for (size_t i = 0; i < st->ntexts; i++) {
        if (st->texts[i].len == 0) continue;
        if (headers) fprintf(out, "# seed %" PRIu64 ":\n", sw->lo + st->texts[i].k);
        fwrite(st->texts[i].text, 1, st->texts[i].len, out);
    }
    if (st->error != 0) fprintf(out, "# the runner failed: %s\n", weir_strerror(st->error));
    if (headers && !bad && (sw->flags & WEIR_SCENARIO_CHECK_DETERMINISM))
        fprintf(out, "# deterministic for all %" PRIu64 " seeds\n", sw->count);
    for (size_t i = 0; i < st->ntexts; i++) free(st->texts[i].text);
    st->ntexts = 0;
    fflush(out);
}

/* The failing seeds, each with a command that reproduces it, at most `MAX_REPRO` per
 * scenario. */
#define MAX_REPRO 100

static void print_repro(merger *M) {
    const weir__cli_sweep *sw = M->sw;
    FILE *out = M->out;
    fprintf(out, "# failing runs, each with the command that reproduces it:\n");
    for (size_t u = 0; u < sw->nunits; u++) {
        unit_state *st = &M->units[u];
        const weir__cli_unit *un = &sw->units[u];
        size_t n = st->nfails;
        if (n == 0 && st->error == 0) continue;
        if (n > 1) qsort(st->fails, n, sizeof *st->fails, cmp_u64);
        if (n == 0) n = 1; /* a runner error: no seed failed, the scenario did */
        for (size_t i = 0; i < n && i < MAX_REPRO; i++) {
            fprintf(out, "#   %s run", sw->argv0);
            if (sw->flags & WEIR_SCENARIO_CHECK_DETERMINISM) fputs(" --check-determinism", out);
            if (un->network)
                fprintf(out, " --seed %" PRIu64, sw->lo + (st->nfails ? st->fails[i] : 0));
            fputc(' ', out);
            put_shell_word(out, weir_scenario_file_name(un->file));
            fputs(" --only ", out);
            put_shell_word(out, weir_scenario_name(un->file, un->index));
            fputc('\n', out);
        }
        if (n > MAX_REPRO)
            fprintf(out, "#   ... and %zu more failing seeds of this scenario\n", n - MAX_REPRO);
    }
}

/* ---- merging ------------------------------------------------------------------------ */

static void progress(merger *M) {
    if (!M->sw->progress) return;
    /* About every 1% of the runs, and at least every 64: often enough to look alive, cheap
     * enough for a sweep of a million runs. */
    uint64_t step = M->total / 100 > 64 ? 64 : M->total / 100 + 1;
    if (M->done % step != 0 && M->done != M->total) return;
    fprintf(stderr, "\rweir run: %" PRIu64 "/%" PRIu64 " runs, %" PRIu64 " failed", M->done,
            M->total, M->nfail_runs);
    fflush(stderr);
}

static int push(void **v, size_t *n, size_t *cap, size_t size, const void *item) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        void *p = realloc(*v, c * size);
        if (p == NULL) return -1;
        *v = p;
        *cap = c;
    }
    memcpy((char *)*v + *n * size, item, size);
    (*n)++;
    return 0;
}

static void merge(merger *M, const rec_hdr *h, const char *text) {
    const weir__cli_sweep *sw = M->sw;
    if (h->unit >= sw->nunits) return;
    unit_state *st = &M->units[h->unit];
    st->received++;
    M->done++;
    if (h->rc < 0 && st->error == 0) st->error = h->rc;
    bool failed = h->rc == 0;
    if (failed) {
        M->nfail_runs++;
        if (push((void **)&st->fails, &st->nfails, &st->cap_fails, sizeof h->k, &h->k) != 0)
            M->oom = 1;
    }
    bool keep = keep_all(sw, h->unit);
    if (!keep && failed) {
        /* Only the lowest failing seed's diagnostics are shown. */
        if (st->ntexts > 0 && st->texts[0].k < h->k) goto done;
        if (st->ntexts > 0) {
            free(st->texts[0].text);
            st->ntexts = 0;
        }
        keep = true;
    }
    if (keep && h->len > 0) {
        seed_text t = {h->k, malloc(h->len), h->len};
        if (t.text == NULL ||
            push((void **)&st->texts, &st->ntexts, &st->cap_texts, sizeof t, &t) != 0) {
            free(t.text);
            M->oom = 1;
        } else {
            memcpy(t.text, text, h->len);
        }
    }
done:
    progress(M);
    while (M->next < sw->nunits && M->units[M->next].received >= seeds_of(sw, M->next))
        print_unit(M, M->next++);
}

/* ---- running ------------------------------------------------------------------------ */

typedef void (*emit_fn)(void *ctx, const rec_hdr *h, const char *text);

/* Worker w of `jobs`: every jobs-th seed of each scenario, scenarios in order. */
static void work(const weir__cli_sweep *sw, int w, int jobs, emit_fn emit, void *ctx) {
    weir__buf diag = {0};
    for (size_t u = 0; u < sw->nunits; u++) {
        const weir__cli_unit *un = &sw->units[u];
        uint64_t n = seeds_of(sw, u);
        for (uint64_t k = (uint64_t)w; k < n; k += (uint64_t)jobs) {
            weir__buf_reset(&diag);
            int rc = weir__scenario_exec(un->file, un->index, sw->flags, sw->lo + k, &diag, NULL);
            rec_hdr h = {(uint32_t)u, rc, k, (uint32_t)diag.len};
            emit(ctx, &h, diag.data != NULL ? diag.data : "");
        }
    }
    weir__buf_free(&diag);
}

static void emit_local(void *ctx, const rec_hdr *h, const char *text) { merge(ctx, h, text); }

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) _exit(3); /* the parent is gone */
        c += k;
        n -= (size_t)k;
    }
}

static void emit_pipe(void *ctx, const rec_hdr *h, const char *text) {
    int fd = *(int *)ctx;
    write_all(fd, h, sizeof *h);
    write_all(fd, text, h->len);
}

typedef struct worker {
    pid_t pid;
    int fd;
    char *buf;
    size_t len, cap;
} worker;

/* Hand every complete record in w's buffer to the merger. */
static void drain_records(merger *M, worker *w) {
    size_t pos = 0;
    while (w->len - pos >= sizeof(rec_hdr)) {
        rec_hdr h;
        memcpy(&h, w->buf + pos, sizeof h);
        if (w->len - pos - sizeof h < h.len) break;
        merge(M, &h, w->buf + pos + sizeof h);
        pos += sizeof h + h.len;
    }
    memmove(w->buf, w->buf + pos, w->len - pos);
    w->len -= pos;
}

/* Fork the workers and merge what they send. 0, or -1 when a worker could not be started
 * or did not finish (what was complete has been printed). */
static int run_forked(const weir__cli_sweep *sw, merger *M) {
    int jobs = sw->jobs;
    worker *ws = calloc((size_t)jobs, sizeof *ws);
    if (ws == NULL) return -1;
    fflush(NULL);
    int started = 0, rc = 0;
    for (; started < jobs; started++) {
        int fds[2];
        if (pipe(fds) != 0) break;
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            for (int j = 0; j < started; j++) close(ws[j].fd);
            work(sw, started, jobs, emit_pipe, &fds[1]);
            close(fds[1]);
            _exit(0); /* no atexit handlers, no second flush of the parent's buffers */
        }
        close(fds[1]);
        ws[started].pid = pid;
        ws[started].fd = fds[0];
    }
    if (started < jobs) {
        fprintf(stderr, "weir: cannot start %d worker processes: %s\n", jobs, strerror(errno));
        for (int j = 0; j < started; j++) kill(ws[j].pid, SIGTERM);
        rc = -1;
    }
    struct pollfd *pfd = calloc((size_t)jobs, sizeof *pfd);
    int open_fds = started;
    while (open_fds > 0 && pfd != NULL && rc == 0) {
        for (int j = 0; j < started; j++) {
            pfd[j].fd = ws[j].fd;
            pfd[j].events = POLLIN;
            pfd[j].revents = 0;
        }
        if (poll(pfd, (nfds_t)started, -1) < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        for (int j = 0; j < started; j++) {
            worker *w = &ws[j];
            if (w->fd < 0 || !(pfd[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (w->cap - w->len < 65536) {
                size_t cap = w->cap ? w->cap * 2 : 131072;
                char *b = realloc(w->buf, cap);
                if (b == NULL) {
                    rc = -1;
                    break;
                }
                w->buf = b;
                w->cap = cap;
            }
            ssize_t n = read(w->fd, w->buf + w->len, w->cap - w->len);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                close(w->fd);
                w->fd = -1;
                pfd[j].fd = -1;
                open_fds--;
                continue;
            }
            w->len += (size_t)n;
            drain_records(M, w);
        }
    }
    for (int j = 0; j < started; j++) {
        int status = 0;
        if (ws[j].fd >= 0) close(ws[j].fd);
        if (waitpid(ws[j].pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            if (WIFSIGNALED(status))
                fprintf(stderr, "weir: worker %d died of signal %d\n", j + 1, WTERMSIG(status));
            else
                fprintf(stderr, "weir: worker %d failed\n", j + 1);
            rc = -1;
        }
        free(ws[j].buf);
    }
    free(pfd);
    free(ws);
    return rc;
}

int weir__cli_run_sweep(const weir__cli_sweep *sw, FILE *out) {
    merger M;
    memset(&M, 0, sizeof M);
    M.sw = sw;
    M.out = out;
    M.units = calloc(sw->nunits ? sw->nunits : 1, sizeof *M.units);
    if (M.units == NULL) {
        fprintf(stderr, "weir: out of memory\n");
        return 2;
    }
    for (size_t u = 0; u < sw->nunits; u++) M.total += seeds_of(sw, u);
    fprintf(out, "1..%zu\n", sw->nunits);
    /* Scenarios with no seeds to run (an empty shard) are complete from the start. */
    while (M.next < sw->nunits && seeds_of(sw, M.next) == 0) print_unit(&M, M.next++);
    int rc = 0;
    if (sw->jobs > 1)
        rc = run_forked(sw, &M);
    else
        work(sw, 0, 1, emit_local, &M);
    if (sw->progress) fputs("\r\033[K", stderr);
    int status = 0;
    if (rc != 0 || M.next < sw->nunits) {
        fprintf(out, "Bail out! not every run reported back\n");
        status = 2;
    } else if (M.failed > 0) {
        fprintf(out, "# %zu of %zu scenarios failed\n", M.failed, sw->nunits);
        print_repro(&M);
        status = 1;
    }
    if (M.oom) {
        fprintf(stderr, "weir: out of memory: some diagnostics are missing\n");
        status = 2;
    }
    for (size_t u = 0; u < sw->nunits; u++) {
        for (size_t i = 0; i < M.units[u].ntexts; i++) free(M.units[u].texts[i].text);
        free(M.units[u].texts);
        free(M.units[u].fails);
    }
    free(M.units);
    fflush(out);
    return status;
}
