#!/usr/bin/env python3
"""Write the seed-* inputs of fuzz/corpus/sim_schedule/ and fuzz/corpus/fuzz_http_head/.

A sim_schedule input is a decision stream. Its configuration draws all have fewer than 256
choices, so each takes one byte and a value below the bound decodes as itself
(docs/simulator.md): a seed is the configuration written out draw by draw, in the order
fuzz/sim_schedule.c's header gives, then bytes for the schedule (segment sizes, delays,
fault probabilities), here from a fixed generator so the seeds never change.

A fuzz_http_head input is weir_fuzz_run's (weir/fuzz.h): a 2-byte little-endian payload
length, the payload (a request head), then decisions: the ending (EOF, EOF_AT, RESET_AT,
OPEN), its byte for EOF_AT and RESET_AT, then a size (1..32, written as size - 1) and a
delay (0..255 ns) per segment.

    python3 fuzz/make_sim_seeds.py        # rewrites the seed-* files of both corpora
"""
import os
import random
import struct

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# Link choices are indexes: segment (whole, 1, 2, 5, 16, 64), jitter (0, 1us, 1ms, 10ms),
# latency (0, 100us, 5ms), bandwidth (unlimited, 1 MB/s, 1 GB/s), window (64 KiB, 7, 100).
PLAIN = [0, 0, 0, 0, 0]
CHOPPY = [1, 2, 1, 1, 1]
SMALL = [3, 1, 0, 2, 2]
MIXED = [4, 3, 2, 0, 0]

EOF, RESET, HOLD, LIMIT_DATA, SLOW_CLOSE, STALL = range(6)
CS, SC = 0, 1


def fault(kind, direction, trigger=(0,), param=(), p=0):
    """trigger: (0,) none, (1, after), (2, at_ms), (3,) the line ending as a pattern."""
    return [kind, direction, *trigger, *param, p]


def world(mode, cs, sc, faults=()):
    out = [mode, *cs, *sc, len(faults)]
    for f in faults:
        out += f
    return out


def text(chars):
    return [len(chars), *chars]


def line_mode(cs, sc, faults=(), lengths=(5, 0, 10), limit=0, window=0):
    return world(0, cs, sc, faults) + [len(lengths) - 1, *lengths, limit, window]


def responder_mode(cs, sc, faults=(), path=(1, 2, 3), status=0, reason=0, body=20,
                   client_limit=0, server_limit=0):
    return world(1, cs, sc, faults) + text(path) + [status, reason, body, client_limit,
                                                    server_limit]


def header(name=(0, 1), ows1=1, value=(3, 4, 5, 6), ows2=0):
    return text(name) + [ows1] + text(value) + [ows2]


def scripted_mode(cs, sc, faults=(), minor=1, status=(1, 0), reason=(0, 1, 2),
                  headers=None, nheaders=3, body=10, limit=0):
    out = world(2, cs, sc, faults) + [minor, *status] + text(reason)
    if not reason:
        out.append(1)  # the SP before an empty reason
    out.append(nheaders)
    count = {8: 64, 9: 65}.get(nheaders, nheaders)
    for i in range(count):
        out += headers[i % len(headers)] if headers else header(value=(i % 20, 3, 7))
    return out + [body, limit]


