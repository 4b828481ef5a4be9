/* tests/unit/test_runner.c - running scenarios: outcomes, diagnostics, TAP, cleanup.
 *
 * Run under ASan (make test-asan) this also checks that a scenario's end frees everything,
 * including reads still waiting, and that no task touches freed memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/run_internal.h"
#include "tap.h"

static weir_scenario_file *parse(const char *text) {
    weir_scenario_file *f = NULL;
    weir_scenario_error err;
    if (weir_scenario_parse(text, strlen(text), "t.scn", &f, &err) != 0)
        printf("# parse error %d:%d: %s\n", err.line, err.col, err.message);
    return f;
}

static void is_text(const char *got, const char *want, const char *name) {
    int same = got != NULL && strcmp(got, want) == 0;
    ok(same, "%s", name);
    if (!same) printf("# got:\n%s# expected:\n%s", got != NULL ? got : "(null)\n", want);
}

/* Run scenario i of `text`; check the result (1 pass, 0 fail) and the diagnostics. */
static void check_run(const char *text, size_t i, unsigned flags, int want, const char *diag,
                      const char *name) {
    weir_scenario_file *f = parse(text);
    if (!ok(f != NULL, "%s: parses", name)) return;
    weir__buf d = {0};
    int rc = weir__scenario_run(f, i, flags, &d);
    const char *got = d.data != NULL ? d.data : "";
    int good = rc == want && strcmp(got, diag) == 0;
    ok(good, "%s", name);
    if (!good) printf("# rc %d (want %d), diagnostics:\n%s# expected:\n%s", rc, want, got, diag);
    weir__buf_free(&d);
    weir_scenario_file_free(f);
}

static void test_pass_and_fail(void) {
    check_run("scenario s\nfeed \"abc\"\nread 2 => \"ab\"\nbuffered => 1\n", 0, 0, 1, "",
              "a passing scenario has no diagnostics");
    check_run("scenario s\nfeed \"a\\0\\xff\"\nread 9 => \"b\"\nbuffered => 0\n", 0, 0, 0,
              "# t.scn:3: read 9\n"
              "#   expected: \"b\"\n"
              "#        got: \"a\\0\\xff\"\n",
              "a wrong result: where, the step, expected and got, canonically escaped");
    check_run("scenario s\nbuffered => 1\nbuffered => 2\n", 0, 0, 0,
              "# t.scn:2: buffered\n#   expected: 1\n#        got: 0\n",
              "the first mismatch ends the scenario");
    check_run("scenario empty\n", 0, 0, 1, "", "an empty scenario passes");
    check_run("scenario a\neof\nscenario b\nat_eof => false\n", 1, 0, 1, "",
              "each scenario gets a fresh reader");
}

