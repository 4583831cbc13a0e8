"""A tiny TCP server for the lab's internet hosts: accept, say hello, close.

Run as `python -m kube6.lab.listener --port 80 --port 443` inside a namespace. It listens on
`::` dual-stack, so it answers on the IPv6 host and on the IPv4-only host alike.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

BANNER = b"kube6-lab\n"


async def _serve(ports: list[int]) -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        try:
            await writer.drain()
        finally:
            writer.close()

    servers = []
    for port in ports:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        servers.append(await asyncio.start_server(greet, sock=sock))
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> None:
    """Serve the given ports until killed."""
    parser = argparse.ArgumentParser(prog="kube6.lab.listener")
    parser.add_argument("--port", type=int, action="append", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
