/* tests/unit/test_sim_hashpath.c - the trace hash does not depend on how it was recorded.
 *
 * The records made for every segment (its jitter and size draws, its delivery) are hashed
 * inline when no text is kept, and through weir__sim_record, which also formats the line,
 * when it is (sim/sim_internal.h). Both must hash the same words. This runs one line
 * exchange over a link with jitter and segmentation (every kind of per-segment record)
 * with and without kept text, from a seed and from decision bytes (where draws take the
 * out-of-line path), and compares. The pinned values were printed by the code before the
 * inline path existed (commit e17a343): a change to them is a change to what a seed means,
 * which docs/simulator.md would have to say. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "weir/weir.h"

typedef struct client {
    weir_endpoint target;
    weir_line_client_cfg cfg;
    weir_line_client_result result;
} client;

static int run_client(void *arg) {
    client *c = arg;
    return weir_line_client(&c->target, &c->cfg);
}

typedef struct outcome {
    uint64_t hash;
    size_t records;
    size_t received;
} outcome;

static outcome exchange(const weir_sim_opts *o) {
    weir_sim *s;
    if (weir_sim_new(o, &s)) abort();
    weir_sim_add_host(s, "server", "10.0.0.1");
    weir_sim_add_host(s, "client", "10.0.0.2");
    weir_sim_link l = {.latency = WEIR_MS, .jitter = {0, 100 * WEIR_US}, .segment = {1, 16}};
    weir_sim_set_link(s, "*", "*", &l);
    weir_server *srv;
    if (weir_start_server(weir_sim_loop(s), weir_line_echo, NULL, "10.0.0.1", 7, NULL, &srv))
        abort();
    static const char text[] = "a line of thirty-one bytes, ok!";
    weir_bytes lines[20];
    for (size_t i = 0; i < 20; i++) lines[i] = weir_bytes_of(text, sizeof text - 1);
    client c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (client){.target = {.host = "server", .port = 7},
                        .cfg = {.lines = lines, .nlines = 20, .window = 4}};
        c[i].cfg.result = &c[i].result;
        weir_task *t;
        if (weir_sim_spawn(s, "client", run_client, &c[i], NULL, &t)) abort();
        weir_task_detach(t);
    }
    weir_loop_run_until(weir_sim_loop(s), 10 * WEIR_SEC);
    outcome out = {weir_sim_trace_hash(s), weir_sim_trace_count(s), 0};
    for (int i = 0; i < 3; i++) out.received += c[i].result.received;
    weir_server_free(srv);
    weir_sim_free(s);
    return out;
}

static void test_seeded(void) {
    weir_sim_opts kept = {.seed = 7, .keep_trace = true}, bare = {.seed = 7};
    outcome a = exchange(&kept), b = exchange(&bare);
    is_int(a.received, 60, "seeded: every line came back");
    ok(a.hash == b.hash, "seeded: the same hash with and without kept text");
    is_int(a.records, b.records, "seeded: the same number of records");
    ok(a.hash == 0x9e24b2b5e6f9829bull,
       "seeded: the hash is the one this seed always had (%016llx)", (unsigned long long)a.hash);
}

static void test_from_bytes(void) {
    uint8_t bytes[512];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 37 + 11);
    weir_sim_opts kept = {.decisions = bytes, .decisions_len = sizeof bytes, .keep_trace = true};
    weir_sim_opts bare = {.decisions = bytes, .decisions_len = sizeof bytes};
    outcome a = exchange(&kept), b = exchange(&bare);
    is_int(a.received, 60, "from bytes: every line came back");
    ok(a.hash == b.hash, "from bytes: the same hash with and without kept text");
    is_int(a.records, b.records, "from bytes: the same number of records");
    ok(a.hash == 0x9cfc749d89c6e419ull,
       "from bytes: the hash is the one these bytes always gave (%016llx)",
       (unsigned long long)a.hash);
}

int main(void) {
    test_seeded();
    test_from_bytes();
    return done_testing();
}
