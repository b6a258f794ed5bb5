"""What is done the same way to the lab's nodes and to the Vagrant VMs, written once for both
drivers (cluster/lab/lab.py, cluster/vagrant/driver.py): waiting for the cluster to form,
killing the API process, calling the service as its users do."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from cluster import http_client
from cluster.crm_config import API_PIDFILE, ServiceConfig
from resource_agents.metrics.crm_mon import ClusterState


class ClusterNode(Protocol):
    name: str

    @property
    def running(self) -> bool: ...

    def exec(self, argv: list[str]) -> subprocess.CompletedProcess: ...


N = TypeVar("N", bound=ClusterNode)


def wait(condition: Callable[[], object], timeout: float, what: str,
         interval: float = 0.2) -> object:
    """Until `condition` gives something true (returned); TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f} s")
        time.sleep(interval)
    return result


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


class ExternalClient:
    """A cluster's users: they call the service at its address (the floating IP) from a
    namespace on the cloud's external network, through the cloud's router."""

    client_netns: str
    address: str
    service: ServiceConfig
    token_file: Path

    def client(self, method: str, path: str, body: dict | None = None,
               timeout: float = 3.0, headers: dict[str, str] | None = None) -> dict | None:
        """Call the API at the service address from the client namespace; None if no answer
        (or an error status)."""
        answer = self.request(method, path, body, timeout, headers)
        return None if answer is None else answer.json()

    def request(self, method: str, path: str, body: dict | None = None,
                timeout: float = 3.0, headers: dict[str, str] | None = None, *,
                anonymous: bool = False) -> http_client.Answer | None:
        """One HTTP request to the service address from the client namespace, as it came back
        (status, headers, raw body: an image too); None if nothing came back. It carries the
        API's token unless `anonymous`."""
        return http_client.request(
            ["ip", "netns", "exec", self.client_netns], method,
            f"http://{self.address}:{self.service.api_port}{path}", body, timeout=timeout,
            headers=headers, token_file=None if anonymous else self.token_file)


class Driver(Protocol):
    """Lab and VagrantCluster alike."""

    def status(self) -> ClusterState | None: ...

    def node(self, name: str) -> ClusterNode: ...

    @property
    def nodes(self) -> Sequence[ClusterNode]: ...

    def settle(self, timeout: float = ...) -> None: ...

    def boot_node(self, node) -> None: ...


def clear_failures(cluster: Driver, timeout: float = 120.0) -> None:
    """`crm_resource --cleanup`, only once no action is in flight, then until it is acted on.

    A cleanup during a transition deletes the history of an action still running (e.g. the
    first run of a recurring monitor after a start); its result then has nowhere to go, the
    controller waits out the action's timer and records "did not return result in time" as
    a failure of a healthy resource (seen on the lab: 74 s, fail-count 1 on the API).

    A cleanup also re-probes every resource on every node (on the emulated VMs ~100 s): it is
    skipped when the cluster shows no failed action and no fail-count.
    """
    cluster.settle(timeout)
    if not needs_cleanup(cluster.status()):
        return
    running = next(n for n in cluster.nodes if n.running)
    running.exec(["crm_resource", "--cleanup"], check=False)
    cluster.settle(timeout)


def await_fenced(cluster: Driver, names: Sequence[str], timeout: float = 90.0) -> None:
    """Until the quorate partition has fenced `names` (offline, no longer UNCLEAN), or no
    partition has quorum (nobody fences then: two of three nodes lost). A node booted before
    its fencing ends is powered off by it (stonith-action=off): with the fence delay
    (fencing.crm) a heal that boots at once loses the node it booted."""
    deadline = time.monotonic() + timeout
    while True:
        state = cluster.status()
        if state is not None and (not state.quorate or all(
                (n := state.nodes.get(name)) is not None and not n.online and not n.unclean
                for name in names)):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{', '.join(names)} not fenced within {timeout:.0f} s")
        time.sleep(0.5)


def boot_the_fenced(cluster: Driver, timeout: float = 90.0) -> None:
    """As an operator after a fault: start every node that is off (fenced with
    stonith-action=off, or crashed), once its fencing is done."""
    if down := [node for node in cluster.nodes if not node.running]:
        await_fenced(cluster, [node.name for node in down], timeout)
    for node in down:
        cluster.boot_node(node)


def needs_cleanup(state: ClusterState | None) -> bool:
    """A failed action or a fail-count anywhere; True when the cluster cannot be read."""
    if state is None:
        return True
    return bool(state.failures) or any(h.fail_count > 0 for h in state.history)


def kill_api(cluster: Driver, node_name: str | None = None) -> str:
    """SIGKILL the API process on `node_name` (default: the node holding the service address,
    whose API instance serves the clients); returns that node's name. LookupError when the
    address runs nowhere."""
    if node_name is None:
        state = cluster.status()
        where = state.serving("fractal-ip") if state else []
        if not where:
            raise LookupError("the service address is not held anywhere")
        node_name = where[0]
    node = cluster.node(node_name)
    pid = node.exec(["cat", API_PIDFILE]).stdout.strip()
    node.exec(["kill", "-KILL", pid])
    return node_name
