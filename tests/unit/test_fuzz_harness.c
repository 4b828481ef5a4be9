/* tests/unit/test_fuzz_harness.c - weir/fuzz.h with hand-made inputs: the input format,
 * segmentation decoded from known decision bytes, EOF and reset placement, the endings
 * drawn, hangs, empty and oversized inputs, determinism, the replay timeline, and a crash
 * input turned into a scenario that replays the same reads. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "weir/fuzz.h"
#include "weir/weir.h"

/* What the parser saw: each read's size and time, and how its stream ended. */
#define MAXREADS 256
typedef struct seen {
    uint8_t data[4096];
    size_t len;
    size_t sizes[MAXREADS];
    int64_t times[MAXREADS];
    int nreads;
    int end;              /* 0 for EOF, else the read's error */
    bool payload_matches; /* weir_fuzz_payload() was the payload, inside the run */
    bool wait_forever;    /* after EOF, read again (a hang) */
} seen;

static const char *expect_payload; /* what weir_fuzz_payload() must give, or NULL */

static int recorder(weir_reader *r, weir_writer *w, void *arg) {
    seen *o = arg;
    if (expect_payload) {
        weir_bytes p = weir_fuzz_payload();
        o->payload_matches =
            p.data && p.len == strlen(expect_payload) && memcmp(p.data, expect_payload, p.len) == 0;
    }
    for (;;) {
        weir_bytes b;
        int rc = weir_read(r, 100, &b);
        if (rc || b.len == 0) {
            o->end = rc;
            break;
        }
        if (o->nreads < MAXREADS) {
            o->sizes[o->nreads] = b.len;
            o->times[o->nreads] = weir_now();
        }
        o->nreads++;
        if (o->len + b.len <= sizeof o->data) memcpy(o->data + o->len, b.data, b.len);
        o->len += b.len;
    }
    if (o->wait_forever) {
        weir_bytes b;
        (void)weir_readexactly(r, 1, &b); /* EOF again: returns at once, so sleep */
        weir_sleep(WEIR_FOREVER);
    }
    (void)weir_write(w, "ok\n", 3);
    return o->end ? o->end : 42;
}

/* An input from a payload and decision bytes. */
static size_t make_input(uint8_t *buf, size_t cap, const char *payload, const uint8_t *dec,
                         size_t ndec) {
    size_t n = weir_fuzz_pack(payload, strlen(payload), dec, ndec, buf, cap);
    if (n > cap) abort();
    return n;
}

static void test_split_and_pack(void) {
    uint8_t buf[64];
    size_t n = make_input(buf, sizeof buf, "hello", (const uint8_t *)"\x01\x02", 2);
    is_int(n, 9, "pack: 2 + 5 + 2 bytes");
    is_int(buf[0], 5, "pack: length, low byte first");
    is_int(buf[1], 0, "pack: length, high byte");
    weir_bytes p, d;
    weir_fuzz_split(buf, n, NULL, &p, &d);
    is_bytes(p, "hello", "split: the payload");
    is_bytes(d, "\x01\x02", "split: the decisions");

    /* N beyond the input: the payload is what there is, no decisions. */
    uint8_t short_in[] = {0xf4, 0x01, 'a', 'b', 'c'};
    weir_fuzz_split(short_in, sizeof short_in, NULL, &p, &d);
    is_bytes(p, "abc", "split: N = 500 with 3 bytes: the payload is the 3");
    is_int(d.len, 0, "split: and no decisions");

    /* max_payload cuts the payload; the decisions start right after the cut. */
    weir_fuzz_opts o = {.max_payload = 2};
    weir_fuzz_split(buf, n, &o, &p, &d);
    is_bytes(p, "he", "split: max_payload 2 cuts the payload");
    is_bytes(d, "llo\x01\x02", "split: the rest is decisions");

    weir_fuzz_split(buf, 1, NULL, &p, &d);
    ok(p.len == 0 && d.len == 0, "split: a 1-byte input is all header");
    weir_fuzz_split(NULL, 0, NULL, &p, &d);
    ok(p.len == 0 && d.len == 0, "split: an empty input");
    is_int(weir_fuzz_pack(NULL, 65536, NULL, 0, NULL, 0), 0, "pack: a payload over 65535");
    is_int(weir_fuzz_pack("x", 1, NULL, 0, NULL, 0), 3, "pack: the size needed, cap 0");
}

