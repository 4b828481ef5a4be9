/* weir/fuzz.h - fuzz your own parser under network schedules drawn from the fuzz input.
 *
 * weir_fuzz_run() splits a fuzz input into the bytes a peer sends and the simulator's
 * decision stream (weir/sim.h), then runs your parser in a simulated network: a scripted
 * peer on host "peer" connects to host "parser" and writes the payload through a link whose
 * segment sizes and delays are drawn from the decisions; the stream then ends as drawn
 * (EOF after everything, EOF or a reset after a drawn byte, or left open). Your parser is a
 * connection handler (weir/net.h) and gets the connection's reader and writer, as it would
 * from weir_start_server. A fuzz target is then a few lines:
 *
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
 *         weir_fuzz_opts o = {.limit = 1024};
 *         return weir_fuzz_run(data, size, &o, my_parser, &my_ctx);
 *     }
 *
 * Your parser checks its own invariants and abort()s on a violation; the harness abort()s
 * when the parser is still waiting after its stream has ended (a hang). Everything is
 * deterministic: the same input gives the same run, byte for byte (docs/fuzzing.md).
 *
 * The input format (weir_fuzz_split):
 *   bytes 0-1   N, little-endian: how many payload bytes follow
 *   bytes 2..   the payload: min(N, what the input has, max_payload) bytes
 *   the rest    the decision stream, read as docs/simulator.md says; its draws, in order:
 *               the ending (if more than one is allowed), the byte where EOF_AT or RESET_AT
 *               strikes, then per segment its size and its delay. Past the end every draw
 *               is 0: one-byte segments, no delay, the first allowed ending. */
#ifndef WEIR_FUZZ_H
#define WEIR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/bytes.h"
#include "weir/net.h"
#include "weir/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the peer's stream ends. Also bits for weir_fuzz_opts.ends, in the order drawn. */
typedef enum weir_fuzz_end {
    WEIR_FUZZ_END_EOF = 1,      /* the whole payload, then EOF (write_eof) */
    WEIR_FUZZ_END_EOF_AT = 2,   /* EOF after a drawn number of bytes (0..payload length) */
    WEIR_FUZZ_END_RESET_AT = 4, /* a reset after a drawn number of bytes */
    WEIR_FUZZ_END_OPEN = 8,     /* the whole payload, and the stream stays open: the peer
                                   waits for the parser to finish */
} weir_fuzz_end;
#define WEIR_FUZZ_END_ALL 15u

/* What a run did. */
typedef struct weir_fuzz_report {
    size_t payload_len;   /* bytes the peer had to send */
    size_t decisions_len; /* bytes of decision stream in the input */
    weir_fuzz_end end;    /* the ending drawn */
    size_t end_at;        /* EOF_AT / RESET_AT: after this many bytes; else payload_len */
    size_t delivered;     /* bytes the network handed to the parser's reader */
    size_t segments;      /* in how many pieces (data_received calls) */
    bool eof;             /* the parser's end received EOF */
    int lost;             /* its connection was lost with this error (0: none, or clean) */
    size_t replied;       /* bytes the parser wrote that reached the peer */
    bool parser_done;     /* the parser returned ... */
    int parser_rc;        /* ... this */
    bool hung;            /* the run ended with the parser still waiting although its stream
                             had ended (not for END_OPEN, where waiting is legitimate) */
    int run_rc;           /* weir_sim_run(): 0, WEIR_EDEADLOCK or WEIR_ESTALL */
    int64_t end_time;     /* virtual time when the run ended, ns */
    uint64_t draws;       /* draws made from the decision stream */
    uint64_t trace_hash;  /* weir_sim_trace_hash() of the run: same input, same hash */
} weir_fuzz_report;

