/* tests/unit/test_cli.c - the weir command line: exit status, TAP on stdout, errors on
 * stderr. Runs the binary in $WEIR_BUILD (default "build") from the source tree
 * ($WEIR_SOURCE, default "."), as `make check` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static char weir[4096], tmp[64] = "/tmp/weir-cli-XXXXXX", out_path[128], err_path[128];
static char *out_text, *err_text;

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return strdup("");
    char *s = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(fp)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 256;
            char *p = realloc(s, cap);
            if (p == NULL) break;
            s = p;
        }
        s[len++] = (char)c;
    }
    fclose(fp);
    if (s == NULL) return strdup("");
    s[len] = '\0';
    return s;
}

/* Run `weir ARGS` (ARGS is shell text), keep its stdout and stderr; its exit status. */
static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", weir, args, out_path, err_path);
    int st = system(cmd);
    free(out_text);
    free(err_text);
    out_text = slurp(out_path);
    err_text = slurp(err_path);
    if (st == -1 || !WIFEXITED(st)) return -1; /* a crash shows up here */
    return WEXITSTATUS(st);
}

static void write_file(const char *name, const void *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *fp = fopen(path, "wb");
    if (fp != NULL) {
        fwrite(data, 1, len, fp);
        fclose(fp);
    }
}

static void write_text(const char *name, const char *text) { write_file(name, text, strlen(text)); }

static void is_str(const char *got, const char *want, const char *name) {
    is_mem(got, strlen(got), want, strlen(want), "%s", name);
}

static void test_usage(void) {
    is_int(run(""), 2, "no command: exit 2");
    ok(strstr(err_text, "usage: weir run") != NULL, "  with the usage on stderr");
    is_int(run("run"), 2, "run without files: exit 2");
    ok(strstr(err_text, "no scenario files") && strstr(err_text, "usage:"), "  says why");
    is_int(run("run --frobnicate x.scn"), 2, "unknown option: exit 2");
    ok(strstr(err_text, "unknown option --frobnicate") != NULL, "  names it");
    is_int(run("frobnicate"), 2, "unknown command: exit 2");
    is_int(run("--help"), 0, "--help: exit 0");
    ok(strstr(out_text, "usage: weir run") != NULL && err_text[0] == '\0', "  usage on stdout");
    is_int(run("version"), 0, "version: exit 0");
    is_str(out_text, "weir 0.1.0\n", "  prints the version");
}

static void test_malformed(void) {
    char args[4096];
    const char *src = getenv("WEIR_SOURCE") ? getenv("WEIR_SOURCE") : ".";
    snprintf(args, sizeof args, "run '%s/tests/bad-scenarios/unknown_keyword.scn'", src);
    is_int(run(args), 2, "a malformed file: exit 2");
    char want[4096];
    snprintf(want, sizeof want,
             "%s/tests/bad-scenarios/unknown_keyword.scn:3:1: unknown step 'peek'\n", src);
    is_str(err_text, want, "  file:line:col: message on stderr");
    ok(strncmp(out_text, "Bail out! ", 10) == 0 && strcmp(out_text + 10, want) == 0,
       "  and a Bail out! line on stdout");

    /* Nothing runs when any file is malformed; every malformed file is reported. */
    write_text("good.scn", "scenario g\neof\n");
    write_text("bad1.scn", "scenario b\nread\n");
    write_text("bad2.scn", "feed \"x\"\n");
    snprintf(args, sizeof args, "run %s/good.scn %s/bad1.scn %s/bad2.scn", tmp, tmp, tmp);
    is_int(run(args), 2, "good and malformed files: exit 2");
    snprintf(want, sizeof want,
             "%s/bad1.scn:2:5: expected an integer\n"
             "%s/bad2.scn:1:1: step before the first `scenario` line\n",
             tmp, tmp);
    is_str(err_text, want, "  both malformed files reported");
    ok(strstr(out_text, "1..") == NULL && strstr(out_text, "ok ") == NULL, "  nothing ran");

    snprintf(args, sizeof args, "run %s/missing.scn", tmp);
    is_int(run(args), 2, "a missing file: exit 2");
    snprintf(want, sizeof want, "%s/missing.scn: cannot open: No such file or directory\n", tmp);
    is_str(err_text, want, "  says so");
    snprintf(args, sizeof args, "run %s", tmp);
    is_int(run(args), 2, "a directory: exit 2");
    ok(strstr(err_text, "cannot read") != NULL, "  cannot read it");

    /* Hostile bytes: a NUL, a huge line, an unterminated string at the very end. */
    write_file("nul.scn", "scenario s\n\0\n", 13);
    snprintf(args, sizeof args, "run %s/nul.scn", tmp);
    is_int(run(args), 2, "a NUL byte: exit 2, no crash");
    size_t n = (1u << 20) + 10;
    char *big = malloc(n);
    if (big != NULL) {
        memset(big, 'x', n);
        write_file("huge.scn", big, n);
        free(big);
        snprintf(args, sizeof args, "run %s/huge.scn", tmp);
        is_int(run(args), 2, "a huge line: exit 2, no crash");
        ok(strstr(err_text, "huge.scn:1:1048577: line longer than") != NULL,
           "  reported at the first byte over");
    }
    write_text("unterminated.scn", "scenario s\nfeed \"\\");
    snprintf(args, sizeof args, "run %s/unterminated.scn", tmp);
    is_int(run(args), 2, "unterminated escape at the end of the file: exit 2");
    ok(strstr(err_text, "unterminated.scn:2:7: unterminated string") != NULL, "  reported");
}