/* Sizes drawn from 1..4 with no delays and only the EOF ending: each decision byte is one
 * segment's size minus one, and segments arrive at the nanosecond of their last byte. */
static void test_segmentation(void) {
    static const uint8_t dec[] = {1, 0, 3}; /* 2, 1, 4, then (past the end) 1, 1, 1 */
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "abcdefghij", dec, sizeof dec);
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {
        .max_segment = 4, .max_delay = -1, .ends = WEIR_FUZZ_END_EOF, .report = &rep};
    expect_payload = "abcdefghij";
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "segmentation: ran");
    expect_payload = NULL;
    ok(o.payload_matches, "weir_fuzz_payload() is the payload inside the run");
    is_int(weir_fuzz_payload().data == NULL, 1, "and {NULL, 0} outside");
    static const size_t sizes[] = {2, 1, 4, 1, 1, 1};
    static const int64_t times[] = {2, 3, 7, 8, 9, 10};
    is_int(o.nreads, 6, "segmentation: six reads");
    for (int i = 0; i < 6 && i < o.nreads; i++) {
        is_int(o.sizes[i], sizes[i], "segmentation: read %d has %zu bytes", i, sizes[i]);
        is_int(o.times[i], times[i], "segmentation: read %d at %lld ns", i, (long long)times[i]);
    }
    is_mem(o.data, o.len, "abcdefghij", 10, "segmentation: the bytes, in order");
    is_int(o.end, 0, "segmentation: then EOF");
    is_int(rep.segments, 6, "report: 6 segments");
    is_int(rep.delivered, 10, "report: 10 bytes delivered");
    ok(rep.eof && !rep.lost, "report: EOF, not lost");
    is_int(rep.end, WEIR_FUZZ_END_EOF, "report: the ending");
    ok(rep.parser_done && rep.parser_rc == 42, "report: the parser's return value");
    is_int(rep.replied, 3, "report: its reply reached the peer");
    is_int(rep.run_rc, 0, "report: the run finished");
    is_int(rep.draws, 5, "report: 5 draws (the last byte's size is no choice)");
    is_int(rep.decisions_len, 3, "report: 3 decision bytes");
}

/* Delays: a delay that makes a segment arrive later than the next one would merges them
 * into one read, since segments never overtake. */
static void test_delay_merges(void) {
    /* Sizes 2 (delay 9), 1, 4, 4, 4 (no delay), then the last byte (no size draw). "ab"
     * arrives at 2 + 9 = 11 ns, and "c", "defg", "hijk", done at 3, 7 and 11 ns, are held
     * behind it; "lmno" is done at 15 ns, "p" at 16. */
    static const uint8_t dec[] = {1, 9, 0, 0, 3, 0, 3, 0, 3, 0};
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "abcdefghijklmnop", dec, sizeof dec);
    seen o = {0};
    weir_fuzz_opts opts = {.max_segment = 4, .max_delay = 255, .ends = WEIR_FUZZ_END_EOF};
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "delay: ran");
    is_int(o.nreads, 3, "delay: three reads");
    is_int(o.sizes[0], 11, "delay: four segments arrive together ...");
    is_int(o.times[0], 11, "delay: ... at 11 ns");
    ok(o.sizes[1] == 4 && o.times[1] == 15, "delay: then 4 bytes at 15 ns");
    ok(o.sizes[2] == 1 && o.times[2] == 16, "delay: then 1 at 16 ns");
}

/* The worked example of docs/fuzzing.md ("The input format"). */
static void test_docs_example(void) {
    static const uint8_t in[] = {5, 0, 'h', 'e', 'l', 'l', 'o', 3, 1, 0, 0, 9};
    seen o = {0};
    weir_fuzz_opts opts = {.ends = WEIR_FUZZ_END_EOF_AT};
    is_int(weir_fuzz_run(in, sizeof in, &opts, recorder, &o), 0, "docs example: ran");
    ok(o.nreads == 2 && o.sizes[0] == 2 && o.times[0] == 2 && o.sizes[1] == 1 && o.times[1] == 12,
       "docs example: \"he\" at 2 ns, \"l\" at 12 ns");
    ok(o.len == 3 && o.end == 0, "docs example: then EOF");
}

