"""Free loopback ports that no outgoing connection can take from us.

A port found by binding to port 0 lies in the kernel's ephemeral range, the same range it
hands out as the source port of every outgoing connection. The lab records its ports and binds
them later (and again at every restart); meanwhile its own clients make thousands of loopback
connections, and one of them holding the recorded port as its source made Keystone fail with
"Address already in use". Ports below the ephemeral range are only ever taken by an explicit
bind, which the check here sees.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 20000  # above the registered ports most daemons listen on
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(host: str = "127.0.0.1", taken: set[int] | frozenset[int] = frozenset()) -> int:
    """A port on `host` that nothing is bound to now and the kernel never picks on its own;
    `taken` are ports already promised (chosen but not yet bound)."""
    high = _ephemeral_low() - 1
    if high <= LOWEST:
        raise RuntimeError(f"the ephemeral port range ({EPHEMERAL_RANGE}) starts at {high + 1}: "
                           f"no room below it for the lab's ports")
    for port in random.sample(range(LOWEST, high + 1), k=min(200, high + 1 - LOWEST)):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host} between {LOWEST} and {high}")
