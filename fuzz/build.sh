#!/bin/sh
# fuzz/build.sh - build weir's fuzz targets, the OSS-Fuzz way.
#
# Honours the OSS-Fuzz build environment; every variable has a local default:
#   CC                  C compiler                       (clang)
#   CXX                 used to link, as OSS-Fuzz asks   ($CC)
#   CFLAGS              compile flags for everything     (ASan + UBSan + fuzzer-no-link, -O1 -g)
#   LIB_FUZZING_ENGINE  the engine to link               (-fsanitize=fuzzer)
#                       "standalone": link fuzz/standalone.c instead, a main() that replays
#                       files and directories given as arguments (no libFuzzer needed, so
#                       the corpora can be replayed by any compiler, e.g. gcc)
#   OUT                 where binaries, dictionaries and seed corpora go  (build/fuzz)
#   WORK                scratch space for objects        ($OUT/obj)
#
# Produces $OUT/<target> for each of $TARGETS (below), plus
# $OUT/<target>.dict and, when zip(1) is there, $OUT/<target>_seed_corpus.zip.
set -eu
cd "$(dirname "$0")/.."

CC=${CC:-clang}
CFLAGS=${CFLAGS:-"-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all"}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-build/fuzz}
WORK=${WORK:-$OUT/obj}
LD=${CXX:-$CC}

CPPFLAGS="-Iinclude -I. -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"
STD="-std=c11 -Wall -Wextra"
TARGETS="reader_ops chunking scenario_parse sim_schedule fuzz_http_head tls_peer"

mkdir -p "$OUT" "$WORK"
OUT_ABS=$(cd "$OUT" && pwd)

# standalone: our replay main() instead of libFuzzer (the link line has $CFLAGS, so any
# sanitizer runtimes still come along).
ENGINE=$LIB_FUZZING_ENGINE
ENGINE_OBJ=
if [ "$LIB_FUZZING_ENGINE" = standalone ]; then
    ENGINE=
    $CC $STD $CPPFLAGS $CFLAGS -c fuzz/standalone.c -o "$WORK/standalone.o"
    ENGINE_OBJ="$WORK/standalone.o"
fi

# The library, one archive per layer (the folders the Makefile builds into libweir), so
# that reader_ops and chunking need only core/ and still build while another layer is
# mid-edit: core first, its targets, then the rest and scenario_parse.
build_layer() { # folder -> $WORK/libweir_<folder>.a (nothing if the folder has no sources)
    objs=
    for src in "$1"/*.c "$1"/*.S; do
        [ -e "$src" ] || continue
        obj="$WORK/lib/$(echo "$src" | tr '/' '_').o"
        mkdir -p "$WORK/lib"
        $CC $STD $CPPFLAGS $CFLAGS -c "$src" -o "$obj"
        objs="$objs $obj"
    done
    rm -f "$WORK/libweir_$1.a"
    [ -z "$objs" ] || ar rcs "$WORK/libweir_$1.a" $objs
}

link_target() { # target, extra objects/archives...
    t=$1
    shift
    $CC $STD $CPPFLAGS $CFLAGS -c "fuzz/$t.c" -o "$WORK/$t.o"
    $LD $CFLAGS "$WORK/$t.o" "$@" $ENGINE_OBJ $ENGINE -o "$OUT/$t"
    [ -f "fuzz/$t.dict" ] && cp "fuzz/$t.dict" "$OUT/$t.dict"
    if [ -d "fuzz/corpus/$t" ] && command -v zip >/dev/null 2>&1; then
        rm -f "$OUT/${t}_seed_corpus.zip"
        (cd "fuzz/corpus/$t" && zip -q -r "$OUT_ABS/${t}_seed_corpus.zip" .)
    fi
    return 0
}

build_layer core
$CC $STD $CPPFLAGS $CFLAGS -c fuzz/model.c -o "$WORK/model.o"
link_target reader_ops "$WORK/model.o" "$WORK/libweir_core.a"
link_target chunking "$WORK/libweir_core.a"

# scenario_parse: the runner and whatever it builds on, outermost first.
LIBS=
for layer in runner net sim; do
    build_layer "$layer"
    [ -f "$WORK/libweir_$layer.a" ] && LIBS="$LIBS $WORK/libweir_$layer.a"
done
link_target scenario_parse $LIBS "$WORK/libweir_core.a" -lssl -lcrypto

# sim_schedule (two files) and fuzz_http_head (examples/fuzz_http_head.c, the harness
# example, which fuzz/fuzz_http_head.c includes): the whole library too.
$CC $STD $CPPFLAGS $CFLAGS -c fuzz/sim_schedule_http.c -o "$WORK/sim_schedule_http.o"
link_target sim_schedule "$WORK/sim_schedule_http.o" $LIBS "$WORK/libweir_core.a" -lssl -lcrypto
link_target fuzz_http_head $LIBS "$WORK/libweir_core.a" -lssl -lcrypto
# tls_peer: a hostile peer's bytes into the TLS layer (net/tls.c), the whole library too.
link_target tls_peer $LIBS "$WORK/libweir_core.a" -lssl -lcrypto
echo "fuzz targets in $OUT: $TARGETS"
