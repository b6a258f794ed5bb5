"""A private network namespace for one test thread: host-wide sysctls stay untouched.

Linux keeps the network namespace per thread, and a child process starts in its forking
thread's: the test thread (and any helper thread that joins) sees only the namespace's own
loopback, and so do the agents and servers it starts.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args: int) -> None:
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def join(ns_fd: int) -> None:
    """Move the calling thread into the namespace `ns_fd` (from `private_network`)."""
    _call("setns", ns_fd, CLONE_NEWNET)


@contextmanager
def private_network(sysctls: dict[str, str]) -> Iterator[int]:
    """The calling thread in a new network namespace, loopback up and `sysctls` (names under
    /proc/sys/net) set; yields the namespace's fd for helper threads, back home on exit."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _call("unshare", CLONE_NEWNET)
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            for name, value in sysctls.items():
                Path("/proc/sys/net", name).write_text(value)
            ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                yield ns
            finally:
                os.close(ns)
        finally:
            join(home)
    finally:
        os.close(home)
