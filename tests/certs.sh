#!/bin/sh
# tests/certs.sh DIR - test certificates, made fresh with the openssl CLI (nothing is
# committed, so nothing expires in the repository):
#
#   ca.pem, ca.key              "weir test CA", the CA the tests trust
#   server.pem, server.key      CN=localhost; SAN localhost, server, 127.0.0.1, ::1
#                               (signed by ca)
#   server-chain.pem            server.pem then ca.pem
#   wrong.pem, wrong.key        CN=wrong.example; SAN wrong.example only (signed by ca)
#   other-ca.pem, other-ca.key  "weir other CA": a CA nobody's certificate here comes from
#   client.pem, client.key      CN=weir client (signed by ca), for client-certificate tests
#   client-chain.pem            client.pem then ca.pem
#   stranger.pem, stranger.key  CN=weir stranger: a client certificate signed by other-ca,
#                               which a server trusting ca refuses
#   cadir/                      ca.pem as a hashed CA directory (what c_rehash makes)
#
# Keys are EC P-256: fast to make and to use, and their signatures draw a fixed amount of
# randomness, which keeps simulated handshakes reproducible (docs/tls.md).
# Exit status: 0, or 1 with the openssl output on stderr.
set -eu
dir=${1:?usage: tests/certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

# A configuration of our own: the system's openssl.cnf may add extensions of its own.
cat > openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:server, IP:127.0.0.1, IP:::1
[wrong_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF

log=certs.log
: > "$log"
run() { "$@" >> "$log" 2>&1 || { cat "$log" >&2; exit 1; }; }

key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ca() { # name subject
    key "$1.key"
    run openssl req -config openssl.cnf -new -x509 -key "$1.key" -subj "/CN=$2" \
        -days 3650 -sha256 -extensions ca_ext -out "$1.pem"
}

leaf() { # name subject extensions [issuer, default ca]
    issuer=${4:-ca}
    key "$1.key"
    run openssl req -config openssl.cnf -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    run openssl x509 -req -in "$1.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
        -days 3650 -sha256 -extfile openssl.cnf -extensions "$3" -out "$1.pem"
}

ca ca "weir test CA"
ca other-ca "weir other CA"
leaf server localhost server_ext
leaf wrong wrong.example wrong_ext
leaf client "weir client" client_ext
leaf stranger "weir stranger" client_ext other-ca
cat server.pem ca.pem > server-chain.pem
cat client.pem ca.pem > client-chain.pem
mkdir -p cadir
ln -sf ../ca.pem "cadir/$(openssl x509 -hash -noout -in ca.pem).0"
