#!/usr/bin/env python3
"""Reference runner: execute weir scenario files against CPython 3.13.0's asyncio.StreamReader.

    pyref.py FILE...          check every scenario, print TAP
    pyref.py --emit FILE...   print the files back, every observable step annotated with
                              what CPython actually produced

Exit status: 0 all scenarios pass (or --emit succeeded), 1 some scenario failed (or --emit
met a step it could not annotate), 2 could not run: malformed input (reported as
file:line:col: message), bad usage, or the wrong interpreter.

The grammar is docs/scenarios.md.  gen.py imports this module and drives the same engine
(Session) to learn CPython's results.
"""

import asyncio
import sys

REQUIRED_VERSION = (3, 13, 0)
INTERPRETER_HINT = "~/.pyenv/versions/3.13.0/bin/python3"


def require_reference_python(prog):
    """Refuse to run anywhere but CPython 3.13.0 with assertions enabled."""
    impl = sys.implementation.name
    ver = tuple(sys.version_info[:3])
    if impl != "cpython" or ver != REQUIRED_VERSION:
        sys.stderr.write(
            "%s: the reference must be CPython %s, but this is %s %s (%s);\n"
            "  run it as: %s %s ...\n"
            % (prog, ".".join(map(str, REQUIRED_VERSION)), impl,
               ".".join(map(str, ver)), sys.executable, INTERPRETER_HINT, prog))
        sys.exit(2)
    if not __debug__:
        sys.stderr.write(
            "%s: python -O strips the assert in StreamReader.feed_data "
            "(feed after EOF); run without -O\n" % prog)
        sys.exit(2)


# ---------------------------------------------------------------------------------------
# Canonical formatting (must agree byte for byte with the C runner)

_ESCAPES = {0x5C: "\\\\", 0x22: '\\"', 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x00: "\\0"}


def fmt_bytes(data):
    out = ['"']
    for c in data:
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)


def fmt_bool(v):
    return "true" if v else "false"


class ScenarioError(Exception):
    """The error that `fail BYTES` stores in the reader; args[0] is the message (bytes)."""

    @property
    def message(self):
        return self.args[0]


def fmt_outcome(exc=None, value=None):
    """Canonical RESULT text for a finished read: its value, or the exception it raised."""
    if exc is None:
        if isinstance(value, (bytes, bytearray)):
            return fmt_bytes(bytes(value))
        return "unexpected-value %r" % (value,)
    if isinstance(exc, asyncio.IncompleteReadError):
        exp = "none" if exc.expected is None else str(exc.expected)
        return "IncompleteReadError partial=%s expected=%s" % (fmt_bytes(exc.partial), exp)
    if isinstance(exc, asyncio.LimitOverrunError):
        return "LimitOverrunError consumed=%d" % exc.consumed
    if isinstance(exc, ScenarioError):
        return "error " + fmt_bytes(exc.message)
    if isinstance(exc, asyncio.CancelledError):
        return "unexpected-cancelled"
    if type(exc) is ValueError:
        return "ValueError"
    if type(exc) is RuntimeError:
        return "RuntimeError"
    return "unexpected-exception %s: %s" % (type(exc).__name__, exc)


def fmt_task(task):
    if not task.done():
        return "pending"
    if task.cancelled():
        return "unexpected-cancelled"
    exc = task.exception()
    if exc is not None:
        return fmt_outcome(exc=exc)
    return fmt_outcome(value=task.result())


def fmt_exception_getter(exc):
    if exc is None:
        return "none"
    if isinstance(exc, ScenarioError):
        return "error " + fmt_bytes(exc.message)
    return "unexpected-exception %s" % type(exc).__name__


# ---------------------------------------------------------------------------------------
# Scenario model

READ_KINDS = ("read", "readline", "readexactly", "readuntil")
# steps that print a result in --emit mode (feed/reader only when they raised)
ANNOTATED_KINDS = READ_KINDS + ("at_eof", "buffered", "paused", "exception", "await")


