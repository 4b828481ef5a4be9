/* runner/exec.c - run one scenario, whichever kind it is: a reader scenario on a virtual
 * loop (run.c), a network scenario on a simulator (net_run.c), twice when determinism is
 * being checked. */
#include <inttypes.h>
#include <string.h>

#include "runner/net_internal.h"
#include "runner/run_internal.h"

bool weir_scenario_is_network(const weir_scenario_file *f, size_t i) {
    return f != NULL && i < f->count && f->scenarios[i].network;
}

/* The i-th of the NUL-terminated records in b, or NULL past the end. */
static const char *record_at(const weir__buf *b, size_t *pos) {
    if (*pos >= b->len) return NULL;
    const char *r = b->data + *pos;
    *pos += strlen(r) + 1;
    return r;
}

/* Run the network scenario twice and compare the traces record by record. */
static int check_determinism(const weir_scenario_file *f, size_t i, unsigned flags, uint64_t seed,
                             weir__buf *diag, weir_scenario_result *res) {
    weir__buf first = {0}, second = {0}, quiet = {0};
    uint64_t h1 = 0, h2 = 0;
    size_t n1 = 0, n2 = 0;
    int rc = weir__net_run(f, i, flags, seed, diag, &h1, &n1, &first);
    int rc2 =
        rc < 0
            ? rc
            : weir__net_run(f, i, flags & ~(unsigned)(WEIR_SCENARIO_VERBOSE | WEIR_SCENARIO_TRACE),
                            seed, &quiet, &h2, &n2, &second);
    if (rc2 < 0) rc = rc2;
    size_t p1 = 0, p2 = 0, k = 0;
    const char *a = NULL, *b = NULL;
    for (;; k++) {
        a = record_at(&first, &p1);
        b = record_at(&second, &p2);
        if (a == NULL || b == NULL || strcmp(a, b) != 0) break;
    }
    bool same = a == NULL && b == NULL && h1 == h2 && n1 == n2;
    res->deterministic = same;
    res->trace_hash = h1;
    res->trace_records = n1;
    if (rc >= 0) {
        int w;
        if (same)
            w = weir__buf_printf(
                diag, "# seed %" PRIu64 ": deterministic (hash 0x%016" PRIx64 ", %zu records)\n",
                seed, h1, n1);
        else if (a == NULL && b == NULL)
            w = weir__buf_printf(diag,
                                 "# seed %" PRIu64 ": not deterministic: the same records "
                                 "but hashes 0x%016" PRIx64 " and 0x%016" PRIx64 "\n",
                                 seed, h1, h2);
        else
            w = weir__buf_printf(diag,
                                 "# seed %" PRIu64 ": not deterministic: the runs differ "
                                 "at trace record %zu\n#   run 1: %s\n#   run 2: %s\n",
                                 seed, k + 1, a ? a : "(none: the run had ended)",
                                 b ? b : "(none: the run had ended)");
        if (w != 0)
            rc = w;
        else if (!same)
            rc = 0;
    }
    weir__buf_free(&first);
    weir__buf_free(&second);
    weir__buf_free(&quiet);
    return rc;
}

int weir__scenario_exec(const weir_scenario_file *f, size_t i, unsigned flags, uint64_t seed,
                        weir__buf *diag, weir_scenario_result *res) {
    weir_scenario_result local;
    if (res == NULL) res = &local;
    memset(res, 0, sizeof *res);
    if (f == NULL || i >= f->count || diag == NULL) return WEIR_EINVAL;
    if (!f->scenarios[i].network) {
        res->deterministic = true;
        return weir__scenario_run(f, i, flags, diag);
    }
    res->network = true;
    if (flags & WEIR_SCENARIO_CHECK_DETERMINISM)
        return check_determinism(f, i, flags, seed, diag, res);
    res->deterministic = true;
    return weir__net_run(f, i, flags, seed, diag, &res->trace_hash, &res->trace_records, NULL);
}
