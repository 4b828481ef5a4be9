/* sim/fuzz_replay.c - what to do with an input the fuzzer found: replay it with its
 * timeline, turn it into a scenario file (a regression test that needs neither libFuzzer
 * nor the decision bytes), and a main() that does both for a fuzz target built without
 * libFuzzer. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/fuzz_internal.h"

/* --- replay ------------------------------------------------------------------------- */

static void print_summary(FILE *out, const weir_fuzz_report *r) {
    fprintf(out, "# payload %zu bytes, decisions %zu bytes (%llu draws); end %s after byte %zu\n",
            r->payload_len, r->decisions_len, (unsigned long long)r->draws,
            weir__fuzz_end_name(r->end), r->end_at);
    fprintf(out, "# delivered %zu bytes in %zu segments%s", r->delivered, r->segments,
            r->eof ? ", then EOF" : "");
    if (r->lost) fprintf(out, ", connection lost: %s", weir_errname(r->lost));
    fprintf(out, "; the parser replied %zu bytes\n", r->replied);
    if (r->parser_done && r->parser_rc < 0)
        fprintf(out, "# parser returned %s\n", weir_errname(r->parser_rc));
    else if (r->parser_done)
        fprintf(out, "# parser returned %d\n", r->parser_rc);
    else
        fprintf(out, "# parser did not return%s\n", r->hung ? ": HUNG after its stream ended" : "");
    fprintf(out, "# run %s at %lld ns, trace hash 0x%016llx\n",
            r->run_rc ? weir_errname(r->run_rc) : "finished", (long long)r->end_time,
            (unsigned long long)r->trace_hash);
}

int weir_fuzz_replay(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                     weir_handler parser, void *arg, FILE *out) {
    weir_fuzz_opts o = opts ? *opts : (weir_fuzz_opts){0};
    o.trace = out;
    weir_fuzz_report rep;
    int rc = weir__fuzz_run(data, size, &o, parser, arg, NULL, &rep);
    if (opts && opts->report) *opts->report = rep;
    if (rc == 0 && out) print_summary(out, &rep);
    return rc;
}

/* --- scenario files ----------------------------------------------------------------- */

/* Bytes in the scenario language's canonical quoting (docs/scenarios.md). */
static void put_quoted(FILE *out, const uint8_t *p, size_t n) {
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        const char *e = b == '\\'   ? "\\\\"
                        : b == '"'  ? "\\\""
                        : b == '\n' ? "\\n"
                        : b == '\r' ? "\\r"
                        : b == '\t' ? "\\t"
                        : b == 0    ? "\\0"
                                    : NULL;
        if (e)
            fputs(e, out);
        else if (b >= 0x20 && b <= 0x7e)
            fputc(b, out);
        else
            fprintf(out, "\\x%02x", b);
    }
    fputc('"', out);
}

/* A virtual time as a scenario duration, in the largest unit that keeps it exact. */
static void put_time(FILE *out, int64_t ns) {
    if (ns == 0)
        fputs("0", out);
    else if (ns % WEIR_SEC == 0)
        fprintf(out, "%llds", (long long)(ns / WEIR_SEC));
    else if (ns % WEIR_MS == 0)
        fprintf(out, "%lldms", (long long)(ns / WEIR_MS));
    else if (ns % WEIR_US == 0)
        fprintf(out, "%lldus", (long long)(ns / WEIR_US));
    else
        fprintf(out, "%lldns", (long long)ns);
}

static void put_name(FILE *out, const char *name, const char *fallback) {
    if (!name || !*name) name = fallback;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
        /* Names start with a letter or a digit. */
        if (p == name && !ok) fputc('x', out);
        fputc(ok ? ch : '_', out);
    }
}

/* The peer's steps: the payload written in the pieces and at the times it reached the
 * parser (links in the scenario are instant and unsegmented, so a write arrives whole and
 * at once), the ending, then what the parser replied and the end of its stream. Segments
 * that arrived at the same instant are one write: a reader cannot tell them apart (they
 * reach its buffer in the same callback), but separate steps would give the parser a turn
 * in between. */
static void put_steps(FILE *out, const weir_bytes payload, const weir_fuzz_report *r,
                      const weir__fuzz_log *log) {
    size_t off = 0;
    for (size_t i = 0; i < log->nsegs && off < payload.len;) {
        int64_t at = log->segs[i].at;
        size_t n = 0;
        for (; i < log->nsegs && log->segs[i].at == at; i++) n += log->segs[i].len;
        if (n > payload.len - off) n = payload.len - off;
        fputs("p: write ", out);
        put_quoted(out, payload.data + off, n);
        fputs(" at ", out);
        put_time(out, at);
        fputc('\n', out);
        off += n;
    }
    if (off < payload.len && r->end != WEIR_FUZZ_END_EOF_AT && r->end != WEIR_FUZZ_END_RESET_AT)
        fprintf(out, "# the parser never read the last %zu bytes: they are not sent\n",
                payload.len - off);
    if (r->end == WEIR_FUZZ_END_RESET_AT) {
        fputs("p: abort", out);
        if (log->lost_at >= 0) {
            fputs(" at ", out);
            put_time(out, log->lost_at);
        }
        fputc('\n', out);
        return;
    }
    if (r->end != WEIR_FUZZ_END_OPEN) {
        fputs("p: eof", out);
        if (log->eof_at >= 0) {
            fputs(" at ", out);
            put_time(out, log->eof_at);
        }
        fputc('\n', out);
    }
    if (log->reply_len) {
        fputs("p: expect ", out);
        put_quoted(out, log->reply, log->reply_len);
        fputc('\n', out);
    }
    /* A parser that was still waiting when the run ended closes nothing: the peer sees
     * neither EOF nor anything else within a second (a server still waiting at the end of
     * a scenario is not a failure). */
    if (r->parser_done)
        fputs("p: expect eof\n", out);
    else
        fputs("p: read 1 => TimeoutError within 1s\n", out);
}

