"""Waiting for a cluster to form, the same way for the lab's nodes and for Vagrant VMs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from cluster.crm_mon import ClusterState


class ClusterNode(Protocol):
    name: str

    @property
    def running(self) -> bool: ...


N = TypeVar("N", bound=ClusterNode)


def wait_formed(nodes: Sequence[N], view: Callable[[N], ClusterState | None], *,
                timeout: float, interval: float) -> ClusterState:
    """Until every running node is online in a quorate cluster with a DC, seen from each."""
    deadline = time.monotonic() + timeout
    while True:
        running = [n for n in nodes if n.running]
        names = sorted(n.name for n in running)
        states = [view(n) for n in running]
        if states and all(s is not None and s.quorate and s.dc and s.online() == names
                          for s in states):
            return states[0]  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster did not form in {timeout:.0f} s: {states}")
        time.sleep(interval)
