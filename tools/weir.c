/* tools/weir.c - the weir command line.
 *
 *   weir run [--verbose] FILE...   run scenario files, print TAP
 *   weir version                   print the version
 *   weir --help                    print the usage
 *
 * Exit status: 0 every scenario passed; 1 some scenario failed; 2 the scenarios could not
 * be run (bad usage, a file that cannot be read or is malformed: reported on stderr as
 * FILE:LINE:COL: MESSAGE, with a "Bail out!" line on stdout for TAP harnesses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/scenario.h"
#include "weir/weir.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: weir run [--verbose] FILE.scn...\n"
    "       weir version\n"
    "       weir --help\n"
    "\n"
    "run      run the scenarios in FILEs (docs/scenarios.md) and print TAP;\n"
    "         -v, --verbose also traces every step\n"
    "exit status: 0 all passed, 1 a scenario failed, 2 bad usage or a malformed file\n";

static int usage_error(const char *fmt, const char *arg) {
    if (fmt != NULL) {
        fputs("weir: ", stderr);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    }
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* Every file is parsed before anything runs, so a malformed file is reported before any
 * result, and all malformed files are reported at once. */
static int cmd_run(int argc, char **argv) {
    weir_scenario_opts opts = {0};
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (paths == NULL) return EXIT_USAGE;
    int npaths = 0;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0)
            options = false;
        else if (options && (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0))
            opts.flags |= WEIR_SCENARIO_VERBOSE;
        else if (options && a[0] == '-' && a[1] != '\0') {
            free(paths);
            return usage_error("run: unknown option %s", a);
        } else
            paths[npaths++] = argv[i];
    }
    if (npaths == 0) {
        free(paths);
        return usage_error("run: no scenario files given", NULL);
    }

    weir_scenario_file **files = calloc((size_t)npaths, sizeof *files);
    int bad = files == NULL;
    for (int i = 0; i < npaths && files != NULL; i++) {
        weir_scenario_error err;
        if (weir_scenario_load(paths[i], &files[i], &err) == 0) continue;
        if (err.line > 0) {
            fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
            printf("Bail out! %s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
        } else {
            fprintf(stderr, "%s: %s\n", err.file, err.message);
            printf("Bail out! %s: %s\n", err.file, err.message);
        }
        bad = 1;
    }

    int status = EXIT_USAGE;
    if (!bad) {
        int failed = weir_scenario_run_tap(files, (size_t)npaths, &opts, stdout);
        if (failed < 0)
            fprintf(stderr, "weir: %s\n", weir_strerror(failed));
        else
            status = failed > 0 ? EXIT_FAIL : EXIT_PASS;
    }
    for (int i = 0; i < npaths && files != NULL; i++) weir_scenario_file_free(files[i]);
    free(files);
    free(paths);
    fflush(stdout);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage_error(NULL, NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_PASS;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("weir %s\n", WEIR_VERSION);
        return EXIT_PASS;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    return usage_error("unknown command %s", cmd);
}
