/* runner/tap.c - running scenarios and reporting them as TAP. */
#include <stdio.h>

#include "runner/run_internal.h"

static unsigned flags_of(const weir_scenario_opts *opts) { return opts != NULL ? opts->flags : 0; }
/* Without options, the seed `weir run` uses by default. */
static uint64_t seed_of(const weir_scenario_opts *opts) { return opts != NULL ? opts->seed : 1; }

int weir_scenario_run_ex(const weir_scenario_file *f, size_t i, const weir_scenario_opts *opts,
                         FILE *diag, weir_scenario_result *result) {
    weir__buf d = {0};
    int rc = weir__scenario_exec(f, i, flags_of(opts), seed_of(opts), &d, result);
    if (diag != NULL && d.len > 0) fwrite(d.data, 1, d.len, diag);
    weir__buf_free(&d);
    return rc;
}

int weir_scenario_run(const weir_scenario_file *f, size_t i, const weir_scenario_opts *opts,
                      FILE *diag) {
    return weir_scenario_run_ex(f, i, opts, diag, NULL);
}

/* A scenario name on a TAP line: bytes a terminal or a TAP parser could trip over
 * (controls, non-ASCII) are shown as \xHH. A name never holds a blank, '"' or '#'. */
static void put_name(FILE *out, weir_bytes name) {
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.data[i];
        if (c > 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
}

int weir_scenario_run_tap(weir_scenario_file *const *files, size_t nfiles,
                          const weir_scenario_opts *opts, FILE *out) {
    size_t total = 0, k = 0;
    int failed = 0, rc = 0;
    for (size_t j = 0; j < nfiles; j++) total += files[j]->count;
    fprintf(out, "1..%zu\n", total);
    weir__buf diag = {0};
    for (size_t j = 0; j < nfiles && rc == 0; j++) {
        const weir_scenario_file *f = files[j];
        for (size_t i = 0; i < f->count; i++) {
            weir__buf_reset(&diag);
            rc = weir__scenario_exec(f, i, flags_of(opts), seed_of(opts), &diag, NULL);
            if (rc < 0) {
                fprintf(out, "Bail out! %s: %s: %s\n", f->name,
                        (const char *)f->scenarios[i].name.data, weir_strerror(rc));
                break;
            }
            if (rc == 0) failed++;
            fprintf(out, "%sok %zu - %s: ", rc ? "" : "not ", ++k, f->name);
            put_name(out, f->scenarios[i].name);
            fputc('\n', out);
            if (diag.len > 0) fwrite(diag.data, 1, diag.len, out);
            fflush(out);
            rc = 0;
        }
    }
    weir__buf_free(&diag);
    if (rc < 0) return rc;
    if (failed > 0) fprintf(out, "# %d of %zu scenarios failed\n", failed, total);
    fflush(out);
    return failed;
}