typedef struct weir_fuzz_opts {
    int64_t limit;            /* the parser's reader limit; 0 = WEIR_DEFAULT_LIMIT */
    size_t max_payload;       /* the payload is cut to this; 0 = 65535 (the most N can say) */
    size_t max_segment;       /* segment sizes are drawn from 1..max_segment; 0 = 64 */
    int64_t max_delay;        /* ns; each segment's extra delay is drawn from 0..max_delay (segments
                                 never overtake, so a delay can also merge segments into one read);
                                 0 = 255 ns (one decision byte per segment); < 0 = no delays */
    unsigned ends;            /* the endings that may be drawn (weir_fuzz_end bits); 0 = all */
    bool allow_hang;          /* report a hang (report.hung) instead of abort()ing */
    FILE *trace;              /* non-NULL: keep the trace and print the timeline here as it goes,
                                 so a crash still shows what led to it */
    weir_fuzz_report *report; /* non-NULL: filled in by the run */
} weir_fuzz_opts;

/* Split an input as weir_fuzz_run does (opts may be NULL: defaults). The views point into
 * data. */
void weir_fuzz_split(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                     weir_bytes *payload, weir_bytes *decisions);

/* Make an input (for seeds and tests): the 2-byte length, the payload, the decisions.
 * Returns the input's size (2 + payload_len + decisions_len) and writes it to out when cap
 * is enough; 0 for a payload over 65535 bytes. */
size_t weir_fuzz_pack(const void *payload, size_t payload_len, const void *decisions,
                      size_t decisions_len, uint8_t *out, size_t cap);

/* Run parser(reader, writer, arg) on the "parser" host against the peer, as described
 * above, in a simulator of its own, and free everything before returning. 0 after a run,
 * whatever the parser returned (see opts->report); WEIR_EINVAL for a NULL parser or NULL
 * data with size > 0; WEIR_ENOMEM. abort()s with a message on stderr after a hang, unless
 * opts->allow_hang. Not reentrant from inside a simulated task. */
int weir_fuzz_run(const uint8_t *data, size_t size, const weir_fuzz_opts *opts, weir_handler parser,
                  void *arg);

/* Inside a parser run by weir_fuzz_run: the payload the peer sends (all of it, also the
 * bytes an early EOF or reset will keep from the parser), to compare with what the parser
 * read. Outside a run (the same parser in a scenario, say) {NULL, 0}: nothing to compare. */
weir_bytes weir_fuzz_payload(void);

/* A draw in [0, n) from the decision stream of s (recorded in its trace as `what`), for
 * harnesses that choose more than the network: sizes, contents, configurations. 0 for
 * n <= 1 without drawing. */
uint64_t weir_fuzz_draw(weir_sim *s, const char *what, uint64_t n);

/* --- replaying and keeping what the fuzzer found (sim/fuzz_replay.c) ---------------- */

/* Replay an input: its timeline as it runs (every draw, segment, EOF, reset, and the
 * parser's return, weir_sim_trace_write's format), then a summary, to out. A hang is
 * reported, not aborted on. Returns as weir_fuzz_run. */
int weir_fuzz_replay(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                     weir_handler parser, void *arg, FILE *out);

/* Write an input as a network scenario (docs/scenarios.md) to out: a scripted peer that
 * writes the payload in the segments and at the virtual times drawn, ends the stream as
 * drawn, then expects what the parser replied and the end of the stream. The parser runs
 * once to learn that; `handler` is the name it has in the binary that runs the scenario
 * (weir_handler_register), `name` the scenario's name (other bytes than letters, digits,
 * '_', '-' and '.' become '_'). 0, WEIR_EINVAL, WEIR_ENOMEM. */
int weir_fuzz_write_scenario(const uint8_t *data, size_t size, const weir_fuzz_opts *opts,
                             weir_handler parser, void *arg, const char *handler, const char *name,
                             FILE *out);

/* A main() for your fuzz target when it is built without libFuzzer:
 *     PROG [-q] [--scenario HANDLER] FILE|DIR...
 * replays every file (and every file in a directory) with weir_fuzz_replay on stdout (-q:
 * only a summary line per input), or prints it as a scenario with --scenario. Exit status
 * 0, 1 when an input could not be read or a replay hung, 2 for bad usage. */
int weir_fuzz_main(int argc, char **argv, const weir_fuzz_opts *opts, weir_handler parser,
                   void *arg);

#ifdef __cplusplus
}
#endif
#endif