static void test_running(void) {
    char args[4096];
    write_text("pass.scn", "scenario p\nfeed \"ab\"\nread 1 => \"a\"\n");
    write_text("fail.scn", "scenario f\nfeed \"ab\"\nread 1 => \"b\"\nscenario ok\neof\n");
    snprintf(args, sizeof args, "run %s/pass.scn", tmp);
    is_int(run(args), 0, "all pass: exit 0");
    char want[16384];
    snprintf(want, sizeof want, "1..1\nok 1 - %s/pass.scn: p\n", tmp);
    is_str(out_text, want, "  TAP");
    snprintf(args, sizeof args, "run %s/pass.scn %s/fail.scn", tmp, tmp);
    is_int(run(args), 1, "a failure: exit 1");
    snprintf(want, sizeof want,
             "1..3\n"
             "ok 1 - %s/pass.scn: p\n"
             "not ok 2 - %s/fail.scn: f\n"
             "# %s/fail.scn:3: read 1\n"
             "#   expected: \"b\"\n"
             "#        got: \"a\"\n"
             "ok 3 - %s/fail.scn: ok\n"
             "# 1 of 3 scenarios failed\n"
             "# failing runs, each with the command that reproduces it:\n"
             "#   %s run %s/fail.scn --only f\n",
             tmp, tmp, tmp, tmp, weir, tmp);
    is_str(out_text, want, "  TAP with diagnostics");
    snprintf(args, sizeof args, "run --verbose %s/pass.scn", tmp);
    is_int(run(args), 0, "--verbose: exit 0");
    snprintf(want, sizeof want,
             "1..1\nok 1 - %s/pass.scn: p\n#   2: feed \"ab\"\n"
             "#   3: read 1 => \"a\"\n",
             tmp);
    is_str(out_text, want, "  traces the steps");
    write_text("await.scn", "scenario a\nawait => \"x\"\n");
    snprintf(args, sizeof args, "run %s/await.scn", tmp);
    is_int(run(args), 1,
           "await with no pending read: a failed scenario (exit 1), not a parse error");
}

/* A network scenario that fails for some seeds: latency is drawn per seed from 1..20ms and
 * the reply must come within 20ms (two ways: fails when the draw is over 10ms). */
static const char flaky[] = "scenario flaky\n"
                            "host client\n"
                            "host server\n"
                            "link client <-> server latency=1..20ms\n"
                            "server server:7 echo\n"
                            "peer c on client connect server:7\n"
                            "c: send \"x\"\n"
                            "c: expect \"x\" within 20ms\n"
                            "scenario steady\n"
                            "host a\n"
                            "server a:1 echo\n"
                            "peer p on a connect a:1\n"
                            "p: send \"y\"\n"
                            "p: expect \"y\"\n";

/* The failing seeds listed after the summary, as a string of " N" for each. */
static void failing_seeds(const char *out, char *seeds, size_t n) {
    seeds[0] = '\0';
    for (const char *p = out; (p = strstr(p, " --seed ")) != NULL; p += 8) {
        size_t len = strlen(seeds);
        snprintf(seeds + len, n - len, " %ld", strtol(p + 8, NULL, 10));
    }
}

