# tests/interop/lib.sh - shared by tests/examples.sh and tests/interop.sh (POSIX sh, sourced).
#
# Sets: b (the examples' folder), here (tests/), T (timeout prefix for foreground commands),
# PY (a python3 with asyncio, or empty), OPENSSL (the openssl CLI, or empty), tmp (a fresh
# folder, removed on exit together with every background process started with bg).
# TAP: pass/fail/skip NAME number the tests; the caller prints "1..$n" at the end.

b="${WEIR_BUILD:-build}/examples"
here=$(cd "$(dirname "$0")" && pwd)
T="timeout -k 5 20" # -k: a process that ignores the TERM is killed 5 s later

# WEIR_PYTHON / WEIR_OPENSSL, when set, name the peer to use (empty: act as if absent, to
# try the skips).
if [ "${WEIR_PYTHON+set}" = set ]; then PY=$WEIR_PYTHON; else
    PY=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}
    [ -x "$PY" ] || PY=$(command -v python3 2>/dev/null)
fi
if [ -n "$PY" ] && ! "$PY" -c 'import asyncio, ssl' 2>/dev/null; then PY=; fi
if [ "${WEIR_OPENSSL+set}" = set ]; then OPENSSL=$WEIR_OPENSSL; else
    OPENSSL=$(command -v openssl 2>/dev/null)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weir-test.XXXXXX") || exit 1
bg_pids=
cleanup() {
    for p in $bg_pids; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# skip_n COUNT REASON
skip_n() {
    i=0
    while [ $i -lt "$1" ]; do skip "$2"; i=$((i + 1)); done
}
# check NAME: pass if the last command succeeded, else fail and show $tmp/last.err.
check() {
    if [ "$?" = 0 ]; then pass "$1"; else
        fail "$1"
        sed 's/^/# /' "$tmp/last.err" 2>/dev/null
    fi
}
# same NAME GOT_FILE WANT_FILE: the two files are equal; on failure a diff as comments.
same() {
    if cmp -s "$2" "$3"; then pass "$1"; else
        fail "$1"
        diff "$3" "$2" | sed 's/^/# /'
    fi
}
# has NAME FILE PATTERN: a line of FILE matches the grep pattern.
has() {
    if grep -q -- "$3" "$2"; then pass "$1"; else
        fail "$1"
        sed 's/^/# /' "$2"
    fi
}

# bg NAME CMD...: start CMD in the background (60 s at most, then TERM, then KILL), output in $tmp/NAME.out and
# $tmp/NAME.err, its pid in $tmp/NAME.pid.
bg() {
    name=$1
    shift
    # Emptied here, not by the redirection below: that happens in the background, and a
    # reader must never see what an earlier NAME wrote.
    : > "$tmp/$name.out"
    : > "$tmp/$name.err"
    # --foreground: a signal sent to timeout reaches CMD once. Without it timeout also sends
    # it to its process group and follows with SIGCONT, which can cancel the SIGSTOP that
    # LeakSanitizer's exit-time check sends: an ASan build then hangs on its way out.
    timeout --foreground -k 5 60 "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
    echo $! > "$tmp/$name.pid"
    bg_pids="$bg_pids $!"
}
# wait_line NAME PATTERN: wait (up to 10 s) until NAME's output has a line matching the
# grep pattern; print the first such line. 1 if it never comes.
wait_line() {
    i=0
    while [ $i -lt 100 ]; do
        line=$(grep -- "$2" "$tmp/$1.out" 2>/dev/null | head -n 1)
        [ -n "$line" ] && { echo "$line"; return 0; }
        kill -0 "$(cat "$tmp/$1.pid")" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "# $1 did not start:" >&2
    sed 's/^/#   /' "$tmp/$1.out" "$tmp/$1.err" >&2
    return 1
}
# port_of NAME: the port of NAME's "Serving on HOST:PORT" line, or "unix" for a path.
port_of() {
    line=$(wait_line "$1" '^Serving on ') || return 1
    case $line in
        "Serving on /"*) echo unix ;;
        *) echo "${line##*:}" ;;
    esac
}
# s_server_port NAME: the port of an openssl s_server's "ACCEPT [::]:PORT" line.
s_server_port() {
    line=$(wait_line "$1" '^ACCEPT ') || return 1
    echo "${line##*:}"
}
# stop NAME SIGNAL: signal NAME and wait for it; its exit status.
stop() {
    kill -"$2" "$(cat "$tmp/$1.pid")" 2>/dev/null
    { wait "$(cat "$tmp/$1.pid")"; } 2>/dev/null # no "Terminated" from the shell
}
# ports: port numbers after a colon replaced by PORT (peers' ports change every run).
ports() { sed 's/:[0-9][0-9]*/:PORT/g'; }

# make_certs: test certificates in $tmp/certs with tests/certs.sh; 0 when they are there.
certs="$tmp/certs"
make_certs() {
    [ -f "$certs/ca.pem" ] && return 0
    [ -n "$OPENSSL" ] && [ -f "$here/certs.sh" ] && sh "$here/certs.sh" "$certs" 2> "$tmp/certs.err"
}
