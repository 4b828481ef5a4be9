#!/bin/sh
# bench/echo/run.sh - loopback echo: weir beside CPython asyncio, uvloop, libuv and libevent.
#
#   bench/echo/run.sh [--seconds S] [--runs N] [--peers LIST] [--extra NAME=COMMAND]...
#
# For 1 and 100 connections and 64-byte and 16 KiB messages, each peer runs its own server
# and its own client (two processes on loopback, pinned nowhere), and the client counts
# round trips for S seconds (default 1). Every row is measured N times (default 2), the peers
# taking turns, and the best run is kept. Prints one markdown table: round trips/s, MB/s
# (message bytes echoed per second, one way), CPU time per round trip (client + server
# processes; less sensitive to a busy machine than wall time), and ratios to CPython asyncio
# and to libuv.
#
# Peers, each skipped with a note when absent (this script installs nothing: see
# `make bench-deps`):
#   weir      build/bench/echo (make build/bench/echo), or $WEIR_ECHO
#   asyncio   CPython 3.13's asyncio: $PYTHON313, else ~/.pyenv/versions/3.13.0/bin/python3,
#             else python3
#   uvloop    Debian's python3-uvloop, under /usr/bin/python3
#   libuv     bench/echo/libuv_echo.c, built here into $BUILD/bench/peers when
#             `pkg-config --exists libuv` (libuv1-dev)
#   libevent  bench/echo/libevent_echo.c, likewise with libevent-dev
# --peers picks some of them, comma-separated (e.g. weir,libuv). --extra adds a peer of your
# own to the same run, e.g. another build of weir to compare a change:
#   --extra weir_patched=/tmp/other-tree/build/bench/echo
#
# `make bench` runs this through build/bench/echo with no arguments; the table in
# docs/performance.md was made with --seconds 3 --runs 3.
# The per-peer variables (cmd_NAME, port_NAME, pid_NAME) are set and read through eval.
# shellcheck disable=SC2154
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$top/build}
seconds=1
runs=2
peers=weir,asyncio,uvloop,libuv,libevent
extras=""
usage() {
    echo "usage: $0 [--seconds S] [--runs N] [--peers weir,asyncio,uvloop,libuv,libevent]" \
        "[--extra NAME=COMMAND]..." >&2
    exit 2
}
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
    --seconds) seconds=$2 ;;
    --runs) runs=$2 ;;
    --peers) peers=$2 ;;
    --extra)
        case ${2%%=*} in
        "" | *[!A-Za-z0-9_]*) echo "--extra: NAME is letters, digits and _" >&2; exit 2 ;;
        esac
        extras="$extras
$2" ;;
    *) usage ;;
    esac
    shift 2
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weir-echo.XXXXXX")
servers=""
cleanup() {
    for pid in $servers; do kill "$pid" 2>/dev/null || true; done
    for pid in $servers; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { echo "$*" >&2; }
wanted() { case ",$peers," in *",$1,"*) return 0 ;; esac; return 1; }

# --- the peers ---------------------------------------------------------------------------

# Each peer is a command line taking "server ..." or "client ..." after it.
available=""
add_peer() { # name, command
    available="$available $1"
    eval "cmd_$1=\$2"
}

weir_bin=${WEIR_ECHO:-$BUILD/bench/echo}
if wanted weir; then
    if [ -x "$weir_bin" ]; then
        add_peer weir "$weir_bin"
    else
        note "weir: $weir_bin is missing (make build/bench/echo); skipped"
    fi
fi

py313=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}
[ -x "$py313" ] || py313=$(command -v python3 || true)
py_version=""
if wanted asyncio; then
    if [ -n "$py313" ]; then
        add_peer asyncio "$py313 $here/asyncio_echo.py"
        py_version=$("$py313" -c 'import platform; print(platform.python_version())')
    else
        note "asyncio: no python3; skipped"
    fi
fi

uvloop_version=""
if wanted uvloop; then
    if [ -x /usr/bin/python3 ] &&
        uvloop_version=$(/usr/bin/python3 -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null)
    then
        add_peer uvloop "/usr/bin/python3 $here/asyncio_echo.py --uvloop"
        uvloop_version="$uvloop_version on Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())')"
    else
        note "uvloop: /usr/bin/python3 cannot import uvloop (apt-get install python3-uvloop); skipped"
    fi
fi

# Build a C peer against a pkg-config package when its headers are there.
c_peer() { # name, package
    out=$BUILD/bench/peers/$1_echo
    src=$here/$1_echo.c
    if ! command -v pkg-config >/dev/null || ! pkg-config --exists "$2"; then
        note "$1: pkg-config finds no $2 (apt-get install $3); skipped"
        return 0
    fi
    if [ ! -x "$out" ] || [ -n "$(find "$src" -newer "$out")" ]; then
        mkdir -p "$BUILD/bench/peers"
        # shellcheck disable=SC2046 # pkg-config's flags are meant to split
        ${CC:-cc} -std=c11 -O2 -g -Wall -Wextra -D_DEFAULT_SOURCE -o "$out" "$src" \
            $(pkg-config --cflags --libs "$2")
    fi
    add_peer "$1" "$out"
}
libuv_version=""
libevent_version=""
if wanted libuv; then
    c_peer libuv libuv libuv1-dev
    libuv_version=$(pkg-config --modversion libuv 2>/dev/null || true)
