#!/bin/sh
# fuzz/coverage.sh [TARGET...] - line coverage of core/ reached by the fuzz corpora.
#
# Builds the targets (default: all of fuzz/build.sh's) with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, no sanitizers) and the standalone replay
# main(), replays fuzz/corpus/<target>/ and, when it is there, $FUZZ_WORK/<target>/ (the
# inputs a `make fuzz-smoke` run found; default build/fuzz/work), merges the profiles with
# llvm-profdata and prints `llvm-cov report` for core/. Ends with two summary lines: the
# line coverage of core/reader.c by all the corpora, and by reader_ops and chunking alone.
#
#   CC            clang (the compiler; its llvm-profdata/llvm-cov must match it)
#   LLVM_PROFDATA llvm-profdata     LLVM_COV  llvm-cov
#   OUT           build/fuzz-coverage (binaries, profiles, coverage.profdata, reader.txt)
#   FUZZ_WORK     build/fuzz/work
#
# $OUT/reader.txt is `llvm-cov show` for core/reader.c: the lines no corpus reaches have a
# count of 0.
set -eu
cd "$(dirname "$0")/.."

CC=${CC:-clang}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
LLVM_COV=${LLVM_COV:-llvm-cov}
OUT=${OUT:-build/fuzz-coverage}
FUZZ_WORK=${FUZZ_WORK:-build/fuzz/work}
targets=${*:-"reader_ops chunking scenario_parse sim_schedule fuzz_http_head tls_peer"}

export CC OUT
CXX='' WORK="$OUT/obj" CFLAGS="-O0 -g -fprofile-instr-generate -fcoverage-mapping" \
    LIB_FUZZING_ENGINE=standalone fuzz/build.sh >/dev/null

rm -rf "$OUT/prof"
mkdir -p "$OUT/prof"
objects=
for t in $targets; do
    dirs=fuzz/corpus/$t
    [ -d "$FUZZ_WORK/$t" ] && dirs="$dirs $FUZZ_WORK/$t"
    echo "== $t: replaying $dirs"
    # shellcheck disable=SC2086 # $dirs is a list
    LLVM_PROFILE_FILE="$OUT/prof/$t-%p.profraw" "$OUT/$t" $dirs 2>&1 | tail -1
    "$LLVM_PROFDATA" merge -sparse "$OUT/prof/$t"-*.profraw -o "$OUT/prof/$t.profdata"
    if [ -z "$objects" ]; then objects="$OUT/$t"; else objects="$objects -object $OUT/$t"; fi
done

# shellcheck disable=SC2046 # the list of profiles
"$LLVM_PROFDATA" merge -sparse $(for t in $targets; do echo "$OUT/prof/$t.profdata"; done) \
    -o "$OUT/coverage.profdata"
core=$(ls core/*.c)
echo "== llvm-cov report, core/, all corpora ($targets)"
# shellcheck disable=SC2086
"$LLVM_COV" report -instr-profile="$OUT/coverage.profdata" $objects $core | tee "$OUT/report.txt"
# shellcheck disable=SC2086
"$LLVM_COV" show -instr-profile="$OUT/coverage.profdata" $objects core/reader.c > "$OUT/reader.txt"

# Line coverage column of a report row: Filename, Regions, Missed, Cover, Functions, Missed,
# Executed, Lines, Missed Lines, Cover: the 10th field.
# llvm-cov strips the files' common prefix ("reader.c"), or prints one file's full path.
line_cover() {
    awk -v f="$1" '$1 == f || "core/" $1 == f || $1 ~ ("/" f "$") {
        print $10 " (" $8 - $9 "/" $8 " lines)"
    }'
}

summary="core/reader.c line coverage: $(line_cover core/reader.c < "$OUT/report.txt") by all corpora"
core_only=
for t in reader_ops chunking; do
    case " $targets " in *" $t "*) core_only="$core_only $t" ;; esac
done
if [ -n "$core_only" ]; then
    # shellcheck disable=SC2086 # a list of target names
    set -- $core_only
    # shellcheck disable=SC2046 # the list of profiles
    "$LLVM_PROFDATA" merge -sparse $(for t in "$@"; do echo "$OUT/prof/$t.profdata"; done) \
        -o "$OUT/core-targets.profdata"
    objs="$OUT/$1"
    [ $# -gt 1 ] && objs="$objs -object $OUT/$2"
    # shellcheck disable=SC2086
    "$LLVM_COV" report -instr-profile="$OUT/core-targets.profdata" $objs core/reader.c \
        > "$OUT/report-core-targets.txt"
    summary="$summary; $(line_cover core/reader.c < "$OUT/report-core-targets.txt") by$core_only alone"
fi
echo "$summary"