class Step:
    """One scenario line.

    kind: reader feed eof fail read readline readexactly readuntil at_eof buffered
          paused exception await
    arg:  reader/read/readexactly: int; feed/fail: bytes; readuntil: list of bytes
          (one element: the plain-bytes form; several or zero: the tuple form)
    expect: canonical result text, or None when the line has no `=>`
    """

    __slots__ = ("kind", "arg", "expect", "line", "pre_end", "comment")

    def __init__(self, kind, arg=None, expect=None, line=0, pre_end=None, comment=None):
        self.kind = kind
        self.arg = arg
        self.expect = expect
        self.line = line
        self.pre_end = pre_end      # column where the step text ends (for --emit)
        self.comment = comment      # trailing comment text including '#', or None

    def text(self):
        """Canonical step text without the expectation."""
        k = self.kind
        if k == "reader":
            return "reader limit=%d" % self.arg
        if k in ("feed", "fail"):
            return "%s %s" % (k, fmt_bytes(self.arg))
        if k in ("read", "readexactly"):
            return "%s %d" % (k, self.arg)
        if k == "readuntil":
            if not self.arg:
                return "readuntil ()"
            return "readuntil " + " ".join(fmt_bytes(s) for s in self.arg)
        return k

    def render(self):
        if self.expect is None:
            return self.text()
        return "%s => %s" % (self.text(), self.expect)


class Scenario:
    __slots__ = ("name", "path", "line", "steps")

    def __init__(self, name, path, line):
        self.name = name
        self.path = path
        self.line = line
        self.steps = []


# ---------------------------------------------------------------------------------------
# Parser

class Malformed(Exception):
    def __init__(self, path, line, col, msg):
        super().__init__("%s:%d:%d: %s" % (path, line, col, msg))


_SIMPLE_ESC = {"\\": 0x5C, '"': 0x22, "n": 0x0A, "r": 0x0D, "t": 0x09, "0": 0x00}
_HEX = "0123456789abcdefABCDEF"


class _Tok:
    __slots__ = ("kind", "val", "col", "end", "glued")

    def __init__(self, kind, val, col, end, glued):
        self.kind = kind    # 'word' or 'str'
        self.val = val      # str for words, bytes for strings
        self.col = col      # 0-based start
        self.end = end      # 0-based index after the token
        self.glued = glued  # no whitespace between this token and the previous one


def _lex(text, path, lineno):
    """Split one line (a latin-1 str, one char per byte) into tokens and a comment."""
    toks = []
    i = 0
    n = len(text)
    comment = None
    prev_end = -1
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c == "#":
            comment = i
            break
        glued = prev_end == i
        if c == '"':
            start = i
            i += 1
            buf = bytearray()
            while True:
                if i >= n:
                    raise Malformed(path, lineno, start + 1, "unterminated string")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n:
                        raise Malformed(path, lineno, i + 1, "unterminated string")
                    e = text[i + 1]
                    if e in _SIMPLE_ESC:
                        buf.append(_SIMPLE_ESC[e])
                        i += 2
                    elif e == "x":
                        h = text[i + 2:i + 4]
                        if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                            raise Malformed(path, lineno, i + 1,
                                            "\\x needs two hex digits")
                        buf.append(int(h, 16))
                        i += 4
                    else:
                        raise Malformed(path, lineno, i + 1,
                                        "unknown escape \\%s" % e)
                    continue
                buf.append(ord(c))
                i += 1
            toks.append(_Tok("str", bytes(buf), start, i, glued))
        else:
            start = i
            while i < n and text[i] not in ' \t"#':
                i += 1
            toks.append(_Tok("word", text[start:i], start, i, glued))
        prev_end = i
    return toks, comment


def _is_int(s):
    body = s[1:] if s.startswith("-") else s
    return body.isascii() and body.isdigit()


