"""One lab cluster node: private state in its own namespaces, real corosync and pacemakerd.

The node is `ip netns exec NS unshare --mount --uts --pid --fork --mount-proc node-init.sh`;
the forked script is PID 1 of the node's PID namespace, so SIGKILL to it is a hard crash of
the whole node. Commands run inside it through nsenter.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from resource_agents.metrics import crm_mon

INIT = Path(__file__).with_name("node-init.sh")


class NodeError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeSpec:
    name: str
    nodeid: int
    address: str  # ring0 address, without prefix length
    netns: str


class Node:
    def __init__(self, spec: NodeSpec, lab_dir: Path) -> None:
        self.spec = spec
        self.dir = lab_dir / "nodes" / spec.name
        self.launcher: subprocess.Popen | None = None  # when booted by this process

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        """Its port's fixed IP (as a VagrantNode's)."""
        return self.spec.address

    # -- state on disk -----------------------------------------------------------------
    def prepare(self, corosync_conf: str, authkey: bytes) -> None:
        """Fresh private directories with this node's corosync configuration."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        etc = self.dir / "etc-corosync"
        etc.mkdir(parents=True)
        (etc / "corosync.conf").write_text(corosync_conf)
        key = etc / "authkey"
        key.write_bytes(authkey)
        key.chmod(0o400)
        for sub in ("var-lib-pacemaker", "var-lib-corosync", "var-log-cluster",
                    "var-log-pacemaker", "var-lib-fractal", "var-log-fractal"):
            (self.dir / sub).mkdir()

    # -- life and death ----------------------------------------------------------------
    def boot(self, timeout: float = 20.0, ocf_providers: Path | None = None,
             openstack_etc: Path | None = None, etc_net: Path | None = None,
             fractal_etc: Path | None = None, etcd_defaults: Path | None = None) -> None:
        """Start the node. `ocf_providers` (a directory of OCF provider directories) is laid over
        the node's /usr/lib/ocf/resource.d, so agents need not be installed on the host;
        `openstack_etc` becomes the node's /etc/openstack (clouds.yaml), `fractal_etc` its
        /etc/fractal (the API's token); `etc_net` holds the node's /etc/hosts and
        /etc/resolv.conf; `etcd_defaults`, its /etc/default/etcd, starts an etcd member."""
        (self.dir / "ready").unlink(missing_ok=True)
        env = {**os.environ, "NODE_NAME": self.name, "NODE_DIR": str(self.dir),
               "OCF_PROVIDERS": str(ocf_providers or ""),
               "OPENSTACK_ETC": str(openstack_etc or ""), "ETC_NET": str(etc_net or ""),
               "FRACTAL_ETC": str(fractal_etc or ""), "ETCD_DEFAULTS": str(etcd_defaults or "")}
        with open(self.dir / "init.log", "ab") as log:
            self.launcher = subprocess.Popen(
                ["ip", "netns", "exec", self.spec.netns, "unshare", "--mount", "--uts", "--pid",
                 "--fork", "--mount-proc", "bash", str(INIT)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self.dir / "ready").exists():
            if self.launcher.poll() is not None:
                raise NodeError(f"{self.name} failed to boot: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.crash()
                raise NodeError(f"{self.name} did not boot in {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.05)
        # The node's PID 1 (as the host sees it) lives in a file: a later `fractal-ha lab`
        # command, or the compute service fencing the node, finds, enters and crashes it.
        (self.dir / "pid1").write_text(f"{self._find_pid1()}\n")

    def _find_pid1(self) -> int:
        # ip netns exec execs unshare in place; unshare --fork has one child: the node's PID 1.
        assert self.launcher is not None
        path = Path(f"/proc/{self.launcher.pid}/task/{self.launcher.pid}/children")
        children = path.read_text().split()
        if len(children) != 1:
            raise NodeError(f"{self.name}: expected one init process, found {children}")
        return int(children[0])

    @property
    def _pid1(self) -> int | None:
        return _read_pid(self.dir / "pid1")

    @property
    def pid1(self) -> int:
        pid = self._pid1
        if pid is None:
            raise NodeError(f"{self.name} is not running")
        return pid

    @property
    def running(self) -> bool:
        pid = self._pid1
        return pid is not None and _is_node_init(pid)

    def crash(self) -> None:
        """Hard crash: SIGKILL to the node's PID 1 takes every process of the node with it."""
        pid = self._pid1
        if pid is not None and _is_node_init(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _is_node_init(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        if self.launcher is not None:
            try:
                self.launcher.wait(10)  # reap it when it is our child
            except subprocess.TimeoutExpired:
                os.killpg(self.launcher.pid, signal.SIGKILL)
                self.launcher.wait(5)
            self.launcher = None
        (self.dir / "pid1").unlink(missing_ok=True)

    def shutdown(self, timeout: float = 60.0) -> None:
        """Clean stop: Pacemaker stops its resources and leaves, then corosync, then the node."""
        if not self.running:
            return
        self.exec(["pacemakerd", "--shutdown"], timeout=timeout, check=False)
        self.exec(["corosync-cfgtool", "-H", "--force"], timeout=15, check=False)
        self.crash()

    # -- inside the node ----------------------------------------------------------------
    def exec(self, argv: list[str], *, timeout: float = 60.0, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-n", "-m", "-u", "-p", "--", *argv],
            capture_output=True, text=True, timeout=timeout, input=input)
        if check and done.returncode != 0:
            raise NodeError(f"{self.name}: {' '.join(argv)} exited {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done

    def cluster_state(self) -> crm_mon.ClusterState | None:
        """The cluster as this node sees it; None while its Pacemaker does not answer (or the
        node is down: it may be fenced at any moment)."""
        try:
            done = self.exec(["crm_mon", "-1", "--output-as=xml"], check=False, timeout=30)
        except NodeError:
            return None
        if done.returncode != 0 or not done.stdout.strip():
            return None
        return crm_mon.parse(done.stdout)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.dir / "init.log").read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _is_node_init(pid: int) -> bool:
    """True while `pid` is a live node-init script (a recycled PID is someone else's)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z" and INIT.name.encode() in cmdline
