/* tools/weir.c - the weir command line.
 *
 *   weir run [OPTIONS] FILE...     run scenario files, print TAP
 *   weir version                   print the version
 *   weir --help                    print the usage
 *
 * Exit status: 0 every scenario passed; 1 some scenario failed; 2 the scenarios could not
 * be run (bad usage, a file that cannot be read or is malformed: reported on stderr as
 * FILE:LINE:COL: MESSAGE, with a "Bail out!" line on stdout for TAP harnesses). The sweep
 * itself (seeds, workers, the TAP stream) is in sweep.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "weir/scenario.h"
#include "weir/weir.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MAX_JOBS 1024

static const char usage_text[] =
    "usage: weir run [OPTIONS] [--] FILE.scn...\n"
    "       weir version\n"
    "       weir --help\n"
    "\n"
    "run      run the scenarios in FILEs (docs/scenarios.md) and print TAP\n"
    "  -v, --verbose         trace every step with what it produced\n"
    "  --seed N              network scenarios' seed (default 1)\n"
    "  --seeds A..B          run each network scenario once per seed A..B (reader\n"
    "                        scenarios once); ends with the failing seeds and a command\n"
    "                        that reproduces each\n"
    "  --shard K/N           only the K-th of N equal slices of the seeds (1 <= K <= N)\n"
    "  --jobs N              run seeds in N processes (the output is the same)\n"
    "  --only NAME           only the scenarios called NAME (may be repeated)\n"
    "  --trace               print each network run's timeline and trace hash\n"
    "  --check-determinism   run each network scenario twice per seed and compare traces\n"
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

/* A decimal number that fits in 64 bits, nothing else. */
static bool parse_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "A..B" (or a single N) into first and count; false for anything else, B < A, or all
 * 2^64 seeds (a count that does not fit). */
static bool parse_seed_range(const char *s, uint64_t *first, uint64_t *count) {
    const char *dots = strstr(s, "..");
    uint64_t a, b;
    if (dots == NULL) {
        if (!parse_u64(s, strlen(s), &a)) return false;
        b = a;
    } else if (!parse_u64(s, (size_t)(dots - s), &a) ||
               !parse_u64(dots + 2, strlen(dots + 2), &b)) {
        return false;
    }
    if (b < a || (a == 0 && b == UINT64_MAX)) return false;
    *first = a;
    *count = b - a + 1;
    return true;
}

static bool parse_shard(const char *s, uint64_t *k, uint64_t *n) {
    const char *slash = strchr(s, '/');
    return slash != NULL && parse_u64(s, (size_t)(slash - s), k) &&
           parse_u64(slash + 1, strlen(slash + 1), n) && *n >= 1 && *k >= 1 && *k <= *n;
}

typedef struct run_args {
    weir__cli_sweep sw;
    const char **paths;
    int npaths;
    const char **only;
    int nonly;
    bool seed_given;
} run_args;

