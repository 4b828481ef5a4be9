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
    char want[4096];
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
             "# 1 of 3 scenarios failed\n",
             tmp, tmp, tmp, tmp);
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
    free(out_text);
    free(err_text);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmp);
    return done_testing();
}