static void test_eof_at(void) {
    static const uint8_t dec[] = {7}; /* EOF after byte 7 (a draw in [0, 11)) */
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "0123456789", dec, sizeof dec);
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {
        .max_segment = 64, .max_delay = -1, .ends = WEIR_FUZZ_END_EOF_AT, .report = &rep};
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "EOF_AT: ran");
    is_mem(o.data, o.len, "0123456", 7, "EOF_AT: exactly 7 bytes, whatever the segments");
    is_int(o.end, 0, "EOF_AT: then EOF");
    ok(rep.end == WEIR_FUZZ_END_EOF_AT && rep.end_at == 7, "report: EOF_AT after byte 7");
    ok(rep.eof && rep.delivered == 7, "report: EOF after 7 delivered");
}

static void test_reset_at(void) {
    /* Every ending allowed: 2 = RESET_AT (bits in order EOF, EOF_AT, RESET_AT, OPEN). */
    static const uint8_t dec[] = {2, 4};
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "0123456789", dec, sizeof dec);
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {.max_segment = 1, .max_delay = -1, .report = &rep};
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "RESET_AT: ran");
    is_mem(o.data, o.len, "0123", 4, "RESET_AT: the 4 bytes before the reset");
    is_int(o.end, WEIR_ECONNRESET, "RESET_AT: then ConnectionResetError");
    ok(rep.end == WEIR_FUZZ_END_RESET_AT && rep.end_at == 4, "report: RESET_AT after byte 4");
    is_int(rep.lost, WEIR_ECONNRESET, "report: the connection was reset");
    ok(!rep.eof && rep.delivered == 4, "report: no EOF, 4 bytes delivered");

    /* Reset before the first byte: the fault fires at set-up. */
    static const uint8_t dec0[] = {2, 0};
    n = make_input(in, sizeof in, "0123456789", dec0, sizeof dec0);
    o = (seen){0};
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "RESET_AT 0: ran");
    ok(o.len == 0 && o.end == WEIR_ECONNRESET, "RESET_AT 0: nothing, then the reset");
}

static void test_open_and_hangs(void) {
    static const uint8_t dec[] = {3}; /* OPEN */
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "abc", dec, sizeof dec);
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {.report = &rep};
    /* The recorder reads until EOF, which never comes: legitimate, not a hang. */
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "OPEN: ran");
    is_int(rep.end, WEIR_FUZZ_END_OPEN, "OPEN: drawn");
    ok(!rep.parser_done && !rep.hung, "OPEN: the parser still waits, which is no hang");
    is_int(rep.run_rc, WEIR_EDEADLOCK, "OPEN: the run ends with nothing left to happen");
    is_int(rep.delivered, 3, "OPEN: all 3 bytes delivered");

    /* A parser that waits on after EOF is a hang: reported with allow_hang (without it,
     * weir_fuzz_run abort()s). */
    static const uint8_t dec_eof[] = {0};
    n = make_input(in, sizeof in, "abc", dec_eof, sizeof dec_eof);
    o = (seen){.wait_forever = true};
    opts.allow_hang = true;
    is_int(weir_fuzz_run(in, n, &opts, recorder, &o), 0, "hang: ran");
    ok(rep.hung && !rep.parser_done && rep.eof, "hang: reported after EOF");
}

