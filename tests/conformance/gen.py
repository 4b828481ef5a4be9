#!/usr/bin/env python3
"""Generate random StreamReader scenarios with expectations taken from CPython 3.13.0.

    gen.py [--seed S] [--count N] [--out DIR] [--per-file K] [--no-verify] [--stats]

Scenarios are built step by step against a live asyncio.StreamReader (pyref.Session), so
the generator can look at the reader's state to aim at the edges (line lengths at
limit-1/limit/limit+1 counted from what is already buffered, separators split across
feeds, flow-control thresholds, a second read while one waits, ...).  Every step's result
is what CPython produced.  The files are deterministic for a given seed.

After writing, the files are parsed back and checked with pyref's checker (unless
--no-verify); the exit status is 1 if anything disagrees.
"""

import argparse
import asyncio
import collections
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyref  # noqa: E402
from pyref import Step, fmt_task  # noqa: E402

DEFAULT_LIMIT = 65536
MAX_STEPS = 24          # hard cap on steps per scenario (awaits included)

SPECIAL_FILL = ["\r", "\t", "\0", "\x7f", "\x80", "\xff", "\x01", '"', "\\", "#", "\x1b"]
FAIL_MESSAGES = [b"boom", b"reset", b"", b"conn lost", b"e\n", b'x"y', b"\xff\x00",
                 b"#1", b"\\"]


def b(s):
    return s.encode("latin-1")


