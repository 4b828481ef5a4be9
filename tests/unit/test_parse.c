/* tests/unit/test_parse.c - the scenario parser: good files give the right steps, every
 * malformed file is rejected at the right line and column, and no input crashes it.
 *
 * The malformed fixtures are the .scn files in tests/bad-scenarios; the first line of each says
 * what must be reported: "# error: LINE:COL: MESSAGE" (MESSAGE: the start of the message). They
 * live outside scenarios/ because `make run` runs everything under scenarios/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/net_internal.h"
#include "runner/scenario_internal.h"
#include "tap.h"
#include "weir/error.h"

static const char *source_dir(void) {
    const char *d = getenv("WEIR_SOURCE");
    return d != NULL ? d : ".";
}

/* Parse a string literal (so NUL bytes can be part of it). */
#define PARSE(lit, f, err) weir_scenario_parse((lit), sizeof(lit) - 1, "t.scn", (f), (err))

/* Every step of f, one line each: "LINE: STEP" or "LINE: STEP => EXPECT", scenarios as
 * "scenario NAME". */
static char *render(const weir_scenario_file *f) {
    weir__buf b = {0};
    for (size_t i = 0; i < f->count; i++) {
        const weir__scenario *sc = &f->scenarios[i];
        weir__buf_printf(&b, "%d: scenario %s\n", sc->line, (const char *)sc->name.data);
        for (size_t k = 0; k < sc->nsteps; k++) {
            const weir__step *s = &sc->steps[k];
            weir__buf_printf(&b, "%d: ", s->line);
            weir__fmt_step(&b, s);
            if (s->expect.kind != WEIR__OUT_NONE) {
                weir__buf_printf(&b, " => ");
                weir__fmt_outcome(&b, &s->expect);
            }
            weir__buf_putc(&b, '\n');
        }
    }
    if (b.data == NULL) weir__buf_printf(&b, "%s", "");
    return b.data;
}

static void is_text(const char *got, const char *want, const char *name) {
    int same = got != NULL && strcmp(got, want) == 0;
    ok(same, "%s", name);
    if (!same) printf("# got:\n%s\n# expected:\n%s\n", got ? got : "(null)", want);
}

/* ---- good input --------------------------------------------------------------------- */