class _LineParser:
    def __init__(self, path, lineno, toks, eol_col):
        self.path = path
        self.lineno = lineno
        self.toks = toks
        self.pos = 0
        self.eol_col = eol_col

    def err(self, tok, msg):
        col = (tok.col if tok is not None else self.eol_col) + 1
        raise Malformed(self.path, self.lineno, col, msg)

    def peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self, what):
        t = self.peek()
        if t is None:
            self.err(None, "expected %s" % what)
        self.pos += 1
        return t

    def separated(self, tok):
        if tok.glued:
            self.err(tok, "missing space before this token")

    def word(self, what):
        t = self.next(what)
        if t.kind != "word":
            self.err(t, "expected %s" % what)
        self.separated(t)
        return t

    def string(self, what):
        t = self.next(what)
        if t.kind != "str":
            self.err(t, "expected %s" % what)
        self.separated(t)
        return t.val

    def integer(self, what):
        t = self.word(what)
        if not _is_int(t.val):
            self.err(t, "expected %s, found %r" % (what, t.val))
        return int(t.val)

    def at_end(self):
        return self.pos >= len(self.toks)

    def end(self):
        t = self.peek()
        if t is not None:
            self.err(t, "unexpected text after the step")

    # RESULT := BYTES | pending | IncompleteReadError partial=BYTES expected=N|none
    #         | LimitOverrunError consumed=N | ValueError | RuntimeError | error BYTES
    def result(self):
        t = self.next("a result")
        self.separated(t)
        if t.kind == "str":
            return fmt_bytes(t.val)
        w = t.val
        if w in ("pending", "ValueError", "RuntimeError"):
            return w
        if w == "error":
            return "error " + fmt_bytes(self.string("the error message (a string)"))
        if w == "LimitOverrunError":
            c = self.word("consumed=N")
            if not c.val.startswith("consumed=") or not _is_int(c.val[9:]):
                self.err(c, "expected consumed=N")
            return "LimitOverrunError consumed=%d" % int(c.val[9:])
        if w == "IncompleteReadError":
            p = self.word('partial="..."')
            if p.val != "partial=":
                self.err(p, 'expected partial="..."')
            s = self.next('partial="..."')
            if s.kind != "str" or not s.glued:
                self.err(s, 'expected a string right after partial=')
            e = self.word("expected=N or expected=none")
            if not e.val.startswith("expected="):
                self.err(e, "expected expected=N or expected=none")
            ev = e.val[9:]
            if ev == "none":
                exp = "none"
            elif _is_int(ev):
                exp = str(int(ev))
            else:
                self.err(e, "expected expected=N or expected=none")
            return "IncompleteReadError partial=%s expected=%s" % (fmt_bytes(s.val), exp)
        self.err(t, "unknown result %r" % w)


def _parse_step(lp, kw):
    """Parse a step's arguments (after the keyword); returns Step.arg."""
    k = kw.val
    if k == "reader":
        t = lp.word("limit=N")
        if not t.val.startswith("limit=") or not _is_int(t.val[6:]):
            lp.err(t, "expected limit=N")
        return int(t.val[6:])
    if k in ("feed", "fail"):
        return lp.string("a string")
    if k in ("read", "readexactly"):
        return lp.integer("an integer")
    if k == "readuntil":
        t = lp.peek()
        if t is not None and t.kind == "word" and t.val == "()":
            lp.word("()")
            return []
        seps = []
        while True:
            t = lp.peek()
            if t is None or t.kind != "str":
                break
            seps.append(lp.string("a separator"))
        if not seps:
            lp.err(lp.peek(), "readuntil needs a separator string or ()")
        return seps
    return None


_KEYWORDS = ("reader", "feed", "eof", "fail", "read", "readline", "readexactly",
             "readuntil", "at_eof", "buffered", "paused", "exception", "await")


def parse_text(data, path):
    """Parse the bytes of one scenario file into a list of Scenario."""
    text = data.decode("latin-1")
    scenarios = []
    cur = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        if raw.endswith("\r"):
            raw = raw[:-1]
        toks, comment_col = _lex(raw, path, lineno)
        if not toks:
            continue
        eol = comment_col if comment_col is not None else len(raw)
        # split at '=>'
        arrow = None
        for idx, t in enumerate(toks):
            if t.kind == "word" and t.val == "=>":
                arrow = idx
                break
        head = toks if arrow is None else toks[:arrow]
        lp = _LineParser(path, lineno, head, toks[arrow].col if arrow is not None else eol)
        kw = head[0] if head else None
        if kw is None or kw.kind != "word":
            lp.err(kw if kw is not None else toks[0], "expected a step keyword")
        lp.pos = 1
        if kw.val == "scenario":
            name = lp.word("a scenario name")
            lp.end()
            if arrow is not None:
                lp.err(toks[arrow], "scenario takes no result")
            cur = Scenario(name.val, path, lineno)
            scenarios.append(cur)
            continue
        if kw.val not in _KEYWORDS:
            lp.err(kw, "unknown step %r" % kw.val)
        if cur is None:
            lp.err(kw, "step before the first `scenario` line")
        arg = _parse_step(lp, kw)
        lp.end()
        k = kw.val
        if k == "reader" and cur.steps:
            lp.err(kw, "`reader` must be the first step of a scenario")
        expect = None
        if arrow is not None:
            rp = _LineParser(path, lineno, toks[arrow + 1:], eol)
            first = rp.peek()
            if first is None:
                rp.err(None, "missing result after =>")
            if k in ("eof", "fail"):
                lp.err(toks[arrow], "`%s` takes no result" % k)
            elif k == "reader":
                expect = rp.word("ValueError").val
                if expect != "ValueError":
                    rp.err(first, "`reader` can only expect ValueError")
            elif k == "feed":
                expect = rp.word("AssertionError").val
                if expect != "AssertionError":
                    rp.err(first, "`feed` can only expect AssertionError")
            elif k in ("at_eof", "paused"):
                expect = rp.word("true or false").val
                if expect not in ("true", "false"):
                    rp.err(first, "expected true or false")
            elif k == "buffered":
                expect = str(rp.integer("a byte count"))
            elif k == "exception":
                w = rp.word("none or error")
                if w.val == "none":
                    expect = "none"
                elif w.val == "error":
                    expect = "error " + fmt_bytes(rp.string("the error message (a string)"))
                else:
                    rp.err(w, "expected none or error \"...\"")
            else:
                expect = rp.result()
            rp.end()
        elif k in ("at_eof", "buffered", "paused", "exception", "await"):
            lp.err(None, "`%s` needs `=> ...`" % k)
        pre_end = head[-1].end
        comment = raw[comment_col:] if comment_col is not None else None
        cur.steps.append(Step(k, arg, expect, lineno, pre_end, comment))
    return scenarios


