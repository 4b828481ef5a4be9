/* tests/unit/test_runner.c - running scenarios: outcomes, diagnostics, TAP, cleanup.
 *
 * Run under ASan (make test-asan) this also checks that a scenario's end frees everything,
 * including reads still waiting, and that no task touches freed memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/run_internal.h"
#include "tap.h"
#include "weir/handlers.h"
#include "weir/net.h"
#include "weir/sim.h"

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

/* ---- network scenarios ------------------------------------------------------------- */

/* Run scenario i of `text` with a seed; check the result and the diagnostics (exactly, or
 * only their start when `prefix`). */
static void check_net(const char *text, size_t i, unsigned flags, uint64_t seed, int want,
                      const char *diag, bool prefix, const char *name) {
    weir_scenario_file *f = parse(text);
    if (!ok(f != NULL, "%s: parses", name)) return;
    weir__buf d = {0};
    weir_scenario_result res;
    int rc = weir__scenario_exec(f, i, flags, seed, &d, &res);
    const char *got = d.data != NULL ? d.data : "";
    int good = rc == want && res.network &&
               (prefix ? strncmp(got, diag, strlen(diag)) == 0 : strcmp(got, diag) == 0);
    ok(good, "%s", name);
    if (!good) printf("# rc %d (want %d), diagnostics:\n%s# expected:\n%s", rc, want, got, diag);
    weir__buf_free(&d);
    weir_scenario_file_free(f);
}

#define NET2 "scenario s\nhost client 10.0.0.1\nhost server 10.0.0.2\n"

static void test_net_echo(void) {
    const char *echo = NET2 "link client <-> server latency=5ms segment=1..2\n"
                            "server server:7 echo\n"
                            "peer c on client connect server:7\n"
                            "c: send \"hello\\n\"\n"
                            "c: readline => \"hello\\n\" within 20ms after 10ms\n"
                            "c: eof\n"
                            "c: expect eof\n";
    check_net(echo, 0, 0, 1, 1, "", false, "echo through a segmenting link passes");
    check_net(echo, 0, WEIR_SCENARIO_VERBOSE, 1, 1,
              "#   6: peer c on client connect server:7  # done at 0\n"
              "#   7: c: send \"hello\\n\"  # done at 0\n"
              "#   8: c: readline => \"hello\\n\" within 20ms after 10ms  # done at 10ms, took "
              "10ms\n"
              "#   9: c: eof  # done at 10ms\n"
              "#   10: c: expect eof  # done at 20ms, took 10ms\n",
              false, "--verbose: each step as it completes, with virtual times");
    check_net(NET2 "link client <-> server latency=30ms\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: send \"x\"\n"
                   "c: expect \"x\" within 50ms\n",
              0, 0, 1, 0,
              "# t.scn:8: c: expect \"x\"\n"
              "#   expected: \"x\" within 50ms\n"
              "#        got: TimeoutError in 50ms (at 50ms)\n",
              false, "a reply slower than `within`: TimeoutError, with step and virtual times");
    check_net(NET2 "server server:7 echo\npeer c on client connect server:7\nc: send \"x\"\n"
                   "c: expect \"x\" after 1ms\n",
              0, 0, 1, 0,
              "# t.scn:7: c: expect \"x\"\n#   expected: \"x\" after 1ms\n"
              "#        got: \"x\" in 0 (at 0)\n",
              false, "a reply sooner than `after`");
    check_net(
        NET2 "server server:7 echo\npeer c on client connect server:7\n"
             "c: send \"y\" * 1000\nc: expect \"z\" * 1000\n",
        0, 0, 1, 0,
        "# t.scn:7: c: expect \"z\" * 1000\n"
        "#   expected: \"z\" * 1000\n"
        "#        got: \"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy... (1000 bytes) in 0 (at 0)\n",
        false, "long payloads are cut short in the diagnostics");
    check_net(NET2 "link client <-> server latency=10ms\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: send \"ab\" * 1000\n"
                   "c: expect \"ab\" * 1000 after 50ms\n",
              0, 0, 1, 0,
              "# t.scn:8: c: expect \"ab\" * 1000\n"
              "#   expected: \"ab\" * 1000 after 50ms\n"
              "#        got: \"ab\" * 1000 in 20ms (at 20ms)\n",
              false, "a repeated expect that is too early got all its bytes, shown as written");
    check_net(NET2 "server server:7 echo\npeer c on client connect server:7\nc: send \"x\"\n"
                   "c: readline => TimeoutError within 100ms\n",
              0, 0, 1, 1, "", false, "=> TimeoutError within D: nothing completes the step");
}

