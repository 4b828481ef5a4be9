#!/bin/sh
# tests/examples.sh - the examples run and print what docs/examples.md says they print.
#
# Each example runs inside the simulator (--sim: the output is checked exactly, and two runs
# with one seed print the same, trace included) and on real sockets over loopback: the echo
# server on an ephemeral port with the echo client against it (TCP, Unix socket, TLS), the
# HTTP header reader against a small Python HTTP server and HTTPS against openssl s_server
# -www, the socketpair example as is. Tests whose peer is missing (python3, openssl) are
# skipped with the reason. Every process runs under timeout(1); the trap cleans up.
#
# TAP, with the plan at the end. WEIR_BUILD (default build) says where the binaries are.
. "$(dirname "$0")/interop/lib.sh"

# --- line_upper ----------------------------------------------------------------------------

out=$($T "$b/line_upper"); rc=$?
[ "$rc" = 0 ] && pass "line_upper exits 0" || fail "line_upper exits 0 (got $rc)"
want=$(printf 'HELLO\nWEIR')
[ "$out" = "$want" ] && pass "line_upper output" || { fail "line_upper output"; echo "# got: $out"; }

# --- in the simulator ----------------------------------------------------------------------

cat > "$tmp/echo_client.want" <<'EOF'
Send: 'Hello World!'
[sim server] echo 12 bytes to 10.0.0.1:49152
Received: 'Hello World!'
Close the connection
EOF
cat > "$tmp/echo_server.want" <<'EOF'
Serving on 10.0.0.2:8888
[sim alice] Send: 'Hello World!'
Received 'Hello World!' from 10.0.0.11:49152
Send: 'Hello World!'
Close the connection
[sim alice] Received: 'Hello World!'
[sim bob] Send: 'Bonjour le monde'
Received 'Bonjour le monde' from 10.0.0.12:49152
Send: 'Bonjour le monde'
Close the connection
[sim bob] Received: 'Bonjour le monde'
[sim carol] Send: "tab\tand 'quotes'"
Received "tab\tand 'quotes'" from 10.0.0.13:49152
Send: "tab\tand 'quotes'"
Close the connection
[sim carol] Received: "tab\tand 'quotes'"
[sim] every client is done: interrupting the server
Server closed
EOF
cat > "$tmp/http_head.want" <<'EOF'
[sim server] request: HEAD / HTTP/1.0 (42 bytes)
HTTP header> HTTP/1.0 200 OK
HTTP header> Content-Type: text/html; charset=UTF-8
HTTP header> Content-Length: 1256
HTTP header> Server: weir-sim
EOF
cat > "$tmp/wait_for_data.want" <<'EOF'
Received: abc
EOF

# sim_checks NAME [ARGS...]: the example NAME with --sim: exits 0, prints NAME.want (seed
# 1), and prints the same, trace and all, twice with seed 7.
sim_checks() {
    ex=$1
    shift
    $T "$b/$ex" --sim "$@" > "$tmp/$ex.sim" 2> "$tmp/last.err"
    check "$ex --sim exits 0"
    same "$ex --sim prints the exchange" "$tmp/$ex.sim" "$tmp/$ex.want"
    $T "$b/$ex" --sim --seed 7 --trace "$@" > "$tmp/$ex.r1" 2>&1
    $T "$b/$ex" --sim --seed 7 --trace "$@" > "$tmp/$ex.r2" 2>&1
    if [ -s "$tmp/$ex.r1" ] && cmp -s "$tmp/$ex.r1" "$tmp/$ex.r2"; then
        pass "$ex --sim --seed 7: two runs, the same output and trace"
    else
        fail "$ex --sim --seed 7: two runs, the same output and trace"
        diff "$tmp/$ex.r1" "$tmp/$ex.r2" | head -n 20 | sed 's/^/# /'
    fi
}
# seed_matters NAME: seeds 1 and 2 exchange the same bytes with different timing.
seed_matters() {
    h1=$($T "$b/$1" --sim --seed 1 2>&1 >/dev/null | sed -n 's/.*trace hash //p')
    h2=$($T "$b/$1" --sim --seed 2 2>&1 >/dev/null | sed -n 's/.*trace hash //p')
    if [ -n "$h1" ] && [ "$h1" != "$h2" ]; then pass "$1 --sim: the seed decides the run"
    else fail "$1 --sim: the seed decides the run (hashes '$h1' '$h2')"; fi
}

sim_checks echo_client
seed_matters echo_client
sim_checks echo_server
seed_matters echo_server
sim_checks http_head
seed_matters http_head
sim_checks wait_for_data