static void test_every_step_kind(void) {
    static const char text[] = "# a file exercising every step and result form\n"
                               "\n"
                               "scenario first   # trailing comment\n"
                               "reader limit=3\n"
                               "  feed \"a\\\\b\\\"c\\n\\r\\t\\0\\x7F\\xff\"\n"
                               "\tfeed \"\" => AssertionError\n"
                               "eof\n"
                               "fail \"boom\"\n"
                               "read -1\n"
                               "read 0 => \"\"\n"
                               "readline => pending\n"
                               "readexactly 4 => IncompleteReadError partial=\"ab\" expected=4\n"
                               "readuntil \"x\" => IncompleteReadError partial=\"\" expected=none\n"
                               "readuntil \"\\r\\n\" \"\\n\" => LimitOverrunError consumed=-0\n"
                               "readuntil () => ValueError\n"
                               "read 1 => RuntimeError\n"
                               "read 1 => error \"boom\"\n"
                               "at_eof => true\n"
                               "paused => false\n"
                               "buffered => 007\n"
                               "exception => none\n"
                               "exception => error \"x y\"\n"
                               "await => \"done\"#comment right after\n"
                               "scenario second\r\n"
                               "reader limit=0 => ValueError\r\n"
                               "scenario empty";
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    int rc = PARSE(text, &f, &err);
    if (!is_int(rc, 0, "every step kind parses")) {
        printf("# %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    is_int(weir_scenario_count(f), 3, "three scenarios");
    ok(strcmp(weir_scenario_name(f, 1), "second") == 0, "scenario name");
    is_int(weir_scenario_line(f, 1), 24, "scenario line");
    ok(weir_scenario_name(f, 3) == NULL, "name out of range is NULL");
    ok(strcmp(weir_scenario_file_name(f), "t.scn") == 0, "file name kept");
    char *r = render(f);
    is_text(r,
            "3: scenario first\n"
            "4: reader limit=3\n"
            "5: feed \"a\\\\b\\\"c\\n\\r\\t\\0\\x7f\\xff\"\n"
            "6: feed \"\" => AssertionError\n"
            "7: eof\n"
            "8: fail \"boom\"\n"
            "9: read -1\n"
            "10: read 0 => \"\"\n"
            "11: readline => pending\n"
            "12: readexactly 4 => IncompleteReadError partial=\"ab\" expected=4\n"
            "13: readuntil \"x\" => IncompleteReadError partial=\"\" expected=none\n"
            "14: readuntil \"\\r\\n\" \"\\n\" => LimitOverrunError consumed=0\n"
            "15: readuntil () => ValueError\n"
            "16: read 1 => RuntimeError\n"
            "17: read 1 => error \"boom\"\n"
            "18: at_eof => true\n"
            "19: paused => false\n"
            "20: buffered => 7\n"
            "21: exception => none\n"
            "22: exception => error \"x y\"\n"
            "23: await => \"done\"\n"
            "24: scenario second\n"
            "25: reader limit=0 => ValueError\n"
            "26: scenario empty\n",
            "steps render canonically");
    free(r);

    const weir__step *s = &f->scenarios[0].steps[1];
    is_mem(s->data.data, s->data.len, "a\\b\"c\n\r\t\0\x7f\xff", 11, "escapes decode to bytes");
    s = &f->scenarios[0].steps[10];
    is_int(s->nseps, 2, "readuntil tuple has two separators");
    is_bytes(s->seps[0], "\r\n", "first separator");
    is_int(f->scenarios[0].steps[11].nseps, 0, "readuntil () is the empty tuple");
    ok(f->scenarios[0].steps[9].expect.none, "expected=none is none");
    weir_scenario_file_free(f);
}

static void test_numbers(void) {
    static const char text[] = "scenario n\n"
                               "read 9223372036854775807\n"
                               "readexactly -9223372036854775808\n"
                               "read -0\n"
                               "read 1 => IncompleteReadError partial=\"\" expected=-5\n";
    weir_scenario_file *f = NULL;
    if (!is_int(PARSE(text, &f, NULL), 0, "int64 extremes parse")) return;
    const weir__step *s = f->scenarios[0].steps;
    ok(s[0].n == INT64_MAX, "INT64_MAX");
    ok(s[1].n == INT64_MIN, "INT64_MIN");
    ok(s[2].n == 0, "-0 is 0");
    ok(s[3].expect.num == -5 && !s[3].expect.none, "expected=-5 is a number, not none");
    weir_scenario_file_free(f);
}

static void test_edges(void) {
    weir_scenario_file *f = (weir_scenario_file *)1;
    weir_scenario_error err;
    is_int(weir_scenario_parse(NULL, 0, NULL, &f, &err), 0, "empty input parses");
    ok(f != NULL && weir_scenario_count(f) == 0, "empty input has no scenarios");
    ok(strcmp(err.file, "<input>") == 0, "a NULL name is <input>");
    weir_scenario_file_free(f);
    is_int(weir_scenario_parse(NULL, 3, "x", &f, &err), WEIR_EINVAL, "NULL data with a length");
    ok(f == NULL, "no file on failure");
    is_int(weir_scenario_parse("", 0, "x", NULL, &err), WEIR_EINVAL, "NULL out");
    weir_scenario_file_free(NULL);

    /* NUL bytes: any byte may be in a string; in a word it makes an unknown word. */
    is_int(PARSE("scenario s\nfeed \"a\0b\"\nread 3 => \"a\0b\"\n", &f, &err), 0,
           "raw NUL inside a string is a byte like any other");
    if (f != NULL) is_bytes(f->scenarios[0].steps[0].data, "a\0b", "NUL kept");
    weir_scenario_file_free(f);
    is_int(PARSE("scenario s\nfe\0ed \"x\"\n", &f, &err), WEIR_EINVAL, "NUL in a keyword");
    ok(err.line == 2 && err.col == 1 && strcmp(err.message, "unknown step 'fe\\x00ed'") == 0,
       "NUL in a keyword: 2:1 unknown step (got %d:%d %s)", err.line, err.col, err.message);
    is_int(PARSE("scenario a\0b\nfeed \"x\"\n", &f, &err), 0, "NUL in a name is accepted");
    if (f != NULL) is_int(f->scenarios[0].name.len, 3, "the name keeps its NUL");
    weir_scenario_file_free(f);
    is_int(PARSE("\0", &f, &err), WEIR_EINVAL, "a lone NUL");
    ok(err.line == 1 && err.col == 1, "a lone NUL: 1:1");
    is_int(PARSE("scenario s\nread 1 => \"\\\0\"\n", &f, &err), WEIR_EINVAL, "escaped NUL byte");
    ok(err.line == 2 && err.col == 12 &&
           strcmp(err.message, "unknown escape: \\ followed by byte 0x00") == 0,
       "escaped NUL byte: 2:12 unknown escape (got %d:%d %s)", err.line, err.col, err.message);

    /* High bytes in messages are shown the way the reference runner shows them. */
    is_int(PARSE("\xe9t\xe9 \x85", &f, &err), WEIR_EINVAL, "latin-1 keyword");
    ok(strcmp(err.message, "unknown step '\xc3\xa9t\xc3\xa9'") == 0, "shown as UTF-8: %s",
       err.message);
    is_int(PARSE("it's", &f, &err), WEIR_EINVAL, "quote in keyword");
    ok(strcmp(err.message, "unknown step \"it's\"") == 0, "repr switches quotes: %s", err.message);

    /* A "\r" only counts as part of a line ending at the end of a line. */
    is_int(PARSE("scenario s\r\neof\r\r\n", &f, &err), WEIR_EINVAL, "lone CR before CRLF");
    ok(err.line == 2 && err.col == 1, "eof\\r is an unknown word at 2:1");
    is_int(PARSE("scenario s\r\nfeed \"\r\"\r\n", &f, &err), 0, "CR inside a string is a byte");
    if (f != NULL) is_bytes(f->scenarios[0].steps[0].data, "\r", "CR kept");
    weir_scenario_file_free(f);

    /* Errors on the last line without a newline, and positions at the line's end. */
    is_int(PARSE("scenario s\nread", &f, &err), WEIR_EINVAL, "read without n at EOF");
    ok(err.line == 2 && err.col == 5, "points just past the line (got %d:%d)", err.line, err.col);
    is_int(PARSE("scenario s\nreadline =>\t# c", &f, &err), WEIR_EINVAL, "=> then comment");
    ok(err.line == 2 && err.col == 13, "points at the comment (got %d:%d)", err.line, err.col);
    is_int(PARSE("scenario s\nreader => ValueError\n", &f, &err), WEIR_EINVAL, "reader no limit");
    ok(err.line == 2 && err.col == 8 && strcmp(err.message, "expected limit=N") == 0,
       "reader without limit points at the arrow (got %d:%d %s)", err.line, err.col, err.message);
}

/* Caps keep memory bounded; going over one is a clear error, not an allocation. */
static void test_limits(void) {
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    size_t n = WEIR_SCENARIO_MAX_LINE + 100;
    char *big = malloc(n + 32);
    if (!ok(big != NULL, "allocate a big line")) return;

    /* A line of exactly the maximum is fine; one byte more is not. */
    int len = snprintf(big, 32, "scenario s\nfeed \"");
    size_t line_start = 11, room = WEIR_SCENARIO_MAX_LINE - 7;
    memset(big + len, 'x', room);
    memcpy(big + len + room, "\"\n", 2);
    size_t total = (size_t)len + room + 2;
    is_int(weir_scenario_parse(big, total, "big", &f, &err), 0, "a line of the maximum length");
    if (f != NULL) is_int(f->scenarios[0].steps[0].data.len, room, "its string is whole");
    weir_scenario_file_free(f);
    memcpy(big + len + room, "x\"\n", 3);
    is_int(weir_scenario_parse(big, total + 1, "big", &f, &err), WEIR_EINVAL, "one byte more");
    ok(err.line == 2 && err.col == (int)WEIR_SCENARIO_MAX_LINE + 1, "line too long at 2:%d",
       err.col);
    ok(strstr(err.message, "line longer than") != NULL, "message: %s", err.message);
    (void)line_start;

    /* An unterminated string running for a megabyte. */
    is_int(weir_scenario_parse(big, total - 2, "big", &f, &err), WEIR_EINVAL, "huge unterminated");

    /* Separators and tokens. */
    weir__buf b = {0};
    weir__buf_printf(&b, "scenario s\nreaduntil");
    for (int i = 0; i < WEIR_SCENARIO_MAX_SEPARATORS; i++) weir__buf_printf(&b, " \"%d\"", i);
    is_int(weir_scenario_parse(b.data, b.len, "seps", &f, &err), 0, "the maximum of separators");
    weir_scenario_file_free(f);
    size_t col = b.len - 11 + 1;
    weir__buf_printf(&b, " \"last\"");
    is_int(weir_scenario_parse(b.data, b.len, "seps", &f, &err), WEIR_EINVAL, "one more");
    ok(err.line == 2 && err.col == (int)col + 1 && strstr(err.message, "too many separators"),
       "too many separators at 2:%zu (got %d:%d %s)", col + 1, err.line, err.col, err.message);
    weir__buf_reset(&b);
    weir__buf_printf(&b, "scenario s\n");
    for (int i = 0; i <= WEIR_SCENARIO_MAX_TOKENS; i++) weir__buf_printf(&b, "w ");
    is_int(weir_scenario_parse(b.data, b.len, "toks", &f, &err), WEIR_EINVAL, "too many tokens");
    ok(err.line == 2 && err.col == 2 * WEIR_SCENARIO_MAX_TOKENS + 1,
       "too many tokens at the first one over (got %d:%d)", err.line, err.col);

    /* Steps per scenario and scenarios per file. */
    weir__buf_reset(&b);
    weir__buf_printf(&b, "scenario s\n");
    for (int i = 0; i <= WEIR_SCENARIO_MAX_STEPS; i++) weir__buf_printf(&b, "eof\n");
    is_int(weir_scenario_parse(b.data, b.len, "steps", &f, &err), WEIR_EINVAL, "too many steps");
    ok(err.line == WEIR_SCENARIO_MAX_STEPS + 2 && err.col == 1, "at the first step over");
    weir__buf_reset(&b);
    for (int i = 0; i <= WEIR_SCENARIO_MAX_SCENARIOS; i++) weir__buf_printf(&b, "scenario s\n");
    is_int(weir_scenario_parse(b.data, b.len, "many", &f, &err), WEIR_EINVAL, "too many scenarios");
    ok(err.line == WEIR_SCENARIO_MAX_SCENARIOS + 1, "at the first scenario over");
    weir__buf_free(&b);

    is_int(weir_scenario_parse(big, (size_t)WEIR_SCENARIO_MAX_INPUT + 1, "huge", &f, &err),
           WEIR_EINVAL, "input over the size limit");
    ok(err.line == 1 && err.col == 1, "reported at 1:1");
    free(big);
}

/* ---- the fixtures ------------------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_fixture(const char *dir, const char *name) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        ok(0, "%s: path too long", name);
        return;
    }
    FILE *fp = fopen(path, "rb");
    char head[512] = "";
    if (fp != NULL) {
        if (fgets(head, sizeof head, fp) == NULL) head[0] = '\0';
        fclose(fp);
    }
    int line = 0, col = 0, skip = 0;
    if (sscanf(head, "# error: %d:%d: %n", &line, &col, &skip) < 2 || skip == 0) {
        ok(0, "%s: first line is \"# error: LINE:COL: MESSAGE\"", name);
        return;
    }
    char *want = head + skip;
    want[strcspn(want, "\n")] = '\0';
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    int rc = weir_scenario_load(path, &f, &err);
    int good = rc == WEIR_EINVAL && err.line == line && err.col == col &&
               strncmp(err.message, want, strlen(want)) == 0 && strcmp(err.file, path) == 0;
    ok(good, "%s is rejected at %d:%d: %s", name, line, col, want);
    if (!good)
        printf("#   got rc %d, %s:%d:%d: %s\n", rc, err.file, err.line, err.col, err.message);
    weir_scenario_file_free(f);
}

static void test_fixtures(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/bad-scenarios", source_dir());
    DIR *d = opendir(dir);
    if (!ok(d != NULL, "open %s", dir)) return;
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 512) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".scn") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    ok(n >= 40, "found %zu malformed fixtures", n);
    for (size_t i = 0; i < n; i++) {
        check_fixture(dir, names[i]);
        free(names[i]);
    }
}

/* Every hand-written scenario parses, and its canonical rendering parses back to itself. */
static void test_round_trip(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/scenarios/reader", source_dir());
    DIR *d = opendir(dir);
    if (!ok(d != NULL, "open %s", dir)) return;
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".scn") != 0) continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        weir_scenario_file *f = NULL, *g = NULL;
        weir_scenario_error err;
        if (!is_int(weir_scenario_load(path, &f, &err), 0, "%s parses", e->d_name)) {
            printf("#   %s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
            continue;
        }
        files++;
        /* Re-emit as a file: the same scenarios, one step per line, line numbers aside. */
        weir__buf text = {0};
        for (size_t i = 0; i < f->count; i++) {
            const weir__scenario *sc = &f->scenarios[i];
            weir__buf_printf(&text, "scenario %s\n", (const char *)sc->name.data);
            for (size_t k = 0; k < sc->nsteps; k++) {
                weir__fmt_step(&text, &sc->steps[k]);
                if (sc->steps[k].expect.kind != WEIR__OUT_NONE) {
                    weir__buf_printf(&text, " => ");
                    weir__fmt_outcome(&text, &sc->steps[k].expect);
                }
                weir__buf_putc(&text, '\n');
            }
        }
        int rc = weir_scenario_parse(text.data, text.len, "re-emitted", &g, &err);
        int same = rc == 0 && g->count == f->count;
        for (size_t i = 0; same && i < f->count; i++) {
            const weir__scenario *a = &f->scenarios[i], *b = &g->scenarios[i];
            same = a->nsteps == b->nsteps && weir_bytes_eq(a->name, b->name);
            for (size_t k = 0; same && k < a->nsteps; k++) {
                const weir__step *x = &a->steps[k], *y = &b->steps[k];
                same = x->kind == y->kind && x->n == y->n && weir_bytes_eq(x->data, y->data) &&
                       x->nseps == y->nseps && weir__outcome_eq(&x->expect, &y->expect);
                for (size_t j = 0; same && j < x->nseps; j++)
                    same = weir_bytes_eq(x->seps[j], y->seps[j]);
            }
        }
        ok(same, "%s round-trips through its canonical text", e->d_name);
        weir__buf_free(&text);
        weir_scenario_file_free(f);
        weir_scenario_file_free(g);
    }
    closedir(d);
    ok(files >= 10, "parsed %zu scenario files", files);
}