static void test_seeds(void) {
    char args[4096], want[16384];
    write_text("net.scn", flaky);
    snprintf(args, sizeof args, "run %s/net.scn", tmp);
    int rc = run(args);
    ok(rc == 0 || rc == 1, "a network scenario runs with seed 1 by default");
    ok(strstr(out_text, "net.scn: flaky (seed 1)\n") != NULL, "  and its test point says so");

    snprintf(args, sizeof args, "run --seeds 1..40 %s/net.scn", tmp);
    is_int(run(args), 1, "--seeds 1..40 with failing seeds: exit 1");
    char *whole = strdup(out_text), seeds[4096];
    failing_seeds(whole, seeds, sizeof seeds);
    ok(strlen(seeds) > 0, "  some seeds fail:%s", seeds);
    ok(strstr(whole, "not ok 1 - ") != NULL && strstr(whole, "(seeds 1..40: ") != NULL &&
           strstr(whole, "ok 2 - ") != NULL && strstr(whole, "steady (seeds 1..40)\n") != NULL,
       "  one test point per scenario, with its seeds");
    long first = strtol(seeds, NULL, 10);
    snprintf(want, sizeof want, "#   %s run --seed %ld %s/net.scn --only flaky\n", weir, first,
             tmp);
    ok(strstr(whole, "# failing runs, each with the command that reproduces it:\n") != NULL &&
           strstr(whole, want) != NULL,
       "  each failing seed with the command that reproduces it");
    snprintf(want, sizeof want, "# seed %ld:\n# %s/net.scn:8: c: expect \"x\"\n", first, tmp);
    ok(strstr(whole, want) != NULL, "  the lowest failing seed's diagnostics");

    /* The reproduce command, run: the same failure, the same text, every time. */
    snprintf(args, sizeof args, "run --seed %ld %s/net.scn --only flaky", first, tmp);
    is_int(run(args), 1, "the reproduce command fails");
    char *again = strdup(out_text);
    is_int(run(args), 1, "  and again");
    is_str(out_text, again, "  with identical output");
    ok(strstr(again, "1..1\nnot ok 1 - ") != NULL && strstr(again, "flaky (seed ") != NULL,
       "  only that scenario, that seed");
    free(again);

    /* --jobs: the same output, whatever the number of workers. */
    snprintf(args, sizeof args, "run --seeds 1..40 --jobs 4 %s/net.scn", tmp);
    is_int(run(args), 1, "--jobs 4: exit 1");
    is_str(out_text, whole, "  output identical to one job");
    snprintf(args, sizeof args, "run --seeds 1..40 --jobs 64 %s/net.scn", tmp);
    run(args);
    is_str(out_text, whole, "  more workers than seeds: identical too");

    /* --shard: every seed exactly once across the shards. */
    char all[4096] = "";
    int failed_runs = 0;
    for (int k = 1; k <= 3; k++) {
        snprintf(args, sizeof args, "run --seeds 1..40 --shard %d/3 %s/net.scn", k, tmp);
        rc = run(args);
        ok(rc == 0 || rc == 1, "--shard %d/3 runs", k);
        char s[4096];
        failing_seeds(out_text, s, sizeof s);
        size_t len = strlen(all);
        snprintf(all + len, sizeof all - len, "%s", s);
        failed_runs += rc == 1;
        snprintf(want, sizeof want, "(seeds %d..%d",
                 k == 1   ? 1
                 : k == 2 ? 15
                          : 28,
                 k == 1   ? 14
                 : k == 2 ? 27
                          : 40);
        ok(strstr(out_text, want) != NULL, "  shard %d/3 takes %s)", k, want + 1);
    }
    is_str(all, seeds, "the shards' failing seeds together are the sweep's");
    snprintf(args, sizeof args, "run --seeds 1..2 --shard 3/3 %s/net.scn", tmp);
    is_int(run(args), 0, "an empty shard: exit 0");
    ok(strstr(out_text, "ok 1 - ") != NULL &&
           strstr(out_text, "flaky # SKIP no seeds in shard 3/3\n") != NULL,
       "  its network scenarios are skipped");
    free(whole);

    /* Reader scenarios have no seed: once, whatever the sweep. */
    snprintf(args, sizeof args, "run --seeds 1..5 %s/pass.scn", tmp);
    is_int(run(args), 0, "a reader scenario in a sweep");
    snprintf(want, sizeof want, "1..1\nok 1 - %s/pass.scn: p\n", tmp);
    is_str(out_text, want, "  runs once");
}

