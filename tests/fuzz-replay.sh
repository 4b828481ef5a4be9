#!/bin/sh
# Replay every fuzz corpus (fuzz/corpus/<target>/, crash inputs included) through the
# targets built with a replay main() (the Makefile's FUZZ_REPLAY): every input must run
# clean, under the sanitizers in the ASan build.
b="${WEIR_BUILD:-build}/fuzz-replay"
targets="reader_ops chunking scenario_parse sim_schedule fuzz_http_head tls_peer"
n=0
for t in $targets; do n=$((n + 1)); done
echo "1..$n"
i=0
for t in $targets; do
    i=$((i + 1))
    count=$(ls "fuzz/corpus/$t" 2>/dev/null | wc -l)
    if out=$("$b/$t" "fuzz/corpus/$t" 2>&1); then
        echo "ok $i - $t replays its corpus ($count inputs)"
    else
        echo "not ok $i - $t replays its corpus ($count inputs)"
        printf '%s\n' "$out" | tail -30 | sed 's/^/# /'
    fi
done