class Builder:
    """Builds one scenario against a live reader."""

    def __init__(self, rng, stats):
        self.rng = rng
        self.stats = stats
        self.steps = []
        self.sess = pyref.Session()
        self.queue = []             # chunks of a payload still to be fed
        self.deferred = None        # a completed pending read whose `await` is not out yet
        self.waiting_seps = None    # separators of the pending read (for statistics)
        self.setup()

    # ---------------------------------------------------------------- configuration
    def setup(self):
        rng = self.rng
        r = rng.random()
        self.explicit_limit = True
        if r < 0.05:
            self.limit = DEFAULT_LIMIT
            self.explicit_limit = rng.random() < 0.4
        elif r < 0.85:
            self.limit = rng.choice([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 12, 16])
        else:
            self.limit = rng.choice([17, 20, 24, 31, 32, 40, 64])
        self.small = self.limit <= 64
        self.theme = rng.choices(
            ["walk", "lines", "flow", "pending", "eof", "fail", "concurrent", "steal"],
            [30, 20, 12, 12, 10, 6, 10, 6])[0]
        self.sepset = self.pick_sepset()
        seps_chars = set(c for s in self.sepset for c in s)
        base = rng.choice(["xyz", "xyz. ", "0123456789", "cdefgh", "XYZ-_", "q"])
        alpha = list(base)
        if rng.random() < 0.3:
            alpha += rng.sample(SPECIAL_FILL, rng.randint(1, 3))
        if rng.random() < 0.2:
            alpha += [chr(c) for c in seps_chars]
        self.alpha = [b(c) for c in alpha]

    def pick_sepset(self):
        rng = self.rng
        L = self.limit
        kind = rng.choices(
            ["nl", "single", "long", "prefix", "suffix", "several", "dup", "overlap"],
            [30, 18, 8, 10, 10, 12, 3, 9])[0]
        pool = ["a", "ab", "aa", "aaa", "aba", "abab", "\r\n", "xyz", "\0", "\n\n", "--",
                "ab\0", "\xfe", "=", "ba"]
        if kind == "nl":
            return [b"\n"]
        if kind == "single":
            return [b(rng.choice(pool))]
        if kind == "long":
            n = (L + rng.randint(1, 3)) if L <= 6 else rng.randint(3, 6)
            return [b("".join(rng.choice("ab") for _ in range(n)))]
        if kind == "overlap":
            return [b(rng.choice(["aa", "aaa", "abab", "aba", "\n\n"]))]
        if kind in ("prefix", "suffix"):
            s = rng.choice(["a", "b", "\n", "ab", "\r"])
            t = rng.choice(["b", "a", "\n", "ba", "c", "\r\n"])
            pair = [s, s + t] if kind == "prefix" else [s, t + s]
            rng.shuffle(pair)
            return [b(x) for x in pair]
        if kind == "dup":
            s = rng.choice(["a", "ab", "\n"])
            return [b(s), b(s)] + ([b("b")] if rng.random() < 0.5 else [])
        n = rng.randint(2, 4)
        seps = set()
        while len(seps) < n:
            seps.add("".join(rng.choice("ab\n") for _ in range(rng.randint(1, 4))))
        seps = sorted(seps)
        rng.shuffle(seps)
        return [b(s) for s in seps]

    # ---------------------------------------------------------------- state
    @property
    def reader(self):
        return self.sess.reader

    def buflen(self):
        return len(self.reader._buffer) if self.reader is not None else 0

    def eof(self):
        return self.reader is not None and self.reader._eof

    def waiting(self):
        p = self.sess.pending
        return p is not None and not p.done()

    def room(self):
        return MAX_STEPS - len(self.steps)

    # ---------------------------------------------------------------- running steps
    async def run(self, step):
        """Run a step against CPython and record it with its actual result."""
        was_deferred = self.deferred
        was_waiting = self.waiting() and step.kind in pyref.READ_KINDS
        out = await self.sess.step(step)
        if out.problem is not None:
            raise AssertionError("generator produced a bad step: %s: %s"
                                 % (step.text(), out.problem))
        if out.actual is not None and out.actual.startswith("unexpected"):
            raise AssertionError("unexpected outcome %s for %s" % (out.actual, step.text()))
        if step.kind in pyref.ANNOTATED_KINDS or out.actual is not None:
            step.expect = out.actual
        # a new pending read replaces the one a deferred `await` refers to: put that
        # await before this read (it had completed before this step ran)
        if step.kind in pyref.READ_KINDS and out.actual == "pending" and was_deferred:
            self.steps.append(Step("await", expect=fmt_task(was_deferred)))
            self.deferred = None
        self.steps.append(step)
        self.count(step)
        self.detail(step, out, was_waiting)
        self.after_step()
        return out.actual

    def after_step(self):
        p = self.sess.pending
        if p is not None and p.done():
            self.sess.pending = None
            if self.rng.random() < 0.7 or self.room() < 4:
                self.emit_await(p)
            else:
                self.deferred = p

    def emit_await(self, task):
        st = Step("await", expect=fmt_task(task))
        self.steps.append(st)
        self.count(st)

    def flush_deferred(self):
        if self.deferred is not None:
            self.emit_await(self.deferred)
            self.deferred = None

    def detail(self, step, out, was_waiting):
        """Finer statistics: which edge a read actually hit."""
        st = self.stats
        w = self.sess.pending
        if step.kind == "feed" and w is not None and not w.done() and self.waiting_seps:
            if any(sep in self.reader._buffer for sep in self.waiting_seps):
                st["edge: separator skipped by a waiting readuntil (stale offset)"] += 1
        if step.kind in pyref.READ_KINDS and out.actual == "pending":
            self.waiting_seps = [b"\n"] if step.kind == "readline" else \
                (step.arg if step.kind == "readuntil" else None)
        if was_waiting:
            st["edge: second read while one waits -> %s" % (
                "RuntimeError" if out.actual == "RuntimeError" else
                "served" if out.actual.startswith('"') else out.actual.split(" ")[0])] += 1
        t = out.task
        if t is None or not t.done() or t.cancelled():
            return
        exc = t.exception()
        L = self.limit
        if exc is not None:
            msg = str(exc)
            if "not found" in msg:
                st["edge: %s limit overrun, separator not found" % step.kind] += 1
            elif "is found" in msg:
                st["edge: %s limit overrun, separator found" % step.kind] += 1
            return
        val = t.result()
        seps = [b"\n"] if step.kind == "readline" else \
            (step.arg if step.kind == "readuntil" else None)
        if seps and val:
            ends = [s for s in seps if val.endswith(s)]
            if ends:
                start = len(val) - min(len(s) for s in ends)
                d = start - L
                if -1 <= d <= 1:
                    st["edge: %s success, separator starts at limit%+d"
                       % (step.kind, d) if d else
                       "edge: %s success, separator starts at limit" % step.kind] += 1
        if step.kind == "readuntil" and len(step.arg) > 1:
            st["edge: readuntil tuple success"] += 1

    def count(self, st):
        k = st.kind
        e = st.expect
        if e is None:
            self.stats[k] += 1
            return
        tag = e.split(" ")[0] if not e.startswith('"') else "bytes"
        if k in ("at_eof", "paused"):
            tag = e
        elif k == "buffered":
            tag = "n"
        elif k == "exception":
            tag = e.split(" ")[0]
        self.stats["%s=>%s" % (k, tag)] += 1

    # ---------------------------------------------------------------- data
    def target_len(self):
        """Bytes wanted before a separator, relative to the limit."""
        rng = self.rng
        L = self.limit
        if not self.small:
            return rng.choice([0, 1, 2, 5, 10, 30])
        return max(0, rng.choice([L - 1, L - 1, L, L, L, L + 1, L + 1, 0, 1, L + 2,
                                  2 * L, rng.randint(0, 2 * L + 2)]))

    def filler(self, n, sep=b""):
        rng = self.rng
        out = bytearray()
        while len(out) < n:
            if sep and len(sep) > 1 and rng.random() < 0.15:
                frag = sep[:rng.randint(1, len(sep) - 1)]
                out += frag[:n - len(out)]
            else:
                out += rng.choice(self.alpha)
        return bytes(out[:n])

    def buffer_has_sep(self, seps):
        buf = self.reader._buffer if self.reader is not None else b""
        return any(s and s in buf for s in seps)

    def payload(self):
        """Make the next payload (bytes) to feed, aimed at an edge."""
        rng = self.rng
        L = self.limit
        kind = rng.choices(["line", "lines", "raw", "big", "empty", "overlap"],
                           [45, 12, 15, 10 if self.theme != "flow" else 40, 3, 5])[0]
        if kind == "empty":
            return b""
        if kind == "big" and self.small:
            n = 2 * L + rng.choice([-1, 0, 1, 1, 2, 3, 5]) - self.buflen()
            n = max(1, n)
            if rng.random() < 0.5:
                return self.filler(n)
            sep = self.pick_line_sep()
            return self.filler(max(0, n - len(sep)), sep) + sep
        if kind == "raw":
            n = rng.randint(1, 2 * L + 3) if self.small else rng.randint(1, 12)
            pool = self.alpha + [bytes([c]) for s in self.sepset for c in s]
            return b"".join(rng.choice(pool) for _ in range(n))
        if kind == "overlap":
            sep = self.pick_line_sep()
            return sep[:1] * rng.randint(1, 2 * len(sep) + 1) + \
                (sep if rng.random() < 0.5 else b"")
        n_lines = 1 if kind == "line" else rng.randint(2, 3)
        out = b""
        for i in range(n_lines):
            sep = self.pick_line_sep()
            want = self.target_len()
            if i == 0 and not self.buffer_has_sep([sep]):
                want = max(0, want - self.buflen())
            out += self.filler(want, sep) + sep
        if rng.random() < 0.15:
            out = out[:-1]  # leave the last separator incomplete
        return out

    def pick_line_sep(self):
        rng = self.rng
        if rng.random() < 0.3:
            return b"\n"
        return rng.choice(self.sepset)

    def split(self, data):
        """Split a payload into 1..3 feeds, preferring cuts inside a separator."""
        rng = self.rng
        if len(data) < 2 or rng.random() < 0.35:
            return [data]
        cuts = set()
        for _ in range(rng.choice([1, 1, 2])):
            # near a separator: cut one or two bytes before the end, or anywhere
            if rng.random() < 0.5:
                c = len(data) - rng.randint(1, min(3, len(data) - 1))
            else:
                c = rng.randint(1, len(data) - 1)
            cuts.add(c)
        cuts = sorted(cuts)
        parts = []
        prev = 0
        for c in cuts:
            parts.append(data[prev:c])
            prev = c
        parts.append(data[prev:])
        return [p for p in parts if p] or [data]

    # ---------------------------------------------------------------- step choices
    def n_arg(self):
        rng = self.rng
        L = self.limit
        bl = self.buflen()
        choices = [-1, -1, 0, 1, 2, bl, bl + 1, max(1, bl - 1), -2]
        if self.small:
            choices += [L - 1, L, L + 1, 2 * L + 1, rng.randint(1, 3 * L + 2)]
        else:
            choices += [rng.randint(1, 40)]
        return rng.choice(choices)

    def exact_arg(self):
        rng = self.rng
        L = self.limit
        bl = self.buflen()
        choices = [0, 0, -1, -3, 1, bl, bl, bl + 1, max(0, bl - 1), bl + 2]
        if self.small:
            choices += [L, L + 1, 2 * L + 1, rng.randint(1, 3 * L + 2)]
        return rng.choice(choices)

    def read_step(self):
        rng = self.rng
        k = rng.choices(["readuntil", "readline", "read", "readexactly", "badsep"],
                        [34, 26, 20, 16, 4])[0]
        if k == "readuntil":
            seps = list(self.sepset)
            if len(seps) > 1 and rng.random() < 0.3:
                seps = rng.sample(seps, len(seps))
            elif len(seps) == 1 and rng.random() < 0.1:
                seps = seps + [rng.choice([b"\n", b"z", b"ab", b"abc"])]
            return Step("readuntil", seps)
        if k == "readline":
            return Step("readline")
        if k == "read":
            return Step("read", self.n_arg())
        if k == "readexactly":
            return Step("readexactly", self.exact_arg())
        return Step("readuntil", rng.choice([[], [b""], [b"", b"a"], [b"ab", b""]]))

    def check_step(self):
        rng = self.rng
        kinds = ["buffered", "at_eof", "paused", "exception"]
        w = [30, 20, 15 if self.buflen() <= self.limit else 45, 10]
        if self.reader is not None and self.reader._exception is not None:
            w[3] = 30
        last = self.steps[-1].kind if self.steps else None
        if last in kinds:
            w[kinds.index(last)] = 0
        return Step(rng.choices(kinds, w)[0])

    async def feed_next(self):
        if not self.queue:
            self.queue = self.split(self.payload())
        await self.run(Step("feed", self.queue.pop(0)))

    async def act(self):
        rng = self.rng
        if self.eof():
            self.queue = []
            a = rng.choices(["read", "check", "feed", "eof", "fail"], [50, 25, 8, 3, 4])[0]
        elif self.waiting():
            a = rng.choices(["feed", "eof", "fail", "read", "check"],
                            [50, 8, 5, 12 if self.theme != "concurrent" else 30, 15])[0]
        else:
            feedw = 35 if self.theme != "pending" else 20
            readw = 35 if self.theme != "pending" else 50
            a = rng.choices(["feed", "read", "check", "eof", "fail"],
                            [feedw, readw, 12, 7 if self.theme != "eof" else 20,
                             4 if self.theme != "fail" else 15])[0]
        if a == "feed":
            if self.eof():
                data = rng.choice([b"", b"x", self.filler(rng.randint(1, 4))])
                await self.run(Step("feed", data))
            else:
                await self.feed_next()
                # watch flow control when the buffer is large
                if self.buflen() > self.limit and rng.random() < 0.3 and self.room() > 3:
                    await self.run(Step("paused"))
        elif a == "read":
            await self.run(self.read_step())
        elif a == "check":
            await self.run(self.check_step())
        elif a == "eof":
            await self.run(Step("eof"))
        else:
            await self.run(Step("fail", rng.choice(FAIL_MESSAGES)))

    async def prelude(self):
        """Theme-specific opening steps."""
        rng = self.rng
        L = self.limit
        t = self.theme
        if t == "flow" and self.small:
            # overfill the buffer, watch pause, read it back down
            await self.run(Step("feed", self.filler(2 * L + rng.choice([0, 1, 2]),
                                                    self.sepset[0])))
            await self.run(Step("paused"))
            await self.run(Step("buffered"))
        elif t == "pending":
            await self.run(self.read_step())
        elif t == "concurrent":
            await self.run(self.read_step())
            if self.waiting() or rng.random() < 0.5:
                if rng.random() < 0.5:
                    await self.feed_next()
                await self.run(self.read_step())
        elif t == "steal":
            # a read served from the buffer while readuntil/readline waits shifts the
            # buffer under readuntil's saved search offset, so separators that land
            # before that offset are skipped
            if rng.random() < 0.5:
                first = Step("readline")
                seps = [b"\n"]
            else:
                first = Step("readuntil", list(self.sepset))
                seps = first.arg
            await self.run(first)
            if self.waiting():
                await self.run(Step("feed", self.filler(rng.randint(1, self.limit + 2),
                                                        seps[0])))
                await self.run(rng.choice([Step("read", rng.choice([-1, 1, 2, 3])),
                                           Step("readexactly", rng.choice([1, 2, 3]))]))
                if rng.random() < 0.5:
                    await self.run(Step("buffered"))
                if self.waiting() and rng.random() < 0.8:
                    sep = rng.choice(seps)
                    await self.run(Step("feed", self.filler(rng.randint(0, 2), sep) + sep))
        elif t == "lines":
            data = self.payload()
            for part in self.split(data):
                await self.run(Step("feed", part))
                if rng.random() < 0.3:
                    await self.run(self.read_step())

    async def ending(self):
        rng = self.rng
        if self.waiting() and self.room() >= 3 and rng.random() < 0.75:
            r = rng.random()
            if r < 0.6:
                await self.run(Step("eof"))
            elif r < 0.8:
                await self.run(Step("fail", rng.choice(FAIL_MESSAGES)))
            else:
                await self.feed_next()
        self.flush_deferred()
        checks = ["buffered", "at_eof", "paused", "exception"]
        rng.shuffle(checks)
        for k in checks[:rng.choice([0, 1, 1, 2, 3])]:
            if self.room() < 1:
                break
            await self.run(Step(k))
        self.flush_deferred()

    async def build(self):
        rng = self.rng
        try:
            if rng.random() < 0.01:
                await self.run(Step("reader", rng.choice([0, 0, -1, -2, -65536])))
                return self.steps
            if self.explicit_limit:
                await self.run(Step("reader", self.limit))
            await self.prelude()
            target = rng.randint(4, 19)
            while len(self.steps) < target and self.room() > 6:
                await self.act()
            await self.ending()
            return self.steps
        finally:
            await self.sess.close()