static void test_modes(void) {
    char args[4096];
    snprintf(args, sizeof args, "run --check-determinism --only steady %s/net.scn", tmp);
    is_int(run(args), 0, "--check-determinism: exit 0");
    ok(strstr(out_text, "# seed 1: deterministic (hash 0x") != NULL, "  reports the hash");
    snprintf(args, sizeof args, "run --check-determinism --seeds 1..3 --only steady %s/net.scn",
             tmp);
    is_int(run(args), 0, "--check-determinism over seeds");
    ok(strstr(out_text, "# deterministic for all 3 seeds\n") != NULL, "  says so once");
    snprintf(args, sizeof args, "run --trace --only steady %s/net.scn", tmp);
    is_int(run(args), 0, "--trace: exit 0");
    ok(strstr(out_text, "# trace (seed 1):\n#   ") != NULL &&
           strstr(out_text, "# trace hash 0x") != NULL,
       "  prints the timeline and the hash");
    char *first = strdup(out_text);
    run(args);
    is_str(out_text, first, "  the same trace every time");
    free(first);
    snprintf(args, sizeof args, "run --verbose --only steady %s/net.scn", tmp);
    is_int(run(args), 0, "--verbose on a network scenario");
    ok(strstr(out_text, "#   13: p: send \"y\"  # done at 0\n") != NULL, "  traces its steps");
    snprintf(args, sizeof args, "run --only nosuch %s/net.scn", tmp);
    is_int(run(args), 2, "--only with no such scenario: exit 2");
    ok(strstr(err_text, "no scenario named nosuch") != NULL, "  says so");
    snprintf(args, sizeof args, "run --only=steady --seed=2 %s/net.scn", tmp);
    is_int(run(args), 0, "--opt=value forms");
    ok(strstr(out_text, "steady (seed 2)") != NULL, "  are understood");
}

static void test_bad_flags(void) {
    static const struct {
        const char *args, *msg;
    } bad[] = {
        {"run --seeds 5..1 x.scn", "--seeds takes A..B with A <= B, not 5..1"},
        {"run --seeds 1..x x.scn", "--seeds takes A..B"},
        {"run --seeds 0..18446744073709551615 x.scn", "--seeds takes A..B"},
        {"run --seed -1 x.scn", "--seed takes a number, not -1"},
        {"run --seed 18446744073709551616 x.scn", "--seed takes a number"},
        {"run --seed 1 --seeds 1..2 x.scn", "give one of --seed and --seeds"},
        {"run --shard 0/3 x.scn", "--shard takes K/N with 1 <= K <= N, not 0/3"},
        {"run --shard 4/3 x.scn", "--shard takes K/N"},
        {"run --shard 3 x.scn", "--shard takes K/N"},
        {"run --jobs 0 x.scn", "--jobs takes a number from 1 to 1024, not 0"},
        {"run --jobs many x.scn", "--jobs takes a number"},
        {"run --seeds", "--seeds needs a value"},
        {"run --only", "--only needs a scenario name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        is_int(run(bad[i].args), 2, "%s: exit 2", bad[i].args);
        ok(strstr(err_text, bad[i].msg) != NULL && strstr(err_text, "usage:") != NULL, "  %s",
           bad[i].msg);
    }
    char args[4096];
    snprintf(args, sizeof args, "run --seeds 1..3 %s/net.scn --", tmp);
    ok(run(args) != 2, "-- ends the options (none after it here)");
}

int main(void) {
    const char *build = getenv("WEIR_BUILD") ? getenv("WEIR_BUILD") : "build";
    snprintf(weir, sizeof weir, "%s/weir", build);
    if (!ok(access(weir, X_OK) == 0, "%s exists (make builds it)", weir) ||
        !ok(mkdtemp(tmp) != NULL, "a temporary folder"))
        return done_testing();
    snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
    test_usage();
    test_malformed();
    test_running();
    test_seeds();
    test_modes();
    test_bad_flags();
    free(out_text);
    free(err_text);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmp);
    return done_testing();
}