/* A peer's view of its own reader: what has arrived unread, and the end of the stream. */
static void test_net_reader_state(void) {
#define STATE                                                                                      \
    NET2 "link client <-> server latency=5ms\nserver server:7 echo\n"                              \
         "peer c on client connect server:7\nc: send \"abc\"\nc: eof\n"
    check_net(STATE "c: buffered => 0\nc: at_eof => false\nc: sleep 10ms\n"
                    "c: buffered => 3\nc: at_eof => false\nc: read 1 => \"a\"\n"
                    "c: buffered => 2\nc: read 2 => \"bc\"\nc: at_eof => true\n",
              0, 0, 1, 1, "", false, "buffered and at_eof follow what arrived and what was read");
    check_net(STATE "c: sleep 10ms\nc: buffered => 2\n", 0, 0, 1, 0,
              "# t.scn:10: c: buffered\n#   expected: 2\n#        got: 3 in 0 (at 10ms)\n", false,
              "a wrong buffered count");
    check_net(STATE "c: sleep 10ms\nc: at_eof => true\n", 0, 0, 1, 0,
              "# t.scn:10: c: at_eof\n#   expected: true\n#        got: false in 0 (at 10ms)\n",
              false, "at_eof is false while the bytes before the end are unread");
    check_net(STATE "c: buffered at 10ms => 3 within 1ms\n", 0, WEIR_SCENARIO_VERBOSE, 1, 1,
              "#   6: peer c on client connect server:7  # done at 0\n"
              "#   7: c: send \"abc\"  # done at 0\n"
              "#   8: c: eof  # done at 0\n"
              "#   9: c: buffered at 10ms => 3 within 1ms  # done at 10ms\n",
              false, "--verbose shows what they saw");
#undef STATE
}

static void test_net_faults(void) {
    check_net(NET2 "fault refuse client -> server\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: connect => ConnectionRefusedError\n",
              0, 0, 1, 1, "", false, "refuse: connect => ConnectionRefusedError");
    check_net(NET2 "fault refuse client -> server\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: send \"x\"\n",
              0, 0, 1, 0,
              "# t.scn:6: peer c on client connect server:7\n#   expected: success\n"
              "#        got: ConnectionRefusedError in 0 (at 0)\n",
              false, "an implicit connect must succeed, and fails at the peer line");
    check_net(NET2 "server server:7 echo\npeer c on client connect server:8\nc: send \"x\"\n", 0, 0,
              1, 0, "# t.scn:5: peer c on client connect server:8\n", true,
              "nobody listening: the connect fails");
    check_net(NET2 "fault stall client -> server\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: send \"x\"\nc: readline\n",
              0, 0, 1, 0,
              "# t.scn:8: c: readline\n"
              "#   still waiting when the run ended at 0: nothing left could make progress\n"
              "#   task peer c on client: blocked in ",
              true, "stall: a step still waiting at the end, with what the tasks wait for");
    check_net(NET2 "fault limit_data server -> client bytes=4\nserver server:7 line_echo\n"
                   "run line_client on client connect=server:7 lines=\"hello\" => "
                   "IncompleteReadError\n",
              0, 0, 1, 1, "", false, "limit_data: the line client gets IncompleteReadError");
}

