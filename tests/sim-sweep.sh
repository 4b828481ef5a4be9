#!/bin/sh
# Network scenarios over a seed sweep, and the determinism check: every run of a scenario
# with the same seed must give the same trace. WEIR_BUILD names the build folder.
w="${WEIR_BUILD:-build}/weir"
echo "1..2"
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
