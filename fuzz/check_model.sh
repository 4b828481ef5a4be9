#!/bin/sh
# fuzz/check_model.sh - check the reference model of fuzz/reader_ops.c against CPython.
#
#   fuzz/check_model.sh [FILE|DIR]...      (default: fuzz/corpus/reader_ops)
#
# Replays each reader_ops input through a standalone build of the target with
# WEIR_FUZZ_TRACE=1, which prints the run as a scenario annotated with the MODEL's results,
# and runs that scenario on CPython 3.13.0's asyncio.StreamReader with
# tests/conformance/pyref.py. A scenario that passes means CPython agrees with the model
# on that input. Inputs that cancel a read are skipped (the scenario language cannot say
# "cancel"). An input on which weir differs from the model is reported as such, and its
# scenario (cut at the step that differs) is checked too. The standalone build is made
# once (REBUILD=1 to redo it). Needs PYTHON313 (default ~/.pyenv/versions/3.13.0/bin/python3).
set -eu
cd "$(dirname "$0")/.."
PYTHON313=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}
BIN=build/fuzz-standalone/reader_ops
if [ ! -x "$BIN" ] || [ -n "${REBUILD-}" ]; then
    CC=${CC:-clang} CFLAGS="-O1 -g" LIB_FUZZING_ENGINE=standalone OUT=build/fuzz-standalone \
        WORK=build/fuzz-standalone/obj fuzz/build.sh >/dev/null 2>&1 || true
    [ -x "$BIN" ] || { echo "check_model: could not build $BIN" >&2; exit 2; }
fi
[ $# -gt 0 ] || set -- fuzz/corpus/reader_ops
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=$(for a in "$@"; do if [ -d "$a" ]; then find "$a" -maxdepth 1 -type f | sort; else echo "$a"; fi; done)
pass=0 fail=0 skip=0
for f in $files; do
    if ! WEIR_FUZZ_TRACE=1 "$BIN" "$f" > "$tmp/x.scn" 2> "$tmp/err"; then
        echo "== weir differs from the model on $f:"
        grep -m1 'disagree' "$tmp/err" || tail -5 "$tmp/err"
        sed -n '/^==== the run as a scenario/,/^==== end/p' "$tmp/err" | sed '1d;$d' > "$tmp/x.scn"
    fi
    if grep -q '^# cancel' "$tmp/x.scn"; then skip=$((skip + 1)); continue; fi
    if "$PYTHON313" tests/conformance/pyref.py "$tmp/x.scn" > "$tmp/out" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "== CPython disagrees with the model on $f:"
        grep -v '^ok' "$tmp/out" | head -20
    fi
done
echo "check_model: $pass agree, $fail disagree, $skip skipped (cancel)"
[ "$fail" -eq 0 ]