async def generate(seed, count, stats):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        sub = random.Random(rng.getrandbits(64))
        out.append(await Builder(sub, stats).build())
    return out


def render_file(scenarios, first_index, width, header):
    lines = [header, ""]
    for i, steps in enumerate(scenarios):
        lines.append("scenario c%0*d" % (width, first_index + i))
        for st in steps:
            lines.append("  " + st.render())
        lines.append("")
    return "\n".join(lines)


async def verify(paths, expected_texts):
    """Parse the written files back and check them with pyref's checker."""
    bad = 0
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        for sc in pyref.parse_text(data, path):
            total += 1
            diag = await pyref.check_scenario(sc)
            if diag is not None:
                bad += 1
                sys.stderr.write("gen.py: verify: %s:%s: %s\n" % (path, sc.name, diag))
            got = [st.render() for st in sc.steps]
            if got != expected_texts[sc.name]:
                bad += 1
                sys.stderr.write("gen.py: verify: %s:%s does not parse back to what "
                                 "was written\n" % (path, sc.name))
    return total, bad


def main(argv):
    pyref.require_reference_python("gen.py")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "generated"))
    ap.add_argument("--per-file", type=int, default=100)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--stats", action="store_true", help="print step/result counts")
    args = ap.parse_args(argv)
    if args.count < 1 or args.per_file < 1:
        ap.error("--count and --per-file must be positive")

    stats = collections.Counter()
    scenarios = asyncio.run(generate(args.seed, args.count, stats))

    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if name.startswith("conf-") and name.endswith(".scn"):
            os.remove(os.path.join(args.out, name))
    width = max(4, len(str(args.count)))
    nfiles = (args.count + args.per_file - 1) // args.per_file
    fwidth = max(3, len(str(nfiles)))
    paths = []
    expected = {}
    for fi in range(nfiles):
        lo = fi * args.per_file
        chunk = scenarios[lo:lo + args.per_file]
        for i, steps in enumerate(chunk):
            expected["c%0*d" % (width, lo + 1 + i)] = [st.render() for st in steps]
        header = ("# Generated by tests/conformance/gen.py --seed %d --count %d "
                  "(file %d of %d).\n# Expected results are CPython 3.13.0's. "
                  "Do not edit; regenerate." % (args.seed, args.count, fi + 1, nfiles))
        path = os.path.join(args.out, "conf-%0*d.scn" % (fwidth, fi + 1))
        with open(path, "wb") as f:
            f.write(render_file(chunk, lo + 1, width, header).encode("latin-1"))
        paths.append(path)

    nsteps = sum(len(s) for s in scenarios)
    sys.stderr.write("gen.py: wrote %d scenarios (%d steps, max %d per scenario) in %d "
                     "files to %s\n" % (len(scenarios), nsteps,
                                        max(len(s) for s in scenarios), nfiles, args.out))
    if args.stats:
        for k in sorted(stats):
            sys.stderr.write("  %-36s %d\n" % (k, stats[k]))
    if args.no_verify:
        return 0
    total, bad = asyncio.run(verify(paths, expected))
    sys.stderr.write("gen.py: verified %d scenarios against CPython: %s\n"
                     % (total, "all pass" if not bad else "%d FAILED" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