/* An option's value: the rest of "--opt=value", or the next argument. */
static const char *option_value(int argc, char **argv, int *i, const char *opt) {
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (a[n] == '=') return a + n + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static bool is_option(const char *a, const char *opt) {
    size_t n = strlen(opt);
    return strncmp(a, opt, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int parse_run_args(int argc, char **argv, run_args *ra) {
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        weir__cli_sweep *sw = &ra->sw;
        if (!options || a[0] != '-' || a[1] == '\0') {
            ra->paths[ra->npaths++] = a;
        } else if (strcmp(a, "--") == 0) {
            options = false;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            sw->flags |= WEIR_SCENARIO_VERBOSE;
        } else if (strcmp(a, "--trace") == 0) {
            sw->flags |= WEIR_SCENARIO_TRACE;
        } else if (strcmp(a, "--check-determinism") == 0) {
            sw->flags |= WEIR_SCENARIO_CHECK_DETERMINISM;
        } else if (is_option(a, "--seeds") || is_option(a, "--seed")) {
            bool many = is_option(a, "--seeds");
            const char *opt = many ? "--seeds" : "--seed";
            if ((v = option_value(argc, argv, &i, opt)) == NULL)
                return usage_error("run: %s needs a value", opt);
            if (ra->seed_given)
                return usage_error("run: give one of --seed and --seeds, once", NULL);
            ra->seed_given = true;
            uint64_t first = 0, count = 1;
            bool good =
                many ? parse_seed_range(v, &first, &count) : parse_u64(v, strlen(v), &first);
            if (!good)
                return usage_error(many ? "run: --seeds takes A..B with A <= B, not %s"
                                        : "run: --seed takes a number, not %s",
                                   v);
            sw->first = first;
            sw->total = count;
            sw->range = many;
        } else if (is_option(a, "--shard")) {
            if ((v = option_value(argc, argv, &i, "--shard")) == NULL)
                return usage_error("run: --shard needs a value", NULL);
            if (!parse_shard(v, &sw->shard_k, &sw->shard_n))
                return usage_error("run: --shard takes K/N with 1 <= K <= N, not %s", v);
        } else if (is_option(a, "--jobs") || strcmp(a, "-j") == 0) {
            uint64_t j = 0;
            if ((v = option_value(argc, argv, &i, a[1] == 'j' ? "-j" : "--jobs")) == NULL)
                return usage_error("run: --jobs needs a value", NULL);
            if (!parse_u64(v, strlen(v), &j) || j < 1 || j > MAX_JOBS)
                return usage_error("run: --jobs takes a number from 1 to 1024, not %s", v);
            sw->jobs = (int)j;
        } else if (is_option(a, "--only")) {
            if ((v = option_value(argc, argv, &i, "--only")) == NULL)
                return usage_error("run: --only needs a scenario name", NULL);
            ra->only[ra->nonly++] = v;
        } else {
            return usage_error("run: unknown option %s", a);
        }
    }
    if (ra->npaths == 0) return usage_error("run: no scenario files given", NULL);
    return 0;
}

static bool selected(const run_args *ra, const char *name) {
    if (ra->nonly == 0) return true;
    for (int i = 0; i < ra->nonly; i++)
        if (strcmp(ra->only[i], name) == 0) return true;
    return false;
}

/* Every file is parsed before anything runs, so a malformed file is reported before any
 * result, and all malformed files are reported at once. */
static int cmd_run(const char *argv0, int argc, char **argv) {
    run_args ra;
    memset(&ra, 0, sizeof ra);
    ra.sw.argv0 = argv0;
    ra.sw.first = 1;
    ra.sw.total = 1;
    ra.sw.jobs = 1;
    ra.paths = calloc((size_t)argc + 1, sizeof *ra.paths);
    ra.only = calloc((size_t)argc + 1, sizeof *ra.only);
    weir_scenario_file **files = calloc((size_t)argc + 1, sizeof *files);
    weir__cli_unit *units = NULL;
    int status = EXIT_USAGE;
    if (ra.paths == NULL || ra.only == NULL || files == NULL) goto out;
    if ((status = parse_run_args(argc, argv, &ra)) != 0) goto out;
    status = EXIT_USAGE;

    int bad = 0;
    for (int i = 0; i < ra.npaths; i++) {
        weir_scenario_error err;
        if (weir_scenario_load(ra.paths[i], &files[i], &err) == 0) continue;
        if (err.line > 0) {
            fprintf(stderr, "%s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
            printf("Bail out! %s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
        } else {
            fprintf(stderr, "%s: %s\n", err.file, err.message);
            printf("Bail out! %s: %s\n", err.file, err.message);
        }
        bad = 1;
    }
    if (bad) goto out;

    size_t total = 0, n = 0;
    for (int i = 0; i < ra.npaths; i++) total += weir_scenario_count(files[i]);
    units = calloc(total ? total : 1, sizeof *units);
    if (units == NULL) goto out;
    for (int i = 0; i < ra.npaths; i++)
        for (size_t k = 0; k < weir_scenario_count(files[i]); k++)
            if (selected(&ra, weir_scenario_name(files[i], k)))
                units[n++] = (weir__cli_unit){files[i], k, weir_scenario_is_network(files[i], k)};
    for (int i = 0; i < ra.nonly; i++) {
        bool found = false;
        for (size_t u = 0; u < n && !found; u++)
            found = strcmp(weir_scenario_name(units[u].file, units[u].index), ra.only[i]) == 0;
        if (!found) {
            fprintf(stderr, "weir: run: no scenario named %s in the files given\n", ra.only[i]);
            goto out;
        }
    }
    weir__cli_sweep *sw = &ra.sw;
    sw->units = units;
    sw->nunits = n;
    sw->lo = sw->first;
    sw->count = sw->total;
    if (sw->shard_n > 0)
        weir__seed_slice(sw->first, sw->total, sw->shard_k, sw->shard_n, &sw->lo, &sw->count);
    sw->progress = isatty(STDERR_FILENO) && sw->count > 1;
    status = weir__cli_run_sweep(sw, stdout);
out:
    for (int i = 0; i < ra.npaths && files != NULL; i++) weir_scenario_file_free(files[i]);
    free(files);
    free(units);
    free(ra.paths);
    free(ra.only);
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
    if (strcmp(cmd, "run") == 0) return cmd_run(argv[0], argc - 2, argv + 2);
    return usage_error("unknown command %s", cmd);
}
