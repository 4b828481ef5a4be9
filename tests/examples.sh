#!/bin/sh
# The examples run and print what the docs say they print.
b="${WEIR_BUILD:-build}/examples"
echo "1..2"
out=$("$b/line_upper"); rc=$?
[ "$rc" = 0 ] && echo "ok 1 - line_upper exits 0" || echo "not ok 1 - line_upper exits 0 (got $rc)"
want=$(printf 'HELLO\nWEIR')
[ "$out" = "$want" ] && echo "ok 2 - line_upper output" || { echo "not ok 2 - line_upper output"; echo "# got: $out"; }
