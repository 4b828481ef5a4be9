/* fuzz/scenario_parse.c - libFuzzer target: any bytes into the scenario parser.
 *
 * weir_scenario_parse must never crash, leak or hang, whatever the input. A rejected input
 * must come back with WEIR_EINVAL (or WEIR_ENOMEM), no file, the name given, a position
 * (line and column >= 1) and a non-empty, NUL-terminated message. An accepted one must
 * list its scenarios with names and lines >= 1, and then its reader scenarios (the first
 * MAX_RUN) are also run (verbose, diagnostics discarded): running a parsed file must not
 * crash or leak either, whether it passes or fails. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/scenario.h"

#define MAX_RUN 64 /* scenarios run per input */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Network scenarios (they declare hosts) are run only with WEIR_FUZZ_RUN_NETWORK=1: the
 * simulator is young and a run can be long; parsing them is always checked. */
static bool run_network;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *e = getenv("WEIR_FUZZ_RUN_NETWORK");
    run_network = e && *e && *e != '0';
    return 0;
}

static void fail(const char *what, const weir_scenario_error *err) {
    fprintf(stderr, "scenario_parse: %s (line %d col %d: %.*s)\n", what, err->line, err->col,
            (int)sizeof err->message, err->message);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char name[] = "fuzz.scn";
    weir_scenario_file *f = (weir_scenario_file *)&f; /* must be set to NULL on failure */
    weir_scenario_error err;
    memset(&err, 0x5a, sizeof err);
    int rc = weir_scenario_parse(data, size, name, &f, &err);
    if (rc == WEIR_EINVAL || rc == WEIR_ENOMEM) {
        if (f != NULL) fail("rejected, but *out is not NULL", &err);
        if (memchr(err.message, '\0', sizeof err.message) == NULL)
            fail("error message not NUL-terminated", &err);
        if (err.message[0] == '\0') fail("empty error message", &err);
        if (err.file != name) fail("err.file is not the name given", &err);
        if (rc == WEIR_EINVAL && (err.line < 1 || err.col < 1))
            fail("rejected without a position", &err);
        return 0;
    }
    if (rc != 0) fail("unexpected return code", &err);
    if (f == NULL) fail("accepted, but no file", &err);
    if (strcmp(weir_scenario_file_name(f), name) != 0) fail("file name not kept", &err);
    size_t n = weir_scenario_count(f);
    for (size_t i = 0; i < n; i++) {
        const char *sn = weir_scenario_name(f, i);
        if (sn == NULL) fail("scenario without a name", &err);
        (void)strlen(sn);
        if (weir_scenario_line(f, i) < 1) fail("scenario line < 1", &err);
    }
    weir_scenario_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.flags = WEIR_SCENARIO_VERBOSE;
    opts.seed = 1;
    for (size_t i = 0; i < n && i < MAX_RUN; i++) {
        if (weir_scenario_is_network(f, i) && !run_network) continue;
        int r = weir_scenario_run(f, i, &opts, NULL);
        if (r != 0 && r != 1 && r != WEIR_ENOMEM) fail("weir_scenario_run: bad return", &err);
    }
    weir_scenario_file_free(f);
    return 0;
}