static void test_empty_and_huge(void) {
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {.report = &rep};
    is_int(weir_fuzz_run(NULL, 0, &opts, recorder, &o), 0, "empty input: ran");
    ok(o.len == 0 && o.end == 0, "empty input: the parser sees EOF at once");
    ok(rep.payload_len == 0 && rep.decisions_len == 0 && rep.end == WEIR_FUZZ_END_EOF,
       "empty input: no payload, no decisions, EOF (every draw 0)");
    ok(rep.parser_done && rep.parser_rc == 42, "empty input: the parser returned");
    is_int(weir_fuzz_run((const uint8_t *)"\x05", 1, &opts, recorder, &o), 0, "1-byte input");

    /* 200 KB claiming 65535 payload bytes: the payload is cut to max_payload and the rest
     * are decisions; a payload bigger than the parser's read buffer still all arrives. */
    size_t big = 200000;
    uint8_t *in = malloc(big);
    if (!in) abort();
    for (size_t i = 0; i < big; i++) in[i] = (uint8_t)('a' + i % 26);
    in[0] = in[1] = 0xff;
    o = (seen){0};
    opts.max_payload = 3000;
    opts.ends = WEIR_FUZZ_END_EOF;
    is_int(weir_fuzz_run(in, big, &opts, recorder, &o), 0, "huge input: ran");
    is_int(rep.payload_len, 3000, "huge input: payload cut to max_payload");
    is_int(rep.decisions_len, big - 3002, "huge input: the rest is decisions");
    is_int(o.len, 3000, "huge input: the parser got all 3000 bytes");
    ok(o.end == 0 && rep.parser_done, "huge input: then EOF");

    o = (seen){0};
    opts.max_payload = 0;
    is_int(weir_fuzz_run(in, big, &opts, recorder, &o), 0, "huge input, no cap: ran");
    is_int(rep.payload_len, 65535, "huge input: at most 65535 payload bytes");
    is_int(rep.delivered, 65535, "huge input: all delivered");
    free(in);
}

static uint64_t hash_of(const uint8_t *in, size_t n, FILE *trace) {
    seen o = {0};
    weir_fuzz_report rep;
    weir_fuzz_opts opts = {.trace = trace, .report = &rep};
    if (weir_fuzz_run(in, n, &opts, recorder, &o)) return 0;
    return rep.trace_hash;
}

static void test_determinism(void) {
    uint8_t in[256];
    for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 37 + 11);
    in[0] = 40;
    in[1] = 0;
    uint64_t h1 = hash_of(in, sizeof in, NULL);
    uint64_t h2 = hash_of(in, sizeof in, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    uint64_t h3 = hash_of(in, sizeof in, mem);
    fclose(mem);
    ok(h1 != 0 && h1 == h2, "determinism: same input, same trace hash (0x%016llx)",
       (unsigned long long)h1);
    ok(h1 == h3, "determinism: keeping the trace does not change the hash");
    ok(len > 0 && strstr(text, "deliver") != NULL, "trace: the timeline shows deliveries");
    free(text);
    in[43] ^= 1; /* the second decision byte */
    ok(hash_of(in, sizeof in, NULL) != h1, "determinism: another decision, another hash");
}

static void test_replay(void) {
    static const uint8_t dec[] = {1, 3}; /* EOF_AT after byte 3 */
    uint8_t in[64];
    size_t n = make_input(in, sizeof in, "hello", dec, sizeof dec);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    seen o = {0};
    weir_fuzz_opts opts = {.max_delay = -1};
    is_int(weir_fuzz_replay(in, n, &opts, recorder, &o, mem), 0, "replay: ran");
    fclose(mem);
    ok(strstr(text, "draw fuzz end at 3 in [0,6)") != NULL, "replay: the drawn EOF position");
    ok(strstr(text, "fault 1 EOF at byte 3") != NULL, "replay: the fault firing");
    ok(strstr(text, "c->s deliver 1 \"h\"") != NULL, "replay: the segments with their bytes");
    ok(strstr(text, "note fuzz parser returned 42") != NULL, "replay: the parser's return");
    ok(strstr(text, "# delivered 3 bytes in 3 segments, then EOF") != NULL, "replay: summary");
    free(text);
}

/* The scenario written for an input, run with the parser registered, gives the parser the
 * same reads at the same virtual times. */
static seen scenario_seen;

static int scenario_recorder(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    return recorder(r, w, &scenario_seen);
}