static void test_reads(void) {
    check_run("scenario s\n"
              "read 3 => pending\n"
              "read 1 => RuntimeError\n"
              "feed \"xy\"\n"
              "await => \"xy\"\n",
              0, 0, 1, "", "pending, RuntimeError, await");
    /* The first read's view would die at the second read; the runner copied it. */
    check_run("scenario s\n"
              "readline\n"
              "feed \"one\\ntwo\\n\"\n"
              "readline => \"two\\n\"\n"
              "await => \"one\\n\"\n",
              0, 0, 1, "", "an awaited result survives later reads");
    check_run("scenario s\nawait => \"x\"\n", 0, 0, 0,
              "# t.scn:2: await\n#   no pending read to await\n",
              "await with no pending read is a run-time failure");
    check_run("scenario s\nread 1\nfeed \"a\"\nawait => \"a\"\nawait => \"a\"\n", 0, 0, 0,
              "# t.scn:5: await\n#   no pending read to await\n",
              "an awaited read is no longer pending");
    check_run("scenario s\nread 1 => pending\nawait => pending\nfeed \"q\"\nawait => \"q\"\n", 0, 0,
              1, "", "await => pending keeps the read pending");
    check_run("scenario s\nread 1 => \"a\"\n", 0, 0, 0,
              "# t.scn:2: read 1\n#   expected: \"a\"\n#        got: pending\n",
              "a read expected to complete that waits");
    check_run("scenario s\nreadexactly 2 => pending\neof\n"
              "await => IncompleteReadError partial=\"\" expected=2\n"
              "readuntil \"x\" => IncompleteReadError partial=\"\" expected=none\n",
              0, 0, 1, "", "IncompleteReadError with a count and with none");
    check_run("scenario s\nreader limit=2\nfeed \"abcdef\"\npaused => true\n"
              "readuntil \"\\n\" => LimitOverrunError consumed=6\nreadline => ValueError\n"
              "paused => false\n",
              0, 0, 1, "", "LimitOverrunError, readline's ValueError, pause and resume");
    check_run(
        "scenario s\nfeed \"ab\"\nreaduntil \"b\" \"ab\" => \"ab\"\nreaduntil () => ValueError\n"
        "readuntil \"\" => ValueError\nreadexactly -1 => ValueError\n",
        0, 0, 1, "", "readuntil forms and bad arguments");
    /* A read left waiting at the end is cancelled by weir_loop_free; ASan checks it. */
    check_run("scenario s\nreadexactly 5\nfeed \"abc\"\n", 0, 0, 1, "",
              "a read still waiting at the end is cleaned up");
    check_run("scenario s\nread -1\nfeed \"abc\"\nreadline => RuntimeError\nread 0 => \"\"\n", 0, 0,
              1, "", "a second waiting read is refused, one that needs no wait is not");
}

static void test_reader_feed_fail(void) {
    check_run("scenario s\nreader limit=0 => ValueError\n", 0, 0, 1, "",
              "reader limit=0 => ValueError");
    check_run("scenario s\nreader limit=-3 => ValueError\nfeed \"x\"\n", 0, 0, 0,
              "# t.scn:3: feed \"x\"\n#   no reader: `reader limit=...` raised ValueError\n",
              "steps after a refused reader fail");
    check_run("scenario s\nreader limit=0\n", 0, 0, 0,
              "# t.scn:2: reader limit=0\n#   expected: success\n#        got: ValueError\n",
              "an unexpected ValueError from reader");
    check_run("scenario s\nreader limit=1 => ValueError\n", 0, 0, 0,
              "# t.scn:2: reader limit=1\n#   expected: ValueError\n#        got: success\n",
              "an expected ValueError that does not come");
    check_run("scenario s\neof\nfeed \"x\" => AssertionError\nfeed \"\" => AssertionError\n", 0, 0,
              1, "", "feed after eof is AssertionError");
    check_run("scenario s\neof\nfeed \"x\"\n", 0, 0, 0,
              "# t.scn:3: feed \"x\"\n#   expected: success\n#        got: AssertionError\n",
              "an unchecked feed must succeed");
    check_run("scenario s\nexception => none\nfail \"a\\0b\"\nexception => error \"a\\0b\"\n"
              "read 1 => error \"a\\0b\"\nfail \"\"\nreadline => error \"\"\n",
              0, 0, 1, "", "fail: messages with NUL bytes and empty ones");
    check_run("scenario s\nfail \"x\"\nexception => error \"y\"\n", 0, 0, 0,
              "# t.scn:3: exception\n#   expected: error \"y\"\n#        got: error \"x\"\n",
              "exception mismatch");
    check_run("scenario s\nreadline => pending\nfail \"w\"\nawait => error \"w\"\n", 0, 0, 1, "",
              "fail wakes a waiting read");
}

