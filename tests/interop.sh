#!/bin/sh
# tests/interop.sh - weir against peers no one here wrote, over loopback.
#
#   CPython's asyncio (tests/interop/peer.py: the asyncio docs' echo server and client, a
#   small http.server), over TCP, Unix sockets and TLS (Python's ssl module), both ways;
#   the openssl CLI: s_client against the weir echo server, the weir echo client against
#   s_server -rev; certificates made at test time by tests/certs.sh.
#
# A test whose peer is missing from the machine is skipped with the reason ("ok N # SKIP
# ..."), not failed. Every process runs under timeout(1); the trap cleans up. TAP, with the
# plan at the end. WEIR_BUILD (default build) says where the binaries are.
. "$(dirname "$0")/interop/lib.sh"

# weir_server_vs_python WHAT SERVER_ARGS -- PY_CLIENT_ARGS: the weir echo server, asyncio's
# echo client against it; the server then gets SIGTERM and must exit 0. 4 tests.
weir_server_vs_python() {
    what=$1
    shift
    sargs=
    while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done
    shift
    # shellcheck disable=SC2086
    bg wserver "$b/echo_server" $sargs
    if ! port=$(port_of wserver); then
        fail "weir echo_server $what starts"
        skip_n 3 "the server did not start"
        return
    fi
    [ "$port" != unix ] && set -- "$@" --port "$port"
    msg="from asyncio, $what"
    $T "$PY" "$here/interop/peer.py" echo-client "$@" "$msg" > "$tmp/pyclient.out" 2> "$tmp/last.err"
    check "asyncio client -> weir echo_server $what: the echo came back"
    printf '%s\n' "Send: '$msg'" "Received: '$msg'" "Close the connection" > "$tmp/want"
    same "asyncio client $what: its output" "$tmp/pyclient.out" "$tmp/want"
    stop wserver TERM
    rc=$?
    [ "$rc" = 0 ] && pass "weir echo_server $what exits 0 on SIGTERM" \
        || { fail "weir echo_server $what exits 0 on SIGTERM (got $rc)"; sed 's/^/# /' "$tmp/wserver.err"; }
    has "weir echo_server $what saw the message" "$tmp/wserver.out" "^Received '$msg' from "
}

# weir_client_vs_python WHAT PY_SERVER_ARGS -- CLIENT_ARGS: asyncio's echo server, the weir
# echo client against it. 4 tests.
weir_client_vs_python() {
    what=$1
    shift
    sargs=
    while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done
    shift
    # shellcheck disable=SC2086
    bg pyserver "$PY" "$here/interop/peer.py" echo-server $sargs
    if ! port=$(port_of pyserver); then
        fail "asyncio echo server $what starts"
        skip_n 3 "the server did not start"
        return
    fi
    [ "$port" != unix ] && set -- "$@" --port "$port"
    msg="from weir, $what"
    $T "$b/echo_client" "$@" "$msg" > "$tmp/wclient.out" 2> "$tmp/last.err"
    check "weir echo_client -> asyncio echo server $what exits 0"
    printf '%s\n' "Send: '$msg'" "Received: '$msg'" "Close the connection" > "$tmp/want"
    same "weir echo_client $what: its output" "$tmp/wclient.out" "$tmp/want"
    stop pyserver TERM
    rc=$?
    [ "$rc" = 0 ] && pass "asyncio echo server $what exits 0" \
        || { fail "asyncio echo server $what exits 0 (got $rc)"; sed 's/^/# /' "$tmp/pyserver.err"; }
    has "asyncio echo server $what saw the message" "$tmp/pyserver.out" "^Received '$msg' from "
}

have_certs=no
make_certs && have_certs=yes

# --- CPython asyncio ------------------------------------------------------------------------

if [ -n "$PY" ]; then
    weir_server_vs_python "over TCP" --port 0 -- --host 127.0.0.1
    weir_client_vs_python "over TCP" --port 0 -- --host 127.0.0.1
    weir_server_vs_python "over a Unix socket" --unix "$tmp/w.sock" -- --unix "$tmp/w.sock"
    weir_client_vs_python "over a Unix socket" --unix "$tmp/p.sock" -- --unix "$tmp/p.sock"
    if "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
        weir_server_vs_python "over IPv6" --host ::1 --port 0 -- --host ::1
        weir_client_vs_python "over IPv6" --host ::1 --port 0 -- --host ::1
    else
        skip_n 8 "no IPv6 loopback on this machine"
    fi
else
    skip_n 24 "no python3 with asyncio and ssl"
fi

# --- TLS with CPython's ssl -----------------------------------------------------------------