/* ---- no input crashes it ------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Whatever comes back must be a well-formed answer: a file, or a position inside the
 * input and a message. */
static int sane(const uint8_t *data, size_t len) {
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    int rc = weir_scenario_parse(data, len, "fuzz", &f, &err);
    int good;
    if (rc == 0) {
        good = f != NULL;
    } else {
        size_t lines = 1;
        for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
        good = rc == WEIR_EINVAL && f == NULL && err.line >= 1 && (size_t)err.line <= lines &&
               err.col >= 1 && (size_t)err.col <= len + 1 && err.message[0] != '\0';
    }
    weir_scenario_file_free(f);
    return good;
}

static void test_random_inputs(void) {
    static const char *const pieces[] = {
        "scenario ",
        "s",
        "\n",
        " ",
        "\t",
        "\"",
        "\\",
        "\\x",
        "4",
        "f",
        "#",
        "=>",
        "feed ",
        "read ",
        "readuntil ",
        "()",
        "reader limit=",
        "-",
        "9223372036854775808",
        "partial=",
        "expected=",
        "consumed=",
        "IncompleteReadError ",
        "LimitOverrunError ",
        "error ",
        "pending",
        "await => ",
        "exception => ",
        "\r",
        "\0",
        "\xff",
        "0",
        "true",
        "none",
    };
    size_t npieces = sizeof pieces / sizeof pieces[0];
    uint8_t buf[512];
    int bad = 0;
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = 0;
        if (iter % 2 == 0) {
            size_t n = next_rand() % sizeof buf;
            for (len = 0; len < n; len++) buf[len] = (uint8_t)next_rand();
        } else {
            size_t n = next_rand() % 40;
            for (size_t i = 0; i < n; i++) {
                const char *p = pieces[next_rand() % npieces];
                size_t pl = p[0] == '\0' ? 1 : strlen(p);
                if (len + pl > sizeof buf) break;
                memcpy(buf + len, p, pl);
                len += pl;
            }
        }
        if (!sane(buf, len) && bad++ < 5) {
            printf("# bad answer for input:");
            for (size_t i = 0; i < len; i++) printf(" %02x", buf[i]);
            printf("\n");
        }
    }
    is_int(bad, 0, "30000 random inputs: every answer is a file or a positioned error");
}