# --- on real sockets -----------------------------------------------------------------------

$T "$b/wait_for_data" > "$tmp/wfd.out" 2> "$tmp/last.err"
check "wait_for_data on a socketpair exits 0"
same "wait_for_data prints what came through the socketpair" "$tmp/wfd.out" "$tmp/wait_for_data.want"
$T "$b/wait_for_data" "over a real socketpair" > "$tmp/wfd.out" 2> "$tmp/last.err"
echo "Received: over a real socketpair" > "$tmp/wfd.want"
same "wait_for_data MESSAGE" "$tmp/wfd.out" "$tmp/wfd.want"

# echo_pair WHAT SERVER_ARGS -- CLIENT_ARGS: the echo server, the client against it twice, then
# SIGINT (TCP) or SIGTERM: the server exits 0 and said what it exchanged.
echo_pair() {
    what=$1
    shift
    sargs=
    while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done
    shift
    # shellcheck disable=SC2086
    bg server "$b/echo_server" $sargs
    if ! port=$(port_of server); then
        fail "echo_server $what starts"
        return
    fi
    pass "echo_server $what starts"
    [ "$port" != unix ] && set -- "$@" --port "$port"
    $T "$b/echo_client" "$@" > "$tmp/client.out" 2> "$tmp/last.err"
    check "echo_client $what exits 0"
    printf "%s\n" "Send: 'Hello World!'" "Received: 'Hello World!'" "Close the connection" \
        > "$tmp/client.want"
    same "echo_client $what prints the echo" "$tmp/client.out" "$tmp/client.want"
    $T "$b/echo_client" "$@" "second 'one'" > "$tmp/client.out" 2> "$tmp/last.err"
    printf "%s\n" "Send: \"second 'one'\"" "Received: \"second 'one'\"" "Close the connection" \
        > "$tmp/client.want"
    same "echo_client $what, a second connection" "$tmp/client.out" "$tmp/client.want"
    sig=INT
    case $what in *Unix*) sig=TERM ;; esac
    stop server $sig
    rc=$?
    [ "$rc" = 0 ] && pass "echo_server $what exits 0 on SIG$sig" \
        || { fail "echo_server $what exits 0 on SIG$sig (got $rc)"; sed 's/^/# /' "$tmp/server.err"; }
    ports < "$tmp/server.out" > "$tmp/server.got"
    {
        echo "Serving on $ADDR"
        echo "Received 'Hello World!' from $PEER"
        echo "Send: 'Hello World!'"
        echo "Close the connection"
        echo "Received \"second 'one'\" from $PEER"
        echo "Send: \"second 'one'\""
        echo "Close the connection"
        echo "Server closed"
    } > "$tmp/server.want"
    same "echo_server $what prints both exchanges" "$tmp/server.got" "$tmp/server.want"
}

ADDR=127.0.0.1:PORT PEER=127.0.0.1:PORT
echo_pair "over TCP" --port 0 -- --host 127.0.0.1

# An idle connection does not keep the server from stopping: it gets 2 s, then is cancelled.
if [ -n "$PY" ]; then
    bg server "$b/echo_server" --port 0
    if port=$(port_of server); then
        bg idle "$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
time.sleep(30)' "$port"
        wait_line idle '^connected' > /dev/null
        start=$(date +%s)
        stop server INT
        rc=$?
        took=$(($(date +%s) - start))
        [ "$rc" = 0 ] && [ "$took" -le 5 ] && pass "echo_server stops with an idle connection open (${took} s)" \
            || fail "echo_server stops with an idle connection open (rc $rc, ${took} s)"
        has "echo_server cancelled the idle connection" "$tmp/server.err" '^echo_server: cancelling 1 connection'
        stop idle TERM
    else
        fail "echo_server starts"
        skip "the server did not start"
    fi
else
    skip_n 2 "an idle client: no python3"
fi

sock="$tmp/echo.sock"
ADDR=$sock PEER='?'
echo_pair "over a Unix socket" --unix "$sock" -- --unix "$sock"
[ ! -e "$sock" ] && pass "echo_server removed its socket file" \
    || fail "echo_server removed its socket file"

have_certs=no
make_certs && have_certs=yes

if [ $have_certs = yes ]; then
    ADDR=127.0.0.1:PORT PEER=127.0.0.1:PORT
    echo_pair "over TLS" --port 0 --tls --cert "$certs/server.pem" --key "$certs/server.key" \
        -- --host localhost --tls --cafile "$certs/ca.pem"
