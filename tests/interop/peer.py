"""tests/interop/peer.py - peers written with CPython's asyncio (and ssl), for the interop
tests and the examples' tests: the asyncio documentation's echo server and echo client, and
a small HTTP server.

    peer.py echo-server [--host H] [--port P | --unix PATH] [--cert F --key F]
        asyncio.start_server with the docs' handle_echo; prints "Serving on HOST:PORT" (or
        the path) first, then what it exchanged; serves until SIGTERM/SIGINT, then exits 0.
    peer.py echo-client [--host H] [--port P | --unix PATH] [--cafile F] [--servername N]
                        [MESSAGE]
        the docs' tcp_echo_client; prints "Send: ..." and "Received: ..."; exit 0 when the
        echo came back equal, 1 otherwise.
    peer.py http-server [--host H] [--port P] [--cert F --key F]
        http.server answering GET and HEAD for any path with a fixed page; prints
        "Serving on HOST:PORT" first.

Port 0 (the default) asks for an ephemeral port: the "Serving on" line says which. Every
line is flushed as it is printed, so a test can read it from a pipe or a file at once.
"""

import argparse
import asyncio
import http.server
import signal
import socketserver
import ssl
import sys


def out(*args):
    print(*args, flush=True)


# --- the asyncio documentation's echo server ---------------------------------------------


async def handle_echo(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info("peername")
    out(f"Received {message!r} from {addr!r}")
    out(f"Send: {message!r}")
    writer.write(data)
    await writer.drain()
    out("Close the connection")
    writer.close()
    await writer.wait_closed()


async def echo_server(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    # Installed before "Serving on" is printed: a test may signal us as soon as it reads it.
    # Not loop.add_signal_handler: those go when the loop closes, and a late signal must
    # not kill us on the way out.
    def on_signal(*_):
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    if args.unix:
        server = await asyncio.start_unix_server(handle_echo, args.unix, ssl=ctx)
        out(f"Serving on {args.unix}")
    else:
        server = await asyncio.start_server(handle_echo, args.host, args.port, ssl=ctx)
        name = server.sockets[0].getsockname()
        out(f"Serving on {name[0]}:{name[1]}")
    async with server:
        await stop.wait()
    out("Server closed")
    return 0


# --- the asyncio documentation's echo client ---------------------------------------------


async def echo_client(args):
    ctx = None
    if args.cafile:
        ctx = ssl.create_default_context(cafile=args.cafile)
    kw = {"ssl": ctx}
    if ctx and args.servername:
        kw["server_hostname"] = args.servername
    if args.unix:
        reader, writer = await asyncio.open_unix_connection(args.unix, **kw)
    else:
        reader, writer = await asyncio.open_connection(args.host, args.port, **kw)
    message = args.message
    out(f"Send: {message!r}")
    writer.write(message.encode())
    await writer.drain()
    data = await reader.read(100)
    out(f"Received: {data.decode()!r}")
    out("Close the connection")
    writer.close()
    await writer.wait_closed()
    return 0 if data.decode() == message else 1


# --- a small HTTP server -------------------------------------------------------------------

PAGE = b"<!doctype html>\n<title>weir interop</title>\n"


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "interop/1.0"

    def head(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.send_header("X-Path", self.path)
        self.end_headers()

    def do_HEAD(self):
        self.head()

    def do_GET(self):
        self.head()
        self.wfile.write(PAGE)

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def http_server(args):
    srv = Server((args.host, args.port), Handler)
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out(f"Serving on {args.host}:{srv.server_address[1]}")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["echo-server", "echo-client", "http-server"])
    p.add_argument("message", nargs="?", default="Hello World!")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--cafile")
    p.add_argument("--servername")
    args = p.parse_intermixed_args()
    if args.role == "http-server":
        return http_server(args)
    if args.role == "echo-server":
        return asyncio.run(echo_server(args))
    return asyncio.run(echo_client(args))


if __name__ == "__main__":
    sys.exit(main())
