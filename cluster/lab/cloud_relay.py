"""The nodes' way to the lab cloud: its endpoints at the very URLs the catalog and clouds.yaml
give (http://127.0.0.1:PORT), from inside every node's network namespace.

The cloud serves on the host's loopback. One relay process opens, for each node, listening
sockets on those ports *inside the node's namespace* (a socket belongs to the namespace it was
created in: we setns in, create, setns back) and relays each connection to the same port on the
host's loopback. Nothing is routed, no address is added, the host's firewall is untouched; a
crashed node loses its relay sockets' peers only, and the cloud stays one set of processes.

Run: python -m cluster.lab.cloud_relay PORTS NETNS...   (PORTS comma-separated; as a daemon)
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import sys
from collections.abc import Sequence

CLONE_NEWNET = 0x40000000
HOST = "127.0.0.1"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def listeners_in(netns: str, ports: Sequence[int]) -> list[socket.socket]:
    """Listening sockets on HOST:port inside `netns` (this thread returns to its own)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            made = []
            for port in ports:
                sock = socket.create_server((HOST, port), reuse_port=False)
                sock.setblocking(False)
                made.append(sock)
            return made
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _relay_to(port: int):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, port)
        except OSError:
            writer.close()  # the cloud endpoint is down: the client sees a reset, as it would
            return
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
    return handle


async def serve(ports: Sequence[int], namespaces: Sequence[str]) -> None:
    servers = []
    for netns in namespaces:
        for port, sock in zip(ports, listeners_in(netns, ports), strict=True):
            servers.append(await asyncio.start_server(_relay_to(port), sock=sock))
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    ports = [int(p) for p in argv[0].split(",")]
    asyncio.run(serve(ports, argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
