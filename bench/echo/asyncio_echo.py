"""bench/echo/asyncio_echo.py - the echo benchmark's protocol on asyncio streams.

The same two roles as build/bench/echo (see bench/echo.c for the protocol):

    python3 asyncio_echo.py server [--host H] [--port P] [--uvloop]
        Serve until killed; prints "port N" once listening.
    python3 asyncio_echo.py client --port P [--host H] [--conns N] [--size B]
                                   [--seconds S] [--uvloop]
        Prints "rt R bytes B seconds S cpu C".

--uvloop runs the same code on uvloop's event loop (Debian's python3-uvloop is built for
/usr/bin/python3). The server reads whatever is there (reader.read(65536)), writes it back
and drains, like weir's; the client checks its first echo byte for byte and then counts
lengths only.
"""

import argparse
import asyncio
import sys
import time

READ_MAX = 65536


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(READ_MAX)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(args):
    server = await asyncio.start_server(handle, args.host, args.port, backlog=1024,
                                        reuse_address=True)
    print("port %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


async def round_trips(reader, writer, msg, end, result):
    size = len(msg)
    rts = 0
    loop = asyncio.get_running_loop()
    while loop.time() < end:
        writer.write(msg)
        await writer.drain()
        got = 0
        parts = [] if rts == 0 else None
        while got < size:
            data = await reader.read(READ_MAX)
            if not data or got + len(data) > size:
                raise RuntimeError("echo: EOF or too many bytes")
            if parts is not None:
                parts.append(data)
            got += len(data)
        if parts is not None and b"".join(parts) != msg:
            raise RuntimeError("echo: the first echo differs")
        rts += 1
    result.append((rts, loop.time()))


async def client(args):
    msg = bytes((ord("a") + i % 26) for i in range(args.size))
    conns = []
    for _ in range(args.conns):
        conns.append(await asyncio.open_connection(args.host, args.port))
    loop = asyncio.get_running_loop()
    start = loop.time()
    cpu = time.process_time()
    end = start + args.seconds
    result = []
    await asyncio.gather(*(round_trips(r, w, msg, end, result) for r, w in conns))
    rts = sum(n for n, _ in result)
    stop = max(t for _, t in result)
    cpu = time.process_time() - cpu
    for _, w in conns:
        w.close()
    for _, w in conns:
        await w.wait_closed()
    print("rt %d bytes %d seconds %.6f cpu %.6f" % (rts, rts * args.size, stop - start, cpu),
          flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--uvloop", action="store_true")
    args = p.parse_args()
    coro = serve(args) if args.role == "server" else client(args)
    if args.uvloop:
        import uvloop

        # uvloop 0.17 (Debian 12) has no uvloop.run; the policy works on every version.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
