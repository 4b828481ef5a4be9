/* fuzz/tls_peer_cert.h - the tls_peer target's certificate and key: self-signed, EC P-256,
 * CN=localhost (SAN DNS:localhost), valid for 100 years from 2026-11-21. A test key, public on
 * purpose: it protects nothing. Made with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
 *       -out cert.pem -days 36500 -subj /CN=localhost -addext subjectAltName=DNS:localhost */
#ifndef WEIR_FUZZ_TLS_PEER_CERT_H
#define WEIR_FUZZ_TLS_PEER_CERT_H

static const char tls_peer_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBljCCATugAwIBAgIUQK62UyPJbXM8nNVTiHtP1VKa5E0wCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTA5MzAxMFoYDzIxMjYxMDI4\n"
    "MDkzMDEwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAAR83VQXFaGzLhcNiF3vNSJSL7WKidfUUZ0hiLu36OHj4B3r19TrBbI5\n"
    "OS6V/tPCt6QSOGRiDRzVN+n32TaJnrmEo2kwZzAdBgNVHQ4EFgQUZExS9qLHgdsw\n"
    "0PaVXt0fZgxV5tAwHwYDVR0jBBgwFoAUZExS9qLHgdsw0PaVXt0fZgxV5tAwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID\n"
    "SQAwRgIhAPs7mnIjwcEeI+bJ4eje60CgcbWTICRpI6LqzZpf0Lp8AiEA02Nxcmuc\n"
    "uzNn8kbGgkurY1eH9YTAvfnqIGJEDs4fIIw=\n"
    "-----END CERTIFICATE-----\n";

static const char tls_peer_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbgf/7O6Yhk7KDxdA\n"
    "yQCGSNQQpNDQN5EIdGXJJoX71GahRANCAAR83VQXFaGzLhcNiF3vNSJSL7WKidfU\n"
    "UZ0hiLu36OHj4B3r19TrBbI5OS6V/tPCt6QSOGRiDRzVN+n32TaJnrmE\n"
    "-----END PRIVATE KEY-----\n";

#endif