fi
if wanted libevent; then
    c_peer libevent libevent libevent-dev
    libevent_version=$(pkg-config --modversion libevent 2>/dev/null || true)
fi
printf '%s\n' "$extras" >"$tmp/extras"
while IFS= read -r e; do
    if [ -n "$e" ]; then add_peer "${e%%=*}" "${e#*=}"; fi
done <"$tmp/extras"
[ -n "$available" ] || { note "no peer to run"; exit 1; }

# --- servers -------------------------------------------------------------------------------

# Start each peer's server on an ephemeral port; it prints "port N" once listening.
for p in $available; do
    eval "cmd=\$cmd_$p"
    # shellcheck disable=SC2086 # the command is words
    $cmd server --host 127.0.0.1 --port 0 >"$tmp/$p.port" 2>"$tmp/$p.err" &
    pid=$!
    servers="$servers $pid"
    eval "pid_$p=$pid"
    i=0
    until grep -q '^port ' "$tmp/$p.port" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
            note "$p: the server did not start:"
            cat "$tmp/$p.err" >&2
            exit 1
        fi
        sleep 0.05
    done
    eval "port_$p=$(awk '/^port /{print $2; exit}' "$tmp/$p.port")"
done

# CPU seconds a process has used (utime + stime from /proc; clock ticks of 1/100 s).
proc_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# --- measuring -----------------------------------------------------------------------------

rows="1:64 1:16384 100:64 100:16384"
limit=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 4 + 30 }')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
run=1
while [ $run -le "$runs" ]; do
    for row in $rows; do
        conns=${row%:*}
        size=${row#*:}
        for p in $available; do
            eval "cmd=\$cmd_$p port=\$port_$p spid=\$pid_$p"
            s0=$(proc_cpu "$spid")
            # shellcheck disable=SC2086
            if ! out=$(timeout "$limit" $cmd client --host 127.0.0.1 --port "$port" \
                --conns "$conns" --size "$size" --seconds "$seconds" 2>"$tmp/client.err"); then
                note "$p: client failed ($conns x $size):"
                cat "$tmp/client.err" >&2
                exit 1
            fi
            s1=$(proc_cpu "$spid")
            echo "$p $conns $size $out server_cpu $(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" \
                >>"$tmp/results"
        done
    done
    run=$((run + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table -----------------------------------------------------------------------------

cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
echo "Loopback echo: each client connection sends a message and waits for the whole echo"
echo "before sending the next; ${seconds} s per measurement, best of ${runs}."
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr); load average $load0 before, $load1 after."
echo "Peers: weir (poll backend)${py_version:+; CPython $py_version asyncio}${uvloop_version:+; uvloop $uvloop_version}${libuv_version:+; libuv $libuv_version}${libevent_version:+; libevent $libevent_version}."
echo "MB/s counts message bytes echoed per second (one way). CPU us/rt is the CPU time of the"
echo "client and server processes per round trip (the lowest seen): on a busy machine it moves"
echo "less than wall time does. The ratios compare this peer with CPython asyncio and with libuv:"
echo "round trips/s (higher is faster) and CPU per round trip (theirs / ours: above 1 = ours"
echo "uses less)."
echo
# Input lines: peer conns size rt R bytes B seconds S cpu C server_cpu SC
awk -v order="$available" '
{
    key = $1 SUBSEP $2 SUBSEP $3
    rate = $5 / $9
    cpu = ($11 + $13) / ($5 > 0 ? $5 : 1) * 1e6
    if (!(key in best) || rate > best[key]) best[key] = rate
    if (!(key in lowcpu) || cpu < lowcpu[key]) lowcpu[key] = cpu
}
function ratio(k, other, fmt) {
    if (!(other in best)) return "-"
    return sprintf(fmt, best[k] / best[other])
}
function cratio(k, other, fmt) {
    if (!(other in lowcpu) || lowcpu[k] <= 0) return "-"
    return sprintf(fmt, lowcpu[other] / lowcpu[k])
}
END {
    n = split(order, peer, " ")
    split("1:64 1:16384 100:64 100:16384", rows, " ")
    print "| conns | message | peer | round trips/s | MB/s | CPU us/rt | rt/s vs asyncio | " \
        "rt/s vs libuv | CPU vs asyncio | CPU vs libuv |"
    print "|------:|--------:|------|--------------:|-----:|----------:|----------------:|" \
        "--------------:|---------------:|-------------:|"
    for (r = 1; r <= 4; r++) {
        split(rows[r], cs, ":")
        conns = cs[1]; size = cs[2]
        label = size == 16384 ? "16 KiB" : size " B"
        ka = "asyncio" SUBSEP conns SUBSEP size
        ku = "libuv" SUBSEP conns SUBSEP size
        for (i = 1; i <= n; i++) {
            k = peer[i] SUBSEP conns SUBSEP size
            if (!(k in best)) continue
            printf "| %d | %s | %s | %.0f | %.1f | %.1f | %s | %s | %s | %s |\n", conns, label,
                peer[i], best[k], best[k] * size / 1e6, lowcpu[k], ratio(k, ka, "%.1fx"),
                ratio(k, ku, "%.2fx"), cratio(k, ka, "%.1fx"), cratio(k, ku, "%.2fx")
        }
    }
}' "$tmp/results"