if [ -n "$PY" ] && [ $have_certs = yes ]; then
    weir_server_vs_python "over TLS" --port 0 --tls --cert "$certs/server.pem" \
        --key "$certs/server.key" -- --host localhost --cafile "$certs/ca.pem"
    weir_client_vs_python "over TLS" --port 0 --cert "$certs/server.pem" \
        --key "$certs/server.key" -- --host localhost --tls --cafile "$certs/ca.pem"
    weir_client_vs_python "over TLS on a Unix socket" --unix "$tmp/t.sock" \
        --cert "$certs/server.pem" --key "$certs/server.key" -- --unix "$tmp/t.sock" --tls \
        --cafile "$certs/ca.pem" --servername localhost

    # HTTPS: the header reader against Python's http.server wrapped in ssl.
    bg pyhttps "$PY" "$here/interop/peer.py" http-server --cert "$certs/server-chain.pem" \
        --key "$certs/server.key"
    if port=$(port_of pyhttps); then
        $T "$b/http_head" --cafile "$certs/ca.pem" "https://localhost:$port/tls/path" \
            > "$tmp/head.out" 2> "$tmp/last.err"
        check "weir http_head -> Python https server exits 0"
        has "weir http_head over TLS: the status line" "$tmp/head.out" '^HTTP header> HTTP/1.0 200 OK$'
        has "weir http_head over TLS: the path" "$tmp/head.out" '^HTTP header> X-Path: /tls/path$'
    else
        fail "the Python https server starts"
        skip_n 2 "the server did not start"
    fi
    stop pyhttps TERM

    # The weir client refuses a server it cannot trust, with a clear message: a CA it was
    # not told to trust, and a certificate for another name.
    bg pywrong "$PY" "$here/interop/peer.py" echo-server --cert "$certs/wrong.pem" \
        --key "$certs/wrong.key"
    if port=$(port_of pywrong); then
        $T "$b/echo_client" --host localhost --port "$port" --tls --cafile "$certs/ca.pem" \
            > "$tmp/wclient.out" 2> "$tmp/wclient.err"
        rc=$?
        if [ "$rc" = 1 ] && grep -q 'hostname mismatch' "$tmp/wclient.err"; then
            pass "weir echo_client rejects a certificate for another name"
        else
            fail "weir echo_client rejects a certificate for another name (rc $rc)"
            sed 's/^/# /' "$tmp/wclient.err"
        fi
        $T "$b/echo_client" --host localhost --port "$port" --tls \
            --cafile "$certs/other-ca.pem" > "$tmp/wclient.out" 2> "$tmp/wclient.err"
        rc=$?
        if [ "$rc" = 1 ] && grep -q 'certificate verify failed' "$tmp/wclient.err"; then
            pass "weir echo_client rejects a certificate from a CA it does not trust"
        else
            fail "weir echo_client rejects a certificate from a CA it does not trust (rc $rc)"
            sed 's/^/# /' "$tmp/wclient.err"
        fi
    else
        fail "the Python TLS server with the wrong certificate starts"
        skip "the server did not start"
    fi
    stop pywrong TERM
else
    reason="no python3 with ssl"
    [ $have_certs = yes ] || reason="no openssl CLI to make certificates"
    skip_n 17 "$reason"
fi

# --- the openssl CLI ------------------------------------------------------------------------

if [ $have_certs = yes ]; then
    # s_client against the weir echo server: what s_client sends comes back.
    bg wserver "$b/echo_server" --port 0 --tls --cert "$certs/server.pem" --key "$certs/server.key"
    if port=$(port_of wserver); then
        printf 'hello from s_client\n' | $T "$OPENSSL" s_client -connect "127.0.0.1:$port" \
            -CAfile "$certs/ca.pem" -verify_hostname localhost -verify_return_error -quiet \
            -ign_eof > "$tmp/s_client.out" 2> "$tmp/last.err"
        check "openssl s_client -> weir echo_server: verified, and exits 0"
        echo 'hello from s_client' > "$tmp/want"
        same "openssl s_client got its line back" "$tmp/s_client.out" "$tmp/want"
        stop wserver INT
        rc=$?
        [ "$rc" = 0 ] && pass "weir echo_server (TLS) exits 0 on SIGINT" \
            || fail "weir echo_server (TLS) exits 0 on SIGINT (got $rc)"
    else
        fail "weir echo_server over TLS starts"
        skip_n 2 "the server did not start"
    fi

    # The weir echo client against s_server -rev, which sends each line back reversed.
    bg s_server "$OPENSSL" s_server -rev -accept 0 -naccept 1 -cert "$certs/server.pem" \
        -key "$certs/server.key"
    if port=$(s_server_port s_server); then
        $T "$b/echo_client" --host localhost --port "$port" --tls --cafile "$certs/ca.pem" \
            'stressed
' > "$tmp/wclient.out" 2> "$tmp/last.err"
        check "weir echo_client -> openssl s_server -rev exits 0"
        printf '%s\n' "Send: 'stressed\\n'" "Received: 'desserts\\n'" "Close the connection" \
            > "$tmp/want"
        same "weir echo_client got the line back reversed" "$tmp/wclient.out" "$tmp/want"
    else
        fail "openssl s_server -rev starts"
        skip "the server did not start"
    fi
    stop s_server TERM
else
    skip_n 5 "no openssl CLI"
fi

echo "1..$n"