static void test_net_programs(void) {
    check_net(NET2 "server server:7 line_echo\n"
                   "run line_client on client connect=server:7 lines=3 => ok sent=3 received=3\n",
              0, 0, 1, 1, "", false, "line_client against line_echo, with its numbers");
    check_net(NET2 "server server:7 line_echo\n"
                   "run line_client on client connect=server:7 lines=3 => ok received=2\n",
              0, 0, 1, 0,
              "# t.scn:5: run line_client on client connect=server:7 lines=3\n"
              "#   expected: ok received=2\n#        got: ok received=3 in 0 (at 0)\n",
              false, "a number that differs");
    check_net(NET2 "server server:7 line_echo\n"
                   "run line_client on client connect=server:7 lines=3 => WEIR_EMISMATCH "
                   "sent=3 received=3\n",
              0, 0, 1, 0,
              "# t.scn:5: run line_client on client connect=server:7 lines=3\n"
              "#   expected: WEIR_EMISMATCH sent=3 received=3\n"
              "#        got: ok sent=3 received=3 in 0 (at 0)\n",
              false, "a result that differs: the numbers are part of what was expected");
    check_net(NET2 "server server:7 nope\n", 0, 0, 1, 0,
              "# t.scn:4: server server:7 nope\n"
              "#   unknown handler 'nope' (register it with weir_handler_register)\n",
              false, "an unknown handler fails the scenario at its line");
    check_net(NET2 "server server:7 line_echo colour=red\n", 0, 0, 1, 0,
              "# t.scn:4: server server:7 line_echo colour=red\n"
              "#   line_echo takes limit=; not colour=\n",
              false, "an argument the handler does not take");
    check_net(NET2 "run nope on client connect=server:7\n", 0, 0, 1, 0,
              "# t.scn:4: run nope on client connect=server:7\n"
              "#   unknown client 'nope' (register it with weir_client_register)\n",
              false, "an unknown client");
    check_net(NET2 "peer s on server listen 80\n"
                   "run http_get on client connect=server:80 path=/x => ok status=200 body_len=2\n"
                   "s: readuntil \"\\r\\n\\r\\n\" => \"GET /x HTTP/1.1\\r\\nHost: "
                   "server\\r\\nConnection: close\\r\\n\\r\\n\"\n"
                   "s: send \"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi\"\n",
              0, 0, 1, 1, "", false, "a listening peer serves http_get");
    check_net(NET2 "peer s on server listen 80\npeer c on client connect server:81\n"
                   "c: connect => ConnectionRefusedError\n",
              0, 0, 1, 0, "# t.scn:4: peer s on server listen 80\n#   no connection came", true,
              "a listening peer nobody connects to");
    check_net(NET2 "server server:7 http_responder status=404 body=\"gone\"\n"
                   "run http_get on client connect=server:7 => ok status=404 body_len=4\n",
              0, 0, 1, 1, "", false, "http_responder takes its arguments");
}

/* A client of the test binary's own, registered by name. It counts its calls, which makes
 * it a deliberately non-deterministic program: the second run notes a different count. */
static int calls;

static int counting_client(const weir_endpoint *target, void *arg) {
    (void)arg;
    weir_reader *r;
    weir_writer *w;
    int rc = weir_open_connection(target->host, target->port, NULL, &r, &w);
    if (rc != 0) return rc;
    weir_sim_note(weir_sim_current(), "call %d", ++calls);
    weir_writer_close(w);
    weir_wait_closed(w);
    weir_writer_free(w);
    return 0;
}

static int upper_handler(weir_reader *r, weir_writer *w, void *arg) {
    (void)arg;
    weir_bytes line;
    while (weir_readline(r, &line) == 0 && line.len > 0) {
        char buf[256];
        size_t n = line.len < sizeof buf ? line.len : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(line.data[i] >= 'a' && line.data[i] <= 'z' ? line.data[i] - 32
                                                                       : line.data[i]);
        if (weir_write(w, buf, n) != 0 || weir_drain(w) != 0) break;
    }
    return 0;
}

