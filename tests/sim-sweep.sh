#!/bin/sh
# Network scenarios over a seed sweep, and the determinism check: every run of a scenario
# with the same seed must give the same trace. WEIR_BUILD names the build folder.
w="${WEIR_BUILD:-build}/weir"
echo "1..4"
if out=$("$w" run --seeds 1..20 --jobs 2 scenarios/net/*.scn 2>&1); then
    echo "ok 1 - network scenarios pass on seeds 1..20"
else
    echo "not ok 1 - network scenarios pass on seeds 1..20"
    printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/# /' | head -60
fi
if out=$("$w" run --check-determinism --seeds 1..3 scenarios/net/*.scn 2>&1); then
    echo "ok 2 - network scenarios are deterministic on seeds 1..3 (each run twice, traces compared)"
else
    echo "not ok 2 - network scenarios are deterministic on seeds 1..3"
    printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/# /' | head -60
fi

# A sweep over seed-dependent scenarios lists the failing seeds with reproduce commands, and
# a failing seed's output is the same on every rerun.
demo=tests/sweep-demo/probability.scn
out=$("$w" run --seeds 1..30 --jobs 2 "$demo" 2>&1); rc=$?
if [ "$rc" = 1 ] && printf '%s\n' "$out" | grep -q -- "run --seed 22 $demo --only p_refuses_on_ci_seeds"; then
    echo "ok 3 - a sweep lists failing seeds with the command that reproduces each"
else
    echo "not ok 3 - a sweep lists failing seeds with the command that reproduces each (exit $rc)"
    printf '%s\n' "$out" | sed 's/^/# /' | tail -20
fi
a=$("$w" run --seed 22 "$demo" --only p_refuses_on_ci_seeds 2>&1); ra=$?
b=$("$w" run --seed 22 "$demo" --only p_refuses_on_ci_seeds 2>&1); rb=$?
if [ "$ra" = 1 ] && [ "$rb" = 1 ] && [ "$a" = "$b" ]; then
    echo "ok 4 - a failing seed fails the same way, byte for byte, when rerun"
else
    echo "not ok 4 - a failing seed fails the same way when rerun (exits $ra, $rb)"
fi