SEEDS = {
    # line_client -> line_echo
    "line_plain": line_mode(PLAIN, PLAIN),
    "line_choppy": line_mode(CHOPPY, SMALL, lengths=(3, 20, 0, 7, 1, 23, 9, 4), window=1),
    "line_window2": line_mode(SMALL, CHOPPY, lengths=tuple(range(16)), window=2),
    "line_over_limit": line_mode(CHOPPY, PLAIN, lengths=(1, 12, 2), limit=2),
    "line_eof_cs_after": line_mode(CHOPPY, PLAIN, [fault(EOF, CS, (1, 13))]),
    "line_eof_sc_pattern": line_mode(PLAIN, CHOPPY, [fault(EOF, SC, (3,))]),
    "line_reset_cs_at": line_mode(MIXED, MIXED, [fault(RESET, CS, (2, 3))], window=3),
    "line_hold_heals": line_mode(SMALL, SMALL, [fault(HOLD, CS, (2, 5), (2,))]),
    "line_hold_forever": line_mode(PLAIN, PLAIN, [fault(HOLD, SC, (0,), (0,))]),
    "line_limit_data": line_mode(CHOPPY, CHOPPY, [fault(LIMIT_DATA, CS, (0,), (20,))]),
    "line_slow_close": line_mode(PLAIN, SMALL, [fault(SLOW_CLOSE, SC, (0,), (1,))]),
    "line_stall_maybe": line_mode(SMALL, PLAIN, [fault(STALL, CS, (1, 30), (), 1)]),
    # The echo passes, line_echo's drain then sees the reset: it counts no line, yet the
    # client got its echo (an oracle bug the fuzzer found in its first minute).
    "line_reset_after_echo": line_mode(PLAIN, PLAIN, [fault(RESET, SC, (1, 4))], lengths=(0,),
                                       window=3),
    "line_two_faults": line_mode(CHOPPY, MIXED, [fault(HOLD, SC, (1, 4), (1,)),
                                                 fault(RESET, SC, (1, 9))]),
    # http_get -> http_responder
    "http_ok": responder_mode(PLAIN, PLAIN),
    "http_choppy": responder_mode(CHOPPY, CHOPPY, status=3, reason=3, body=150),
    "http_431": responder_mode(SMALL, PLAIN, path=tuple(range(15)) * 2, server_limit=1),
    "http_client_limit": responder_mode(PLAIN, CHOPPY, client_limit=1, body=0),
    "http_eof_sc_after": responder_mode(CHOPPY, SMALL, [fault(EOF, SC, (1, 50))]),
    "http_reset_cs": responder_mode(SMALL, SMALL, [fault(RESET, CS, (3,))]),
    "http_slow_close": responder_mode(MIXED, PLAIN, [fault(SLOW_CLOSE, SC, (0,), (0,))]),
    # a scripted server, weir_http_read_head
    "head_ok": scripted_mode(PLAIN, PLAIN),
    "head_choppy": scripted_mode(CHOPPY, CHOPPY, nheaders=7, reason=()),
    "head_64_headers": scripted_mode(PLAIN, SMALL, nheaders=8),
    "head_65_headers": scripted_mode(PLAIN, CHOPPY, nheaders=9),
    "head_over_limit": scripted_mode(PLAIN, CHOPPY, nheaders=5, limit=1),
    "head_eof_sc": scripted_mode(CHOPPY, CHOPPY, [fault(EOF, SC, (1, 40))]),
    "head_reset_sc_pattern": scripted_mode(PLAIN, SMALL, [fault(RESET, SC, (3,))], nheaders=4),
    "head_hold_heals": scripted_mode(PLAIN, MIXED, [fault(HOLD, SC, (2, 1), (1,))]),
}


HEAD = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
END_EOF, END_EOF_AT, END_RESET_AT, END_OPEN = range(4)


def harness_input(payload, ending, at=None, segments=()):
    """segments: (size, delay) pairs; the rest of the schedule is 1-byte pieces."""
    dec = [ending] + ([at] if at is not None else [])
    left = len(payload) if at is None else at
    for size, delay in segments:
        size = min(size, left)  # a size is drawn from 1..min(32, what is left)
        if size <= 0:
            break
        dec += ([size - 1] if min(32, left) > 1 else []) + [delay]  # one choice: no draw
        left -= size
    return struct.pack("<H", len(payload)) + payload + bytes(dec)


HEAD_SEEDS = {
    "whole": harness_input(HEAD, END_EOF, segments=[(32, 0)] * 3),
    "bytewise": harness_input(HEAD, END_EOF),
    "split_crlf": harness_input(HEAD, END_EOF, segments=[(24, 0), (1, 0), (1, 9), (32, 0)]),
    "merged_by_delay": harness_input(HEAD, END_EOF, segments=[(5, 200), (7, 0), (32, 0)]),
    "eof_mid_head": harness_input(HEAD, END_EOF_AT, 30, [(16, 0)] * 4),
    "eof_before_blank": harness_input(HEAD, END_EOF_AT, len(HEAD) - 2, [(32, 0)] * 3),
    "reset_mid_head": harness_input(HEAD, END_RESET_AT, 20, [(8, 3)] * 6),
    "open_stream": harness_input(HEAD, END_OPEN, segments=[(32, 0)] * 3),
    "open_incomplete": harness_input(HEAD[:40], END_OPEN, segments=[(32, 0)] * 2),
    "response_head": harness_input(RESPONSE, END_EOF, segments=[(3, 1)] * 20),
    "bare_lf": harness_input(b"GET / HTTP/1.1\nHost: x\r\n\r\n", END_EOF,
                             segments=[(32, 0)]),
    "obs_fold": harness_input(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", END_EOF,
                              segments=[(32, 0)] * 2),
    "over_limit": harness_input(b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\n\r\n", END_EOF,
                                segments=[(32, 0)] * 40),
    "empty": b"",
}


def write(target, seeds, fill):
    out = os.path.join(CORPUS, target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data + fill())
    print(f"{len(seeds)} seeds in {out}")


def main():
    rng = random.Random(20240613)
    for name, draws in SEEDS.items():
        assert all(0 <= d < 256 for d in draws), name
    write("sim_schedule", {k: bytes(v) for k, v in SEEDS.items()},
          lambda: bytes(rng.randrange(256) for _ in range(200)))
    write("fuzz_http_head", HEAD_SEEDS, lambda: b"")


if __name__ == "__main__":
    main()