static void test_net_own_programs(void) {
    is_int(weir_handler_register("upper", upper_handler, NULL), 0, "register a handler");
    is_int(weir_client_register("counting", counting_client, NULL), 0, "register a client");
    check_net(NET2 "server server:7 upper\npeer c on client connect server:7\n"
                   "c: send \"shout\\n\"\nc: readline => \"SHOUT\\n\"\n",
              0, 0, 1, 1, "", false, "a handler registered by the test binary serves a peer");
    const char *det = NET2 "link client <-> server latency=1..9ms segment=1..3\n"
                           "server server:7 echo\nrun counting on client connect=server:7 => ok\n";
    check_net(NET2 "link client <-> server latency=1..9ms\nserver server:7 echo\n"
                   "peer c on client connect server:7\nc: send \"abc\"\nc: expect \"abc\"\n",
              0, WEIR_SCENARIO_CHECK_DETERMINISM, 3, 1, "# seed 3: deterministic (hash 0x", true,
              "--check-determinism: deterministic, with the hash");
    check_net(det, 0, WEIR_SCENARIO_CHECK_DETERMINISM, 3, 0,
              "# seed 3: not deterministic: the runs differ at trace record ", true,
              "a program that is not deterministic is caught");
    weir_scenario_file *f = parse(det);
    weir__buf d = {0};
    weir_scenario_result res;
    if (f != NULL) {
        weir__scenario_exec(f, 0, WEIR_SCENARIO_CHECK_DETERMINISM, 3, &d, &res);
        const char *r1 = d.data ? strstr(d.data, "#   run 1: ") : NULL;
        const char *r2 = d.data ? strstr(d.data, "#   run 2: ") : NULL;
        ok(r1 != NULL && r2 != NULL && strstr(r1, "note call ") != NULL &&
               strstr(r2, "note call ") != NULL && !res.deterministic,
           "both versions of the first differing record are shown");
    }
    weir__buf_free(&d);
    weir_scenario_file_free(f);
    weir_handler_unregister("upper");
    weir_client_unregister("counting");
}

/* The same seed gives the same trace hash; ranges make seeds differ. */
static void test_net_seeds(void) {
    weir_scenario_file *f =
        parse(NET2 "link client <-> server latency=1..50ms segment=1..4\n"
                   "server server:7 line_echo\n"
                   "run line_client on client connect=server:7 lines=5 => ok\n");
    if (!ok(f != NULL, "parses")) return;
    uint64_t hashes[4];
    weir__buf d = {0};
    for (int i = 0; i < 4; i++) {
        weir_scenario_result res;
        weir__buf_reset(&d);
        int rc = weir__scenario_exec(f, 0, 0, i < 2 ? 7 : (uint64_t)i, &d, &res);
        hashes[i] = res.trace_hash;
        is_int(rc, 1, "seed run %d passes", i);
    }
    ok(hashes[0] == hashes[1], "the same seed twice: the same trace hash");
    ok(hashes[0] != hashes[2] && hashes[2] != hashes[3], "other seeds: other traces");
    weir__buf_reset(&d);
    weir__scenario_exec(f, 0, WEIR_SCENARIO_TRACE, 7, &d, NULL);
    ok(d.data != NULL && strncmp(d.data, "# trace (seed 7):\n#   ", 22) == 0 &&
           strstr(d.data, "# trace hash 0x") != NULL,
       "--trace: the timeline and the hash, as comments");
    weir__buf_free(&d);
    weir_scenario_file_free(f);
}

