"""The nodes' way to the lab cloud: its endpoints at the very URLs the catalog and clouds.yaml
give (http://127.0.0.1:PORT), from inside every node's network namespace.

The cloud serves on the host's loopback. One relay process opens, for each node, listening
sockets on those ports *inside the node's namespace* (a socket belongs to the namespace it was
created in: we setns in, create, setns back) and relays each connection to the same port on the
host's loopback. Nothing is routed, no address is added, the host's firewall is untouched; a
crashed node loses its relay sockets' peers only, and the cloud stays one set of processes.

The Vagrant cluster uses it in libvirt's namespace, listening on every address there (the VMs
reach it at their management network's gateway); inside each VM, socat relays the VM's
loopback to that gateway (cluster/vagrant/build-box.sh: the VMs run the product's package,
not the lab).

Run: python -m cluster.lab.cloud_relay PORTS [NETNS...] [--listen ADDR] [--to ADDR]
     (PORTS comma-separated; no NETNS = this process's own namespace; as a daemon)
"""

from __future__ import annotations

import argparse
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


IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)


def listeners(ports: Sequence[int], address: str = HOST) -> list[socket.socket]:
    made = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The address may not exist yet (libvirt makes the VMs' network when they are
        # defined, and the relay must be there when they first boot): bind to it anyway.
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((address, port))
        sock.listen(128)
        sock.setblocking(False)
        made.append(sock)
    return made


def listeners_in(netns: str, ports: Sequence[int], address: str = HOST) -> list[socket.socket]:
    """Listening sockets on address:port inside `netns` (this thread returns to its own)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            return listeners(ports, address)
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


def _relay_to(upstream: str, port: int):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(upstream, port)
        except OSError:
            writer.close()  # the cloud endpoint is down: the client sees a reset, as it would
            return
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
    return handle


async def serve(ports: Sequence[int], namespaces: Sequence[str], listen: str = HOST,
                upstream: str = HOST) -> None:
    groups = ([listeners_in(netns, ports, listen) for netns in namespaces] if namespaces
              else [listeners(ports, listen)])
    servers = []
    for socks in groups:
        for port, sock in zip(ports, socks, strict=True):
            servers.append(await asyncio.start_server(_relay_to(upstream, port), sock=sock))
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cloud_relay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ports", help="comma-separated TCP ports")
    parser.add_argument("namespaces", nargs="*", help="network namespaces to listen in")
    parser.add_argument("--listen", default=HOST, help="address to listen on (%(default)s)")
    parser.add_argument("--to", default=HOST, help="address to relay to (%(default)s)")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    asyncio.run(serve(ports, args.namespaces, args.listen, args.to))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