static void test_verbose(void) {
    check_run("scenario s\nfeed \"a\"\neof\nread 5 => \"a\"\nat_eof => true\nreadline\n", 0,
              WEIR_SCENARIO_VERBOSE, 1,
              "#   2: feed \"a\"\n"
              "#   3: eof\n"
              "#   4: read 5 => \"a\"\n"
              "#   5: at_eof => true\n"
              "#   6: readline => \"\"\n",
              "--verbose traces every step with what it produced");
    check_run("scenario s\nawait => \"a\"\n", 0, WEIR_SCENARIO_VERBOSE, 0,
              "#   2: await (no pending read to await)\n"
              "# t.scn:2: await\n#   no pending read to await\n",
              "--verbose trace of a failing step");
}

/* The public calls, with TAP on a temporary file. */
static char *slurp(FILE *fp) {
    fflush(fp);
    long n = ftell(fp);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(fp);
    if (s != NULL && n > 0 && fread(s, 1, (size_t)n, fp) != (size_t)n) s[0] = '\0';
    return s;
}

static void test_tap(void) {
    weir_scenario_file *files[2];
    weir_scenario_error err;
    files[0] = parse("scenario one\neof\nscenario two\nat_eof => true\n");
    int rc = weir_scenario_parse("scenario three\nbuffered => 1\n", 29, "u.scn", &files[1], &err);
    if (!ok(files[0] != NULL && rc == 0, "two files parse")) return;
    FILE *fp = tmpfile();
    if (!ok(fp != NULL, "tmpfile")) return;
    is_int(weir_scenario_run_tap(files, 2, NULL, fp), 2, "run_tap returns the failures");
    char *out = slurp(fp);
    is_text(out,
            "1..3\n"
            "ok 1 - t.scn: one\n"
            "not ok 2 - t.scn: two\n"
            "# t.scn:4: at_eof\n#   expected: true\n#        got: false\n"
            "not ok 3 - u.scn: three\n"
            "# u.scn:2: buffered\n#   expected: 1\n#        got: 0\n"
            "# 2 of 3 scenarios failed\n",
            "one plan over both files, numbered across them");
    free(out);
    fclose(fp);

    fp = tmpfile();
    if (fp != NULL) {
        is_int(weir_scenario_run(files[1], 0, NULL, fp), 0, "weir_scenario_run: fails");
        out = slurp(fp);
        is_text(out, "# u.scn:2: buffered\n#   expected: 1\n#        got: 0\n",
                "weir_scenario_run writes the diagnostics");
        free(out);
        fclose(fp);
    }
    is_int(weir_scenario_run(files[1], 1, NULL, NULL), WEIR_EINVAL, "index out of range");
    is_int(weir_scenario_run(files[0], 0, NULL, NULL), 1, "weir_scenario_run: passes");
    fp = tmpfile();
    if (fp != NULL) {
        is_int(weir_scenario_run_tap(files, 0, NULL, fp), 0, "no files");
        out = slurp(fp);
        is_text(out, "1..0\n", "no files: an empty plan");
        free(out);
        fclose(fp);
    }
    weir_scenario_file_free(files[0]);
    weir_scenario_file_free(files[1]);

    /* A name with control or high bytes is escaped on the TAP line. */
    weir_scenario_file *g = NULL;
    rc = weir_scenario_parse("scenario a\x01\x7f\xe9z\neof\n", 19, "v.scn", &g, &err);
    fp = tmpfile();
    if (ok(rc == 0 && fp != NULL, "odd name parses")) {
        is_int(weir_scenario_run_tap(&g, 1, NULL, fp), 0, "it passes");
        out = slurp(fp);
        static const char want[] = "1..1\nok 1 - v.scn: a\\x01\\x7f\\xe9z\n";
        is_mem(out, strlen(out), want, sizeof want - 1,
               "control and high bytes of a name are escaped");
        free(out);
    }
    if (fp != NULL) fclose(fp);
    weir_scenario_file_free(g);
}

int main(void) {
    test_pass_and_fail();
    test_reads();
    test_reader_feed_fail();
    test_verbose();
    test_tap();
    return done_testing();
}