# ---------------------------------------------------------------------------------------
# Engine

class FakeTransport:
    """Just enough transport for StreamReader's flow control."""

    def __init__(self):
        self.paused = False
        self.pauses = 0
        self.resumes = 0

    def pause_reading(self):
        self.paused = True
        self.pauses += 1

    def resume_reading(self):
        self.paused = False
        self.resumes += 1


async def quiesce():
    """Run the loop until no callback is ready (at least 20 turns)."""
    loop = asyncio.get_running_loop()
    for turn in range(100000):
        await asyncio.sleep(0)
        if turn >= 19 and not loop._ready:
            return
    raise RuntimeError("event loop does not quiesce")


class Outcome:
    """What one step produced.

    actual: canonical result text; None for eof/fail and for a feed/reader that did not
            raise
    problem: a runtime condition that is a failure whatever was expected (e.g. `await`
             with no pending read); None normally
    """
    __slots__ = ("actual", "problem", "task")

    def __init__(self, actual=None, problem=None):
        self.actual = actual
        self.problem = problem
        self.task = None        # the read's task, for reads


class Session:
    """One scenario's reader, fake transport and tasks."""

    def __init__(self):
        self.reader = None
        self.transport = FakeTransport()
        self.broken = False     # `reader limit=N` raised
        self.pending = None     # the pending read's task
        self.tasks = []

    def _ensure_reader(self, limit=None):
        if self.reader is None:
            self.reader = asyncio.StreamReader() if limit is None else \
                asyncio.StreamReader(limit=limit)
            self.reader.set_transport(self.transport)

    def _start_read(self, step):
        r = self.reader
        k = step.kind
        if k == "read":
            coro = r.read(step.arg)
        elif k == "readexactly":
            coro = r.readexactly(step.arg)
        elif k == "readline":
            coro = r.readline()
        elif len(step.arg) == 1:
            coro = r.readuntil(step.arg[0])
        else:
            coro = r.readuntil(tuple(step.arg))
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    def paused_state(self):
        """Return (paused, problem) where problem reports reader/transport disagreement."""
        a = bool(self.reader._paused)
        b = self.transport.paused
        if a != b:
            return fmt_bool(a), "reader._paused is %s but the transport is %s" % (
                fmt_bool(a), "paused" if b else "not paused")
        return fmt_bool(a), None

    async def step(self, step, adopt_pending=True):
        """Run one step and let the loop quiesce.  A read that is still pending afterwards
        becomes the pending read when adopt_pending is true."""
        k = step.kind
        if self.broken:
            return Outcome(problem="no reader: `reader limit=...` raised ValueError")
        if k == "reader":
            try:
                self._ensure_reader(step.arg)
            except ValueError:
                self.broken = True
                return Outcome("ValueError")
            await quiesce()
            return Outcome()
        self._ensure_reader()
        r = self.reader
        out = Outcome()
        task = None
        if k == "feed":
            try:
                r.feed_data(step.arg)
            except AssertionError:
                out.actual = "AssertionError"
        elif k == "eof":
            r.feed_eof()
        elif k == "fail":
            r.set_exception(ScenarioError(step.arg))
        elif k in READ_KINDS:
            task = self._start_read(step)
        await quiesce()
        if task is not None:
            out.task = task
            out.actual = fmt_task(task)
            if out.actual == "pending" and adopt_pending:
                self.pending = task
        elif k == "at_eof":
            out.actual = fmt_bool(r.at_eof())
        elif k == "buffered":
            out.actual = str(len(r._buffer))
        elif k == "paused":
            out.actual, out.problem = self.paused_state()
        elif k == "exception":
            out.actual = fmt_exception_getter(r.exception())
        elif k == "await":
            if self.pending is None:
                out.problem = "no pending read to await"
            else:
                out.actual = fmt_task(self.pending)
                if self.pending.done():
                    self.pending = None
        return out

    async def close(self):
        for t in self.tasks:
            if not t.done():
                t.cancel()
        await quiesce()
        for t in self.tasks:
            if t.done() and not t.cancelled():
                t.exception()  # mark retrieved
        self.tasks = []
        self.pending = None