static void check_scenario(const char *what, const char *payload, const uint8_t *dec, size_t ndec,
                           const char *must_have) {
    uint8_t in[256];
    size_t n = make_input(in, sizeof in, payload, dec, ndec);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    seen o = {0};
    weir_fuzz_opts opts = {.limit = 4096, .max_segment = 8};
    int rc = weir_fuzz_write_scenario(in, n, &opts, recorder, &o, "fuzz_recorder", what, mem);
    fclose(mem);
    is_int(rc, 0, "%s: scenario written", what);
    ok(strstr(text, must_have) != NULL, "%s: it has `%s`", what, must_have);
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    rc = weir_scenario_parse(text, len, what, &f, &err);
    is_int(rc, 0, "%s: it parses", what);
    if (rc) printf("# %d:%d: %s\n%s", err.line, err.col, err.message, text);
    scenario_seen = (seen){0};
    weir_handler_register("fuzz_recorder", scenario_recorder, NULL);
    int passed = f ? weir_scenario_run(f, 0, NULL, stdout) : -1;
    is_int(passed, 1, "%s: it passes", what);
    if (passed != 1) printf("%s", text);
    is_mem(scenario_seen.data, scenario_seen.len, o.data, o.len, "%s: the same bytes", what);
    is_int(scenario_seen.nreads, o.nreads, "%s: in as many reads", what);
    /* A parser still waiting when a run ends is cancelled (or just freed): how its read
     * ends then is not part of the schedule. */
    bool waits = strstr(must_have, "TimeoutError") != NULL;
    bool same = scenario_seen.nreads == o.nreads && (waits || scenario_seen.end == o.end);
    for (int i = 0; same && i < o.nreads && i < MAXREADS; i++)
        same = scenario_seen.sizes[i] == o.sizes[i] && scenario_seen.times[i] == o.times[i];
    if (!ok(same, "%s: same sizes, times and ending", what)) {
        for (int i = 0; i < o.nreads && i < MAXREADS; i++)
            printf("# fuzz read %zu at %lld\n", o.sizes[i], (long long)o.times[i]);
        for (int i = 0; i < scenario_seen.nreads && i < MAXREADS; i++)
            printf("# scenario read %zu at %lld\n", scenario_seen.sizes[i],
                   (long long)scenario_seen.times[i]);
        printf("# ends: %d, %d\n", o.end, scenario_seen.end);
    }
    weir_handler_unregister("fuzz_recorder");
    weir_scenario_file_free(f);
    free(text);
}

static void test_scenarios(void) {
    static const uint8_t eof[] = {0, 3, 0, 5, 9, 1, 40, 7, 0, 2, 0};
    check_scenario("eof", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", eof, sizeof eof, "p: eof at ");
    static const uint8_t eof_at[] = {1, 10, 2, 0, 4, 3};
    check_scenario("eof_at", "line one\nline two\n", eof_at, sizeof eof_at, "p: eof at ");
    static const uint8_t reset[] = {2, 6, 1, 0, 0, 200};
    check_scenario("reset_at", "\"quoted\"\t\x01\xff", reset, sizeof reset, "p: abort at ");
    static const uint8_t open[] = {3, 7, 100};
    check_scenario("open", "abc", open, sizeof open, "p: read 1 => TimeoutError within 1s");
}

static void test_errors(void) {
    is_int(weir_fuzz_run((const uint8_t *)"", 0, NULL, NULL, NULL), WEIR_EINVAL,
           "no parser: WEIR_EINVAL");
    is_int(weir_fuzz_run(NULL, 5, NULL, recorder, NULL), WEIR_EINVAL,
           "NULL data with a size: WEIR_EINVAL");
    is_int(weir_fuzz_write_scenario(NULL, 0, NULL, recorder, NULL, "", "x", stdout), WEIR_EINVAL,
           "scenario without a handler name: WEIR_EINVAL");
    is_int(weir_fuzz_draw(NULL, "x", 10), 0, "draw without a simulator: 0");
}

int main(void) {
    test_split_and_pack();
    test_segmentation();
    test_delay_merges();
    test_docs_example();
    test_eof_at();
    test_reset_at();
    test_open_and_hangs();
    test_empty_and_huge();
    test_determinism();
    test_replay();
    test_scenarios();
    test_errors();
    return done_testing();
}
