/* examples/fuzz_http_head.c - fuzz a readuntil-based parser under every network schedule.
 *
 * The parser under test reads one HTTP request head with weir_http_read_head() (readuntil
 * "\r\n\r\n", then a sans-IO parse) and answers 200 or 400. The fuzz input decides both the
 * bytes the client sends and how the network delivers them: segment sizes, delays, and an
 * EOF or a reset at any byte (weir/fuzz.h, docs/fuzzing.md). The property checked: however
 * the bytes were chopped, the streamed result is what a one-shot parse of the same bytes
 * gives, or a clean error.
 *
 *   make fuzz && build/fuzz/fuzz_http_head fuzz/corpus/fuzz_http_head     (libFuzzer)
 *   build/examples/fuzz_http_head CRASH-FILE          replay it with its timeline
 *   build/examples/fuzz_http_head --scenario http_head_parser CRASH-FILE > x.scn
 *   build/examples/fuzz_http_head --run x.scn         the scenario, as a regression test */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/fuzz.h"
#include "weir/weir.h"

#define LIMIT 1024

/* Where "\r\n\r\n" ends in b, or 0. */
static size_t head_end(weir_bytes b) {
    for (size_t i = 3; i < b.len; i++)
        if (memcmp(b.data + i - 3, "\r\n\r\n", 4) == 0) return i + 1;
    return 0;
}

static void fail(const char *why) {
    fprintf(stderr, "fuzz_http_head: %s\n", why);
    abort();
}

static void check(int rc, const weir_http_head *h) {
    weir_bytes sent = weir_fuzz_payload();
    if (!sent.data) return; /* not under the harness: nothing to compare with */
    size_t end = head_end(sent);
    weir_http_head whole;
    if (rc == 0) { /* a head that ends within the limit parses as it does in one piece */
        if (h->len != end || weir_http_parse_head(sent.data, end, &whole) != 0)
            fail("a head was read that is not the one sent");
        if (whole.nheaders != h->nheaders || whole.status != h->status)
            fail("the head parsed differently in pieces");
        for (size_t i = 0; i < h->nheaders; i++)
            if (!weir_bytes_eq(whole.headers[i].name, h->headers[i].name) ||
                !weir_bytes_eq(whole.headers[i].value, h->headers[i].value))
                fail("a header parsed differently in pieces");
    } else if (rc == WEIR_EMALFORMED) {
        if (!end || weir_http_parse_head(sent.data, end, &whole) != WEIR_EMALFORMED ||
            whole.error_at != h->error_at)
            fail("malformed in pieces, not in one");
    } else if (rc == WEIR_ELIMIT) {
        if ((end && end - 4 <= LIMIT) || h->consumed <= LIMIT)
            fail("LimitOverrunError for a head within the limit");
    } else if (rc == WEIR_EINCOMPLETE) {
        if ((end && h->partial >= end) || h->partial > sent.len)
            fail("IncompleteReadError with the whole head there");
    } else if (rc != WEIR_ECONNRESET && rc != WEIR_ECANCELED) {
        /* ECANCELED: the stream stayed open and the run ended with the parser waiting. */
        fail("not a clean error");
    }
}

/* The parser under test: a server's first step. */
static int http_head_parser(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_http_head h;
    int rc = weir_http_read_head(r, &h);
    check(rc, &h);
    const char *reply = rc == 0 ? "HTTP/1.1 200 OK\r\n\r\n" : "HTTP/1.1 400 Bad Request\r\n\r\n";
    if (weir_write(w, reply, strlen(reply)) == 0) (void)weir_drain(w);
    return rc;
}

/* The fuzz target: this is all it takes. */
static const weir_fuzz_opts opts = {.limit = LIMIT, .max_segment = 32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return weir_fuzz_run(data, size, &opts, http_head_parser, NULL);
}

/* Built without a fuzzing engine (the Makefile's `make`), the same file replays inputs, and
 * runs the scenario files made from them with the parser registered by name. fuzz/build.sh
 * defines WEIR_FUZZ_ENGINE, since libFuzzer (or its standalone stand-in) has a main(). */
#ifndef WEIR_FUZZ_ENGINE
static int run_scenarios(int n, char **paths) {
    int failed = 0;
    for (int i = 0; i < n; i++) {
        weir_scenario_file *f;
        weir_scenario_error err;
        if (weir_scenario_load(paths[i], &f, &err) != 0) {
            fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
            return 2;
        }
        failed += weir_scenario_run_tap(&f, 1, NULL, stdout) != 0;
        weir_scenario_file_free(f);
    }
    return failed != 0;
}

int main(int argc, char **argv) {
    weir_handler_register("http_head_parser", http_head_parser, NULL);
    if (argc > 1 && strcmp(argv[1], "--run") == 0) return run_scenarios(argc - 2, argv + 2);
    return weir_fuzz_main(argc, argv, &opts, http_head_parser, NULL);
}
#endif