int weir_fuzz_write_scenario(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                             weir_handler parser, void *arg, const char *handler, const char *name,
                             FILE *out) {
    if (!out || !handler || !*handler) return WEIR_EINVAL;
    weir_fuzz_opts o = opts ? *opts : (weir_fuzz_opts){0};
    o.trace = NULL;
    o.allow_hang = true;
    weir_fuzz_report rep;
    weir__fuzz_log log;
    int rc = weir__fuzz_run(data, size, &o, parser, arg, &log, &rep);
    if (opts && opts->report) *opts->report = rep;
    if (rc == 0 && log.no_memory) rc = WEIR_ENOMEM;
    if (rc) {
        weir__fuzz_log_free(&log);
        return rc;
    }
    weir_bytes payload;
    weir_fuzz_split(data, size, &o, &payload, NULL);
    fprintf(out,
            "# From a fuzz input (weir_fuzz_write_scenario): %zu payload bytes, %zu decision\n"
            "# bytes. They drew %zu segments and the ending %s after byte %zu. The server runs\n"
            "# the parser registered as \"%s\" in the binary that runs this file, which\n"
            "# returned ",
            rep.payload_len, rep.decisions_len, log.nsegs, weir__fuzz_end_name(rep.end), rep.end_at,
            handler);
    if (!rep.parser_done)
        fputs("nothing when this was written (it was still waiting at the end).\n", out);
    else if (rep.parser_rc < 0)
        fprintf(out, "%s when this was written.\n", weir_errname(rep.parser_rc));
    else
        fprintf(out, "%d when this was written.\n", rep.parser_rc);
    fputs("scenario ", out);
    put_name(out, name, "fuzz_input");
    fputs("\nhost peer 10.0.0.1\nhost parser 10.0.0.2\nserver parser:7 ", out);
    put_name(out, handler, "parser");
    if (o.limit) fprintf(out, " limit=%lld", (long long)o.limit);
    fputs("\npeer p on peer connect parser:7\n", out);
    put_steps(out, payload, &rep, &log);
    weir__fuzz_log_free(&log);
    return ferror(out) ? WEIR_EIO : WEIR_OK;
}

/* --- a main() ----------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

typedef struct main_ctx {
    const weir_fuzz_opts *opts;
    weir_handler parser;
    void *arg;
    bool quiet;
    const char *handler; /* --scenario */
} main_ctx;

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int one_file(const main_ctx *m, const char *path) {
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data) {
        perror(path);
        return 1;
    }
    weir_fuzz_opts o = m->opts ? *m->opts : (weir_fuzz_opts){0};
    weir_fuzz_report rep = {0};
    o.report = &rep;
    o.allow_hang = true;
    int rc;
    if (m->handler) {
        rc = weir_fuzz_write_scenario(data, len, &o, m->parser, m->arg, m->handler, base_name(path),
                                      stdout);
    } else if (m->quiet) {
        rc = weir_fuzz_run(data, len, &o, m->parser, m->arg);
        if (rc == 0)
            printf("%s: delivered %zu of %zu bytes in %zu segments, %s, parser %s%s\n", path,
                   rep.delivered, rep.payload_len, rep.segments, weir__fuzz_end_name(rep.end),
                   rep.parser_done ? "returned" : "still waiting", rep.hung ? " (HUNG)" : "");
    } else {
        printf("# %s\n", path);
        rc = weir_fuzz_replay(data, len, &o, m->parser, m->arg, stdout);
    }
    free(data);
    fflush(stdout);
    if (rc) fprintf(stderr, "%s: %s\n", path, weir_strerror(rc));
    return rc || rep.hung;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file in dir (not recursively), in name order. */
static int one_dir(const main_ctx *m, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *p);
            if (!p) break;
            names = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if ((names[n] = malloc(len)) == NULL) break;
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        bad |= one_file(m, names[i]);
        free(names[i]);
    }
    free(names);
    return bad;
}

int weir_fuzz_main(int argc, char **argv, const weir_fuzz_opts *opts, weir_handler parser,
                   void *arg) {
    main_ctx m = {.opts = opts, .parser = parser, .arg = arg};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "-q") == 0) {
            m.quiet = true;
        } else if (strcmp(argv[first], "--scenario") == 0 && first + 1 < argc) {
            m.handler = argv[++first];
        } else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else {
            first = argc; /* unknown option: usage */
        }
    }
    if (first >= argc) {
        fprintf(stderr,
                "usage: %s [-q] [--scenario HANDLER] FILE|DIR...\n"
                "  replay fuzz inputs with their timelines (-q: a line each), or print them as\n"
                "  scenarios whose server runs the parser registered as HANDLER\n",
                argc > 0 ? argv[0] : "fuzz");
        return 2;
    }
    int bad = 0;
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            bad = 1;
        } else {
            bad |= S_ISDIR(st.st_mode) ? one_dir(&m, argv[i]) : one_file(&m, argv[i]);
        }
    }
    return bad;
}