/* ---- network scenarios ------------------------------------------------------------- */

static void test_net_every_line(void) {
    static const char text[] =
        "scenario net   # a network scenario\n"
        "host client 10.0.0.1,fd00::1\n"
        "host server\n"
        "link client <-> server latency=1..50ms jitter=0..2ms bandwidth=1MB/s segment=1..7 "
        "window=4KiB connect_delay=1ms\n"
        "link * -> server   segment=0\n"
        "fault reset server -> client port=7 at=10ms after=3..9 pattern=\"a\\nb\" nth=2 p=0.25\n"
        "fault hold client -> server for=50ms\n"
        "fault limit_data server -> client bytes=1KB\n"
        "server server:7 http_responder status=404 body=\"no\\n\"\n"
        "peer c on client connect server:7\n"
        "peer s on server listen 81\n"
        "c: connect at 1ms => ConnectionRefusedError within 5ms\n"
        "c: send \"ab\" * 3\n"
        "c: write \"x\"\n"
        "c: drain\n"
        "c: sleep 2s\n"
        "c: expect \"ab\" within 10ms after 1us\n"
        "c: expect eof\n"
        "c: expect reset\n"
        "c: read 4 => eof\n"
        "c: readline => IncompleteReadError\n"
        "c: readexactly 2 => IncompleteReadError partial=\"a\" expected=2\n"
        "c: readuntil \"\\r\\n\" \"\\n\" => LimitOverrunError\n"
        "c: eof\n"
        "c: close => BrokenPipeError\n"
        "s: accept\n"
        "s: abort\n"
        "run line_client on client connect=[fd00::1]:7 lines=\"a\\nb\" => ok sent=2 "
        "received=2 after 1ms\n"
        "run http_get on client connect=10.0.0.1:7 at 3ms => WEIR_EMALFORMED\n"
        "c: readline => TimeoutError within 100ms\n"
        "c: buffered => 3\n"
        "s: at_eof at 2ms => true within 1ms\n";
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    int rc = PARSE(text, &f, &err);
    if (!is_int(rc, 0, "a network scenario with every line kind parses")) {
        printf("#   %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    is_int(weir_scenario_is_network(f, 0), 1, "it is a network scenario");
    char *got = render(f);
    is_text(got,
            "1: scenario net\n"
            "2: host client 10.0.0.1,fd00::1\n"
            "3: host server\n"
            "4: link client <-> server latency=1..50ms jitter=0..2ms bandwidth=1MB/s "
            "segment=1..7 window=4KiB connect_delay=1ms\n"
            "5: link * -> server segment=0\n"
            "6: fault reset server -> client port=7 at=10ms after=3..9 pattern=\"a\\nb\" nth=2 "
            "p=0.25\n"
            "7: fault hold client -> server for=50ms\n"
            "8: fault limit_data server -> client bytes=1KB\n"
            "9: server server:7 http_responder status=404 body=\"no\\n\"\n"
            "10: peer c on client connect server:7\n"
            "11: peer s on server listen 81\n"
            "12: c: connect at 1ms => ConnectionRefusedError\n"
            "13: c: send \"ab\" * 3\n"
            "14: c: write \"x\"\n"
            "15: c: drain\n"
            "16: c: sleep 2s\n"
            "17: c: expect \"ab\" => \"ab\"\n"
            "18: c: expect eof => eof\n"
            "19: c: expect reset => ConnectionResetError\n"
            "20: c: read 4 => eof\n"
            "21: c: readline => IncompleteReadError\n"
            "22: c: readexactly 2 => IncompleteReadError partial=\"a\" expected=2\n"
            "23: c: readuntil \"\\r\\n\" \"\\n\" => LimitOverrunError\n"
            "24: c: eof\n"
            "25: c: close => BrokenPipeError\n"
            "26: s: accept\n"
            "27: s: abort\n"
            "28: run line_client on client connect=[fd00::1]:7 lines=\"a\\nb\" => ok\n"
            "29: run http_get on client connect=10.0.0.1:7 at 3ms => WEIR_EMALFORMED\n"
            "30: c: readline => TimeoutError\n"
            "31: c: buffered => 3\n"
            "32: s: at_eof at 2ms => true\n",
            "each line in canonical form (single spaces, strings re-escaped)");
    free(got);
    const weir__scenario *sc = &f->scenarios[0];
    const weir__decl *link = sc->steps[2].decl;
    ok(link->both_ways && link->latency.lo == 1000000 && link->latency.hi == 50000000 &&
           link->jitter.hi == 2000000 && link->bandwidth.lo == 1000000 && link->segment.lo == 1 &&
           link->segment.hi == 7 && link->window.lo == 4096 && link->connect_delay.lo == 1000000,
       "link settings: durations in ns, sizes in bytes, ranges kept");
    const weir__decl *fault = sc->steps[4].decl;
    ok(fault->fault == 2 && fault->port == 7 && fault->at.lo == 10000000 && fault->after.lo == 3 &&
           fault->after.hi == 9 && fault->has_pattern && fault->pattern.len == 3 &&
           fault->nth.lo == 2 && fault->p == 0.25,
       "fault triggers");
    ok(sc->steps[6].decl->bytes.lo == 1000 && sc->steps[5].decl->duration.lo == 50000000,
       "fault effects");
    const weir__step *conn = &sc->steps[10], *send = &sc->steps[11], *exp = &sc->steps[15];
    ok(conn->peer == 0 && conn->has_at && conn->at == 1000000 && conn->has_within &&
           conn->within == 5000000 && !conn->has_after,
       "at and within");
    ok(send->repeat == 3 && send->data.len == 2, "a repeated string is kept once, with its count");
    ok(exp->has_within && exp->has_after && exp->after == 1000, "within and after together");
    const weir__step *run = &sc->steps[26];
    ok(run->decl->port == 7 && strcmp((const char *)run->decl->target.data, "fd00::1") == 0 &&
           run->nchecks == 2 && run->decl->nargs == 2 &&
           memcmp(run->decl->args[1].value.data, "a\nb", 3) == 0,
       "run: target from connect=, arguments, result checks");
    ok(sc->steps[25].peer == 1, "steps know their peer");
    const weir__step *buf = &sc->steps[29], *at_eof = &sc->steps[30];
    ok(buf->kind == WEIR__STEP_BUFFERED && buf->peer == 0 && buf->expect.kind == WEIR__OUT_COUNT &&
           buf->expect.num == 3,
       "a peer's buffered => N");
    ok(at_eof->kind == WEIR__STEP_AT_EOF && at_eof->peer == 1 &&
           at_eof->expect.kind == WEIR__OUT_TRUE && at_eof->has_at && at_eof->has_within,
       "a peer's at_eof => true|false, with time clauses like any peer step");
    weir_scenario_file_free(f);

    /* The reader grammar is untouched: network words mean nothing in a reader scenario. */
    rc = PARSE("scenario r\nfeed \"x\"\nc: send \"x\"\n", &f, &err);
    ok(rc == WEIR_EINVAL && err.line == 3 && err.col == 1 &&
           strcmp(err.message, "unknown step 'c:'") == 0,
       "NAME: in a reader scenario is an unknown step, as before");
    rc = PARSE("scenario r\nread 1 => ConnectionResetError\n", &f, &err);
    ok(rc == WEIR_EINVAL && strcmp(err.message, "unknown result 'ConnectionResetError'") == 0,
       "network results are unknown in a reader scenario");
    rc = PARSE("scenario r\nfeed \"x\"\nscenario n\nhost a\nscenario r2\neof\n", &f, &err);
    if (is_int(rc, 0, "reader and network scenarios mix in one file")) {
        ok(!weir_scenario_is_network(f, 0) && weir_scenario_is_network(f, 1) &&
               !weir_scenario_is_network(f, 2) && !weir_scenario_is_network(f, 9),
           "each knows its kind");
        weir_scenario_file_free(f);
    }
}

static void test_net_values(void) {
    static const struct {
        const char *text;
        weir__value_kind kind;
        int r;
        int64_t lo, hi;
    } cases[] = {
        {"5ms", WEIR__VAL_DURATION, 1, 5000000, 5000000},
        {"0", WEIR__VAL_DURATION, 1, 0, 0},
        {"7ns", WEIR__VAL_DURATION, 1, 7, 7},
        {"3us..2ms", WEIR__VAL_DURATION, 1, 3000, 2000000},
        {"1..50ms", WEIR__VAL_DURATION, 1, 1000000, 50000000},
        {"2s", WEIR__VAL_DURATION, 1, 2000000000, 2000000000},
        {"5", WEIR__VAL_DURATION, 0, 0, 0},
        {"5m", WEIR__VAL_DURATION, 0, 0, 0},
        {"-5ms", WEIR__VAL_DURATION, 0, 0, 0},
        {"ms", WEIR__VAL_DURATION, 0, 0, 0},
        {"1..", WEIR__VAL_DURATION, 0, 0, 0},
        {"9..1ms", WEIR__VAL_DURATION, -1, 0, 0},
        {"9223372037s", WEIR__VAL_DURATION, -1, 0, 0},
        {"99999999999999999999ms", WEIR__VAL_DURATION, -1, 0, 0},
        {"4096", WEIR__VAL_SIZE, 1, 4096, 4096},
        {"64KB", WEIR__VAL_SIZE, 1, 64000, 64000},
        {"1MiB", WEIR__VAL_SIZE, 1, 1048576, 1048576},
        {"1..2KiB", WEIR__VAL_SIZE, 1, 1024, 2048},
        {"1MB/s", WEIR__VAL_SIZE, 0, 0, 0},
        {"1MB/s", WEIR__VAL_RATE, 1, 1000000, 1000000},
        {"250/s", WEIR__VAL_RATE, 1, 250, 250},
        {"3", WEIR__VAL_COUNT, 1, 3, 3},
        {"2..5", WEIR__VAL_COUNT, 1, 2, 5},
        {"3KB", WEIR__VAL_COUNT, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir__range r = {false, -1, -1};
        const char *why = NULL;
        int got = weir__parse_value(weir_bytes_of(cases[i].text, strlen(cases[i].text)),
                                    cases[i].kind, true, &r, &why);
        bool good = got == cases[i].r &&
                    (got != 1 || (r.set && r.lo == cases[i].lo && r.hi == cases[i].hi)) &&
                    (got >= 0 || why != NULL);
        ok(good, "value %s -> %d", cases[i].text, cases[i].r);
        if (!good) printf("#   got %d [%lld, %lld]\n", got, (long long)r.lo, (long long)r.hi);
    }
    weir__range r;
    const char *why = NULL;
    ok(weir__parse_value(weir_bytes_of("1..2ms", 6), WEIR__VAL_DURATION, false, &r, &why) == -1 &&
           why != NULL,
       "a range where none is allowed");
    static const struct {
        const char *text;
        int r;
        double p;
    } probs[] = {{"0", 1, 0},           {"1", 1, 1},
                 {"0.25", 1, 0.25},     {"1.0", 1, 1},
                 {"1.01", 0, 0},        {".5", 0, 0},
                 {"0.", 0, 0},          {"2", 0, 0},
                 {"0.5x", 0, 0},        {"0.123456789", 1, 0.123456789},
                 {"0.1234567891", 0, 0}};
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++) {
        double p = -1;
        int got = weir__parse_probability(weir_bytes_of(probs[i].text, strlen(probs[i].text)), &p);
        ok(got == probs[i].r && (got == 0 || p == probs[i].p), "probability %s", probs[i].text);
    }
}

/* Random network lines after a valid prefix: never a crash, always a file or a positioned
 * error. */
static void test_net_random_inputs(void) {
    static const char *const pieces[] = {
        "host ",
        "link ",
        "fault ",
        "server ",
        "peer ",
        "run ",
        "c: ",
        "d: ",
        "a",
        "b",
        "c",
        " ",
        "\n",
        "->",
        "<->",
        "*",
        ":",
        "7",
        "0",
        "..",
        "ms",
        "latency=",
        "segment=",
        "window=",
        "bandwidth=",
        "port=",
        "at=",
        "after=",
        "pattern=",
        "nth=",
        "p=",
        "for=",
        "bytes=",
        "on ",
        "connect ",
        "listen ",
        "send ",
        "expect ",
        "readline",
        "eof",
        "reset",
        "=>",
        "within ",
        "after ",
        "at ",
        "\"x\"",
        "*",
        "1..",
        "0.5",
        "connect=",
        "lines=",
        "ok",
        "WEIR_E",
        "ConnectionResetError",
        "reset ",
        "hold ",
        "limit_data ",
        "\0",
        "\xff",
        "#",
        "9999999999999999999",
        "[",
        "]",
        "::1",
        "10.0.0.",
    };
    size_t npieces = sizeof pieces / sizeof pieces[0];
    static const char prefix[] = "scenario s\nhost a\nhost b\npeer c on a connect b:1\n";
    uint8_t buf[600];
    int bad = 0, accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = sizeof prefix - 1;
        memcpy(buf, prefix, len);
        size_t n = next_rand() % 30;
        for (size_t i = 0; i < n; i++) {
            const char *p = pieces[next_rand() % npieces];
            size_t pl = p[0] == '\0' ? 1 : strlen(p);
            if (len + pl > sizeof buf) break;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        weir_scenario_file *f = NULL;
        weir_scenario_error err;
        if (weir_scenario_parse(buf, len, "t.scn", &f, &err) == 0) accepted++;
        weir_scenario_file_free(f);
        if (!sane(buf, len) && bad++ < 5) {
            printf("# bad answer for input:");
            for (size_t i = 0; i < len; i++) printf(" %02x", buf[i]);
            printf("\n");
        }
    }
    is_int(bad, 0, "20000 random network inputs: every answer is a file or a positioned error");
    ok(accepted > 100, "and some of them are accepted (%d)", accepted);
}

int main(void) {
    test_every_step_kind();
    test_net_every_line();
    test_net_values();
    test_net_random_inputs();
    test_numbers();
    test_edges();
    test_limits();
    test_fixtures();
    test_round_trip();
    test_random_inputs();
    return done_testing();
}