/* Shards cover every seed exactly once, in order, with sizes differing by at most one. */
static void test_shards(void) {
    int bad = 0;
    for (uint64_t count = 0; count <= 40; count++) {
        for (uint64_t n = 1; n <= 12; n++) {
            uint64_t next = 100, min = UINT64_MAX, max = 0;
            for (uint64_t k = 1; k <= n; k++) {
                uint64_t lo, len;
                weir__seed_slice(100, count, k, n, &lo, &len);
                if (lo != next) bad++;
                next = lo + len;
                if (len < min) min = len;
                if (len > max) max = len;
            }
            if (next != 100 + count || max - min > 1) bad++;
        }
    }
    is_int(bad, 0, "every count 0..40 and shard count 1..12: contiguous, complete, balanced");
    uint64_t lo, len;
    weir__seed_slice(UINT64_MAX - 9, 10, 3, 3, &lo, &len);
    ok(lo == UINT64_MAX - 2 && len == 3, "the last shard of a range ending at 2^64-1");
    weir__seed_slice(0, UINT64_MAX, 2, 2, &lo, &len);
    ok(lo == UINT64_MAX / 2 + 1 && len == UINT64_MAX / 2, "a huge range splits without overflow");
    weir__seed_slice(1, 10, 4, 3, &lo, &len);
    is_int(len, 0, "k > n: no seeds");
    weir__seed_slice(1, 2, 3, 5, &lo, &len);
    is_int(len, 0, "more shards than seeds: the last ones are empty");
}

/* Random network scenarios run to the end without crashing or leaking (under ASan). */
static void test_net_random_runs(void) {
    static const char *const lines[] = {
        "link a <-> b latency=1..5ms segment=1..3\n",
        "link a -> b bandwidth=1KB window=8\n",
        "fault reset b -> a after=2\n",
        "fault eof a -> b at=1ms\n",
        "fault stall b -> a\n",
        "fault hold a -> b for=3ms\n",
        "fault refuse a -> b p=0.5\n",
        "fault limit_data b -> a bytes=3\n",
        "fault slow_close a -> b for=2ms\n",
        "server b:1 echo\n",
        "server b:2 line_echo\n",
        "server b:3 http_responder\n",
        "c: send \"ab\\n\"\n",
        "c: readline\n",
        "c: expect \"ab\"\n",
        "c: eof\n",
        "c: close\n",
        "c: abort\n",
        "c: read 1 => eof within 2ms\n",
        "c: sleep 1ms\n",
        "c: expect reset\n",
        "d: send \"x\" at 2ms\n",
        "d: readline within 3ms\n",
        "d: expect eof\n",
        "run line_client on a connect=b:2 lines=2\n",
        "run http_get on a connect=b:3 => ok\n",
        "c: write \"z\" * 100000\n",
        "c: drain\n",
    };
    size_t nl = sizeof lines / sizeof lines[0];
    uint64_t x = 88172645463325252ull;
    int crashes = 0;
    weir__buf text = {0}, d = {0};
    for (int iter = 0; iter < 300; iter++) {
        weir__buf_reset(&text);
        weir__buf_printf(&text,
                         "scenario r\nhost a\nhost b\npeer c on a connect b:%d\n"
                         "peer d on b listen 9\n",
                         1 + iter % 3);
        for (int k = 0; k < 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            weir__buf_printf(&text, "%s", lines[x % nl]);
        }
        weir_scenario_file *f = NULL;
        weir_scenario_error err;
        if (weir_scenario_parse(text.data, text.len, "r.scn", &f, &err) != 0) {
            printf("# did not parse: %d:%d %s\n%s", err.line, err.col, err.message, text.data);
            crashes++;
            continue;
        }
        weir__buf_reset(&d);
        int rc = weir__scenario_exec(f, 0, WEIR_SCENARIO_VERBOSE, (uint64_t)iter, &d, NULL);
        if (rc != 0 && rc != 1) crashes++;
        weir_scenario_file_free(f);
    }
    weir__buf_free(&text);
    weir__buf_free(&d);
    is_int(crashes, 0, "300 random network scenarios parse and run to an answer");
}

int main(void) {
    test_net_echo();
    test_net_reader_state();
    test_net_faults();
    test_net_programs();
    test_net_own_programs();
    test_net_seeds();
    test_shards();
    test_net_random_runs();
    test_pass_and_fail();
    test_reads();
    test_reader_feed_fail();
    test_verbose();
    test_tap();
    return done_testing();
}