else
    skip_n 6 "echo over TLS: no openssl CLI to make certificates"
fi

# The HTTP header reader against a Python HTTP server on an ephemeral port.
if [ -n "$PY" ]; then
    bg http "$PY" "$here/interop/peer.py" http-server
    if port=$(port_of http); then
        $T "$b/http_head" "http://127.0.0.1:$port/some/page.html?x=1" > "$tmp/head.out" \
            2> "$tmp/last.err"
        check "http_head against a Python HTTP server exits 0"
        head -n 1 "$tmp/head.out" > "$tmp/head.got"
        echo "HTTP header> HTTP/1.0 200 OK" > "$tmp/head.want"
        same "http_head: the status line" "$tmp/head.got" "$tmp/head.want"
        grep -q '^HTTP header> X-Path: /some/page.html?x=1$' "$tmp/head.out" \
            && pass "http_head: the request's path came through" \
            || { fail "http_head: the request's path came through"; sed 's/^/# /' "$tmp/head.out"; }
        grep -q '^HTTP header> Content-Length: 44$' "$tmp/head.out" \
            && pass "http_head: the headers, and nothing of the body" \
            || fail "http_head: the headers, and nothing of the body"
        [ "$(grep -c . "$tmp/head.out")" = 6 ] && pass "http_head: six lines (status + 5 headers)" \
            || { fail "http_head: six lines (status + 5 headers)"; sed 's/^/# /' "$tmp/head.out"; }
    else
        fail "the Python HTTP server starts"
        skip_n 4 "the server did not start"
    fi
    stop http TERM
else
    skip_n 5 "http_head over HTTP: no python3 with asyncio"
fi

# HTTPS: against openssl s_server -www (it answers GET only, so --method GET; the reader
# stops at the blank line, so the page is not printed) and in the simulator over TLS.
if [ $have_certs = yes ]; then
    bg s_server "$OPENSSL" s_server -www -accept 0 -naccept 1 \
        -cert "$certs/server.pem" -key "$certs/server.key"
    port=$(s_server_port s_server)
    $T "$b/http_head" --method GET --cafile "$certs/ca.pem" "https://localhost:$port/" \
        > "$tmp/head.out" 2> "$tmp/last.err"
    check "http_head --tls against openssl s_server -www exits 0"
    printf '%s\n' "HTTP header> HTTP/1.0 200 ok" "HTTP header> Content-type: text/html" \
        > "$tmp/head.want"
    same "http_head --tls: the head from s_server -www" "$tmp/head.out" "$tmp/head.want"
    stop s_server TERM

    # A certificate for another name: a clear error, no output, exit 1.
    bg s_server2 "$OPENSSL" s_server -www -accept 0 -naccept 1 \
        -cert "$certs/wrong.pem" -key "$certs/wrong.key"
    port=$(s_server_port s_server2)
    $T "$b/http_head" --method GET --cafile "$certs/ca.pem" "https://localhost:$port/" \
        > "$tmp/head.out" 2> "$tmp/head.err"
    rc=$?
    if [ "$rc" = 1 ] && grep -q "hostname mismatch" "$tmp/head.err" && [ ! -s "$tmp/head.out" ]; then
        pass "http_head --tls: a certificate for another name fails clearly"
    else
        fail "http_head --tls: a certificate for another name fails clearly (rc $rc)"
        sed 's/^/# /' "$tmp/head.err"
    fi
    stop s_server2 TERM

    sim_tls="--tls --cert $certs/server.pem --key $certs/server.key --cafile $certs/ca.pem --servername localhost"
    # shellcheck disable=SC2086
    $T "$b/http_head" --sim $sim_tls > "$tmp/head.sim" 2> "$tmp/last.err"
    check "http_head --sim --tls exits 0"
    same "http_head --sim --tls prints the same head" "$tmp/head.sim" "$tmp/http_head.want"
    # shellcheck disable=SC2086
    $T "$b/http_head" --sim --seed 7 --trace $sim_tls > "$tmp/head.r1" 2>&1
    # shellcheck disable=SC2086
    $T "$b/http_head" --sim --seed 7 --trace $sim_tls > "$tmp/head.r2" 2>&1
    if [ -s "$tmp/head.r1" ] && cmp -s "$tmp/head.r1" "$tmp/head.r2"; then
        pass "http_head --sim --tls --seed 7: two runs, the same trace (handshake included)"
    else
        fail "http_head --sim --tls --seed 7: two runs, the same trace (handshake included)"
    fi
else
    skip_n 6 "HTTPS: no openssl CLI"
fi

echo "1..$n"