def _shown(v):
    return "success" if v is None else v


async def check_scenario(sc):
    """Run one scenario; return None when it passes, else a diagnostic line."""
    sess = Session()
    try:
        for st in sc.steps:
            adopt = st.expect is None or st.expect == "pending"
            out = await sess.step(st, adopt_pending=adopt)
            where = "%s:%d: %s" % (sc.path, st.line, st.text())
            if out.problem is not None:
                return "%s: %s" % (where, out.problem)
            k = st.kind
            if k in ("feed", "reader"):
                if out.actual != st.expect:
                    return "%s: expected %s, got %s" % (where, _shown(st.expect),
                                                        _shown(out.actual))
            elif st.expect is not None and out.actual != st.expect:
                return "%s: expected %s, got %s" % (where, st.expect, out.actual)
        return None
    finally:
        await sess.close()


async def emit_scenario(sc, lines, problems):
    """Run one scenario, rewriting its step lines in `lines` with the actual results."""
    sess = Session()
    try:
        for st in sc.steps:
            out = await sess.step(st)
            raw = lines[st.line - 1]
            cr = "\r" if raw.endswith("\r") else ""
            head = raw[:st.pre_end]
            tail = (" " + st.comment) if st.comment is not None else ""
            if out.problem is not None:
                problems.append("%s:%d: %s: %s" % (sc.path, st.line, st.text(), out.problem))
                continue
            if st.kind in ANNOTATED_KINDS or out.actual is not None:
                new = "%s => %s%s%s" % (head, out.actual, tail, cr)
            else:
                new = "%s%s%s" % (head, tail, cr)
            lines[st.line - 1] = new
    finally:
        await sess.close()


# ---------------------------------------------------------------------------------------
# Command line

def _load(paths):
    files = []
    errors = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError as e:
            errors.append("%s: %s" % (p, e.strerror))
            continue
        try:
            files.append((p, data, parse_text(data, p)))
        except Malformed as e:
            errors.append(str(e))
    return files, errors


async def _check_all(files):
    scenarios = [sc for _, _, scs in files for sc in scs]
    out = sys.stdout
    out.write("1..%d\n" % len(scenarios))
    failed = 0
    for k, sc in enumerate(scenarios, 1):
        diag = await check_scenario(sc)
        label = "%s:%s" % (sc.path, sc.name)
        if diag is None:
            out.write("ok %d - %s\n" % (k, label))
        else:
            failed += 1
            out.write("not ok %d - %s\n# %s\n" % (k, label, diag))
    if failed:
        out.write("# %d of %d scenarios failed\n" % (failed, len(scenarios)))
    out.flush()
    return 1 if failed else 0


async def _emit_all(files):
    problems = []
    for path, data, scs in files:
        lines = data.decode("latin-1").split("\n")
        for sc in scs:
            await emit_scenario(sc, lines, problems)
        sys.stdout.buffer.write("\n".join(lines).encode("latin-1"))
    sys.stdout.flush()
    for p in problems:
        sys.stderr.write("pyref: cannot annotate: %s\n" % p)
    return 1 if problems else 0


USAGE = "usage: pyref.py [--emit] FILE.scn...\n"


def main(argv):
    require_reference_python("pyref.py")
    emit = False
    paths = []
    for a in argv:
        if a == "--emit":
            emit = True
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE + __doc__)
            return 0
        elif a.startswith("-"):
            sys.stderr.write("pyref.py: unknown option %s\n%s" % (a, USAGE))
            return 2
        else:
            paths.append(a)
    if not paths:
        sys.stderr.write(USAGE)
        return 2
    files, errors = _load(paths)
    if errors:
        for e in errors:
            sys.stderr.write(e + "\n")
        return 2
    return asyncio.run(_emit_all(files) if emit else _check_all(files))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
