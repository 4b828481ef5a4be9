#!/usr/bin/env python3
"""Write the hand-made seed corpora of the fuzz targets (fuzz/README.md).

    python3 fuzz/make_seeds.py            # writes fuzz/corpus/{reader_ops,chunking,scenario_parse}/

Each reader_ops seed is written from a readable list of operations with the encoder below,
which follows decode() in fuzz/reader_ops.c; each chunking seed from (limit, chunkings,
flags, stream). scenario_parse gets copies of the hand-written scenarios (reader and
network), the bad-scenario tests and a few conformance files. Crash reproducers found by fuzzing are kept as
fuzz/corpus/<target>/crash-* and are not touched by this script.
"""

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# ---------------------------------------------------------------------------------------
# reader_ops


def limit_byte(limit):
    big = [65, 66, 100, 127, 128, 129, 200, 255, 256, 1000, 1024, 4096, 8192, 1, 2, 65536]
    if 1 <= limit <= 16:
        return limit - 1
    if 17 <= limit <= 64:
        return 176 + limit - 17
    return 240 + big.index(limit)


TRANSPORT = {"probe": 0, "none": 2, "nopause": 3}


def ops_seed(limit, seps, ops, transport="probe", alpha=False):
    """seps: up to 4 separators (bytes, len 0..6). ops: tuples, see below."""
    assert 1 <= len(seps) <= 4
    out = bytearray([limit_byte(limit),
                     TRANSPORT[transport] | (4 if alpha else 0) | ((len(seps) - 1) << 3)])
    for s in seps:
        assert len(s) <= 6
        out.append(len(s))
        out += s
    for op in ops:
        kind, *args = op
        if kind == "feed":
            data = args[0]
            while True:  # long feeds are split into feeds of <= 16 bytes
                out += bytes([0, len(data[:16])]) + data[:16]
                data = data[16:]
                if not data:
                    break
        elif kind == "feedrun":  # 1 + 4*count bytes of a, b, a, b... (255, "S", "K": 600 KiB)
            count, a, b = args
            out += bytes([4, count, a, b])
        elif kind == "eof":
            out.append(5)
        elif kind == "fail":
            out.append(6)
        elif kind == "read":
            n = args[0]
            if n == -1:
                out.append(14)
            elif n >= 128:
                assert n % 16 == 0
                out += bytes([15, n // 16])
            else:
                out += bytes([7, n & 0xFF])
        elif kind == "readline":
            out.append(8)
        elif kind == "readexactly":
            out += bytes([9, args[0] & 0xFF])
        elif kind == "readuntil":  # one separator, by index
            out += bytes([10, args[0]])
        elif kind == "tuple":  # a mask of separator indexes; 0x80 = reversed order
            out += bytes([11, args[0]])
        elif kind == "cancel":
            out.append(12)
        else:
            raise ValueError(kind)
    return bytes(out)


def reader_ops_seeds():
    s = {}
    s["read_basic"] = ops_seed(16, [b"\n"], [("read", 5), ("feed", b"hello world"), ("read", 5),
                                             ("read", 0), ("read", -1), ("eof",)])
    s["read_all_limit1"] = ops_seed(1, [b"\n"], [("feed", b"abcdef"), ("eof",), ("read", -1)])
    s["read_all_waits"] = ops_seed(3, [b"\n"], [("read", -1), ("feed", b"abcdefgh"),
                                                ("feed", b"ij"), ("eof",)])
    s["read_all_exception"] = ops_seed(2, [b"\n"], [("read", -1), ("feed", b"abcde"), ("fail",)])
    s["read_negative"] = ops_seed(4, [b"\n"], [("feed", b"xy"), ("read", -5), ("eof",)])
    s["readline_basic"] = ops_seed(16, [b"\n"], [("feed", b"one\ntwo\nthr"), ("readline",),
                                                 ("readline",), ("readline",), ("feed", b"ee\n")])
    s["readline_limit_found"] = ops_seed(3, [b"\n"], [("feed", b"abcd\nxy"), ("readline",),
                                                      ("readline",), ("eof",)])
    s["readline_limit_notfound"] = ops_seed(3, [b"\n"], [("readline",), ("feed", b"abcd"),
                                                         ("feed", b"\n"), ("readline",)])
    s["readline_exact_limit"] = ops_seed(3, [b"\n"], [("feed", b"abc\n"), ("readline",),
                                                      ("feed", b"abcd\n"), ("readline",)])
    s["readline_eof_partial"] = ops_seed(8, [b"\n"], [("feed", b"abc"), ("readline",), ("eof",),
                                                      ("readline",)])
    s["readexactly_basic"] = ops_seed(2, [b"\n"], [("readexactly", 5), ("feed", b"ab"),
                                                   ("feed", b"cdefg"), ("readexactly", 0),
                                                   ("readexactly", -1)])
    s["readexactly_eof"] = ops_seed(4, [b"\n"], [("feed", b"abc"), ("readexactly", 5), ("eof",)])
    s["readuntil_split_sep"] = ops_seed(8, [b"aaa"], [("readuntil", 0), ("feed", b"xa"),
                                                      ("feed", b"a"), ("feed", b"ab")])
    s["readuntil_eof"] = ops_seed(8, [b"\r\n"], [("feed", b"abc\r"), ("readuntil", 0), ("eof",)])
    s["readuntil_limit_eof"] = ops_seed(2, [b"\n"], [("feed", b"abcdef"), ("eof",),
                                                     ("readuntil", 0)])
    s["readuntil_empty_sep"] = ops_seed(8, [b"", b"x"], [("feed", b"ax"), ("readuntil", 0),
                                                         ("tuple", 0), ("tuple", 3), ("tuple", 2)])
    s["multi_tie_limit"] = ops_seed(1, [b"ab", b"b"], [("feed", b"xab"), ("tuple", 3),
                                                       ("tuple", 1)])
    s["multi_earliest_end"] = ops_seed(16, [b"abcd", b"c"], [("feed", b"abcd"), ("tuple", 3),
                                                             ("tuple", 0x83)])
    s["multi_crlf"] = ops_seed(16, [b"\r\n", b"\n"], [("feed", b"one\r\ntwo\nthree"),
                                                      ("tuple", 3), ("tuple", 3), ("tuple", 3),
                                                      ("eof",)])
    s["multi_long_relaxes"] = ops_seed(2, [b"\n", b"xxxxxx"], [("feed", b"abcd"), ("tuple", 3),
                                                               ("readuntil", 0)])
    s["multi_four"] = ops_seed(4, [b"a", b"ab", b"abc", b"\n"],
                               [("tuple", 15), ("feed", b"zzab"), ("tuple", 0x8F),
                                ("feed", b"c\n"), ("tuple", 6)], alpha=False)
    s["stale_offset"] = ops_seed(64, [b"\n"], [("readuntil", 0), ("feed", b"xxxxxx"),
                                               ("read", 6), ("feed", b"a\nbbbbbbbb"),
                                               ("feed", b"\n")])
    s["stale_offset_readline"] = ops_seed(16, [b"\n"], [("readline",), ("feed", b"abcdefgh"),
                                                        ("read", 8), ("feed", b"x\ny"),
                                                        ("eof",)])
    s["conc_second_waiter"] = ops_seed(8, [b"z"], [("read", 1), ("read", 1), ("readline",),
                                                   ("readexactly", 3), ("readuntil", 0),
                                                   ("read", -1), ("feed", b"x")])
    s["conc_served_from_buffer"] = ops_seed(8, [b"\n"], [("readexactly", 5), ("feed", b"abc"),
                                                         ("read", 2), ("feed", b"defg")])
    s["conc_read_all_refused"] = ops_seed(2, [b"\n"], [("readexactly", 9), ("feed", b"abcdef"),
                                                       ("read", -1), ("feed", b"xyz")])
    s["exception_wakes"] = ops_seed(8, [b"\n"], [("readline",), ("fail",), ("read", 0),
                                                 ("readexactly", -1), ("feed", b"a"),
                                                 ("readuntil", 0), ("fail",), ("read", 1)])
    s["exception_buffered"] = ops_seed(8, [b"\n"], [("feed", b"abc\n"), ("fail",),
                                                    ("readline",), ("eof",), ("feed", b"x")])
    s["feed_after_eof"] = ops_seed(8, [b"\n"], [("eof",), ("feed", b"x"), ("feed", b""),
                                                ("read", 4)])
    s["cancel_waiting"] = ops_seed(8, [b"\n"], [("readline",), ("cancel",), ("feed", b"ab\n"),
                                                ("readline",)])
    s["cancel_read_all"] = ops_seed(2, [b"\n"], [("read", -1), ("feed", b"abcd"), ("cancel",),
                                                 ("feed", b"ef"), ("read", 1)])
    s["pause_resume"] = ops_seed(2, [b"\n"], [("feed", b"abcde"), ("read", 1), ("read", 1),
                                              ("readexactly", 9), ("feed", b"fghijk")])
    s["pause_readline_valueerror"] = ops_seed(2, [b"\n"], [("feed", b"abcdefg\nh"),
                                                           ("readline",), ("readline",)])
    s["pause_no_transport"] = ops_seed(2, [b"\n"], [("feed", b"abcdefgh"), ("read", 2)],
                                       transport="none")
    s["pause_not_implemented"] = ops_seed(2, [b"\n"], [("feed", b"abcdefgh"), ("read", 7),
                                                       ("feed", b"abcdefgh")],
                                          transport="nopause")
    s["big_feed"] = ops_seed(64, [b"\n"], [("readline",), ("feedrun", 40, ord("a"), ord("b")),
                                           ("feed", b"\n"), ("read", 256)])
    # two 600 KiB feeds (count 255 + pattern "SK"): the block grows over 1 MiB, readline
    # clears it, and the next read call releases it
    s["big_release"] = ops_seed(16, [b"\n"], [("feedrun", 255, ord("S"), ord("K")),
                                              ("feedrun", 255, ord("S"), ord("K")),
                                              ("readline",), ("read", 1), ("feed", b"x\n"),
                                              ("readline",)])
    s["default_limit"] = ops_seed(65536, [b"\r\n\r\n"], [("feedrun", 255, 1, 2),
                                                         ("feed", b"\r\n\r\n"), ("readuntil", 0)])
    s["alpha_mix"] = ops_seed(5, [b"\r\n", b"\n", b"ab"],
                              [("feed", bytes([0, 1, 2, 3, 0, 0, 1, 3])), ("tuple", 7),
                               ("readline",), ("readuntil", 2)], alpha=True)
    return s


# ---------------------------------------------------------------------------------------
# chunking


def chunking_seed(limit, ca, cb, stream, batch_a=1, batch_b=1, alpha=False, late=False):
    flags = (batch_a - 1) | ((batch_b - 1) << 2) | (0x10 if alpha else 0) | (0x20 if late else 0)
    return bytes([limit_byte(limit), ca, cb, flags]) + stream


def chunking_seeds():
    s = {}
    lines = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\n"
    s["http_bytewise_vs_whole"] = chunking_seed(64, 0, 130, lines)
    s["http_random"] = chunking_seed(32, 3, 200, lines, 2, 4)
    s["short_limit"] = chunking_seed(4, 1, 170, b"ab\ncd\r\nabcd\nabcde\nx")
    s["over_limit_line"] = chunking_seed(3, 0, 140, b"abcd\nxy\n")
    s["over_limit_by_one"] = chunking_seed(3, 2, 180, b"abc\r\nabcd\r\n")
    s["tail"] = chunking_seed(4, 0, 150, b"a\nabcde")
    s["tail_limit_plus_one"] = chunking_seed(4, 1, 190, b"a\nabcd\r")
    s["empty"] = chunking_seed(8, 0, 130, b"")
    s["only_newlines"] = chunking_seed(1, 0, 255, b"\n\n\r\n\n\r\r\n")
    s["crlf_split"] = chunking_seed(8, 0, 131, b"ab\r\ncd\r\r\nef\r")
    s["alpha"] = chunking_seed(6, 5, 222, bytes(range(64)), 4, 1, alpha=True)
    s["late_start"] = chunking_seed(5, 4, 160, b"12345\n123456\n1\n", 3, 2, late=True)
    s["default_limit"] = chunking_seed(65536, 31, 201, b"x" * 300 + b"\n" + b"y" * 40)
    s["limit1"] = chunking_seed(1, 0, 161, b"a\nbb\nc\r\n\n")
    s["binary"] = chunking_seed(16, 7, 243, bytes(range(256)))
    s["many_lines"] = chunking_seed(10, 9, 199, b"".join(b"line%d\n" % i for i in range(40)), 4, 4)
    return s


# ---------------------------------------------------------------------------------------


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)


def copy_scenarios():
    d = os.path.join(CORPUS, "scenario_parse")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    srcs = []
    for sub in ("scenarios", "scenarios/reader", "scenarios/net", "tests/bad-scenarios"):
        p = os.path.join(ROOT, sub)
        if os.path.isdir(p):
            srcs += [os.path.join(sub, n) for n in sorted(os.listdir(p)) if n.endswith(".scn")]
    srcs += ["tests/conformance/generated/conf-%03d.scn" % i for i in (1, 2, 3)]
    for rel in srcs:
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(d, "seed-" + rel.replace("/", "_")))


def main():
    write("reader_ops", reader_ops_seeds())
    write("chunking", chunking_seeds())
    copy_scenarios()
    return 0


if __name__ == "__main__":
    sys.exit(main())
