"""VagrantCluster: three vagrant-libvirt VMs running the Fractal service under Pacemaker, driven
through the same small interface as the lab (cluster/lab/lab.py), so failover tests run on both.

Software-emulated path (this CI's machines): libvirtd runs in its own network namespace
(cluster/vagrant/host.py) and so do Vagrant, ssh and the client's curl, which reach the VMs'
management and private networks there. Commands inside a node go over ssh (one multiplexed
connection per node: a fresh ssh login costs ~1 s in a TCG guest), through Pacemaker's C tools
rather than crmsh (a `crm` call takes ~14 s there).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lxml import etree

from cluster import api_token, http_client, operations
from cluster.corosync_conf import Member, render
from cluster.crm_config import ServiceConfig, with_load_threshold
from cluster.openstack import cloud, clouds
from cluster.openstack.compute import registry
from cluster.openstack.compute.power import PowerStates
from cluster.openstack.daemons import PROJECT_BIN, Daemon
from cluster.openstack.layout import MEMBER_CLOUD, Layout
from cluster.openstack.topology import Topology
from cluster.vagrant import box, host
from resource_agents.metrics import crm_mon

HERE = Path(__file__).resolve().parent
SHARED_DATA = "/srv/fractal"  # inside every VM: the 9p-shared directory (the lab's too)
Progress = Callable[[str], None]


class VagrantError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the Vagrantfile reads (stage/settings.json). Networks are RFC 5737 (TEST-NET-3):
    the lab's (192.0.2.0/24, and a two-region cloud's RegionTwo external 203.0.113.0/25) live
    in namespaces of their own, so they never meet these."""
    shared_dir: str
    prefix: str = "fhv-"
    driver: str = "kvm"  # "qemu" = software emulation (TCG)
    cpus: int = 1
    memory_mib: int = 1024
    size: int = 3
    management_cidr: str = "203.0.113.0/26"
    private_cidr: str = "203.0.113.128/26"
    # Corosync token: 1 s in the lab; a TCG guest sharing 2 cores with two others stalls for
    # seconds under load, and a short token then evicts healthy nodes. 10 s held under load;
    # it puts node-loss detection at ~22 s (token + consensus).
    token_ms: int = 10000
    box: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def management_network(self) -> str:
        return f"{self.prefix}mgmt"

    @property
    def private_network(self) -> str:
        return f"{self.prefix}private"

    def node_names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.size + 1)]

    def address(self, index: int) -> str:
        """Node n<index>'s private (ring0) address: .131, .132, … of 203.0.113.128/26."""
        return str(ipaddress.ip_network(self.private_cidr)[2 + index])

    @property
    def service_address(self) -> str:
        return str(ipaddress.ip_network(self.private_cidr)[12])

    @property
    def management_gateway(self) -> str:
        """The host's side of the management network (libvirt's bridge): where the VMs reach
        the host's cloud."""
        return str(ipaddress.ip_network(self.management_cidr)[1])

    def to_json(self) -> str:
        net = ipaddress.ip_network(self.private_cidr)
        data = {**asdict(self), "management_network": self.management_network,
                "private_network": self.private_network, "private_netmask": str(net.netmask),
                "private_prefixlen": net.prefixlen,
                "service_address": self.service_address,
                "nodes": [{"name": n, "address": self.address(i)}
                          for i, n in enumerate(self.node_names(), 1)]}
        return json.dumps(data, indent=1)


def stage(directory: Path, settings: Settings, access: CloudAccess | None = None
          ) -> ServiceConfig:
    """Write everything the Vagrantfile and the provisioner need: settings.json and files/
    (corosync.conf from the lab's template, authkey, the crmsh configuration; with `access` to
    a cloud on the host: clouds.yaml, the VMs' relay to it, fencing). The product is the box's
    (its fractal-ha package, built from this tree: box.key)."""
    files = directory / "files"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir(parents=True)
    members = [Member(n, i, settings.address(i)) for i, n in enumerate(settings.node_names(), 1)]
    (files / "corosync.conf").write_text(render(members, token_ms=settings.token_ms))
    (files / "authkey").write_bytes(os.urandom(256))
    # The API's token (auth=token): one per cluster directory, kept across stagings, installed
    # 0600 on every VM by provision.sh (shutil.copy keeps the mode).
    shutil.copy(api_token.make(token_file(directory)), files / "api-token")
    service = service_config(settings, fencing=access is not None)
    (files / "fractal.crm").write_text(slow_vm_timings(service.render(
        access.servers if access else None)))
    if access is not None:
        (files / "clouds.yaml").write_text(access.clouds_yaml)
        (files / "cloud-relay.env").write_text(
            f"PORTS={access.ports}\nUPSTREAM={settings.management_gateway}\n")
    xml = crm_to_xml(files / "fractal.crm")
    if xml is not None:
        (files / "fractal-config.xml").write_bytes(xml)
    Path(settings.shared_dir).mkdir(parents=True, exist_ok=True)
    if not settings.box:
        name = box.box_name(box.key())
        settings = Settings(**{**asdict(settings), "box": name})
    (directory / "settings.json").write_text(settings.to_json())
    return service


def token_file(directory: Path) -> Path:
    """The API's token on the host, as the clients read it (the VMs' /etc/fractal/api-token)."""
    return directory / "api-token"


@dataclass(frozen=True)
class CloudAccess:
    """What the VMs need of the host's cloud: the member's clouds.yaml entry, the endpoints'
    ports (relayed from the VM's loopback to the host), and each node's compute server."""
    clouds_yaml: str
    ports: str  # comma-separated
    servers: dict[str, str]


def crm_to_xml(crm_file: Path) -> bytes | None:
    """The crmsh configuration translated by crmsh on the host, against an empty CIB file:
    a `<configuration>` for `cibadmin --modify` in a guest, where crmsh itself takes ~15 s
    (minutes under load). None without crmsh here (provisioning then runs crmsh itself)."""
    if not (shutil.which("crm") and shutil.which("cibadmin")):
        return None
    with tempfile.TemporaryDirectory(prefix="fha-cib-") as tmp:
        cib = Path(tmp) / "cib.xml"
        cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                      check=True).stdout)
        # -F: the ocf:fractal agents are not installed on the host, so crmsh cannot check
        # their parameters here; they are installed on the nodes before the load.
        done = subprocess.run(["crm", "-F", "configure", "load", "update", str(crm_file)],
                              env={**os.environ, "CIB_file": str(cib)}, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            return None
        config = etree.parse(str(cib)).getroot().find("configuration")
        config.remove(config.find("nodes"))  # the live cluster's own
        return etree.tostring(config)


# The lab's operation timings, for guests 10-50x slower (software emulation, 3 guests on 2
# shared cores): every operation timeout and the API's health-check timeout ×4 (a worker's
# start took over 30 s in a busy guest, and a timed-out start bans the clone instance from
# the node); the API's depth-0 monitor every 5 s instead of 1 s (each one is a Python process,
# a good share of a guest's CPU every second). One worker per node: a VM has one vCPU. The rest
# (stickiness, thresholds, the group, the clone) is the lab's.
TIMEOUT_FACTOR = 4
API_MONITOR_S = 5


def slow_vm_timings(crm: str) -> str:
    crm = re.sub(r"(?m)^(\s*op \w+ .*?\btimeout=)(\d+)s\b",
                 lambda m: f"{m.group(1)}{int(m.group(2)) * TIMEOUT_FACTOR}s", crm)
    # Fencing runs fence_openstack (Python, novaclient) in a guest: far slower than in the lab.
    crm = re.sub(r"\bstonith-timeout=(\d+)s\b",
                 lambda m: f"stonith-timeout={int(m.group(1)) * TIMEOUT_FACTOR}s", crm)
    crm = with_load_threshold(crm)  # a guest's load is the emulator's: see crm_config
    crm = re.sub(r"\bhealth_timeout=(\d+)\b",
                 lambda m: f"health_timeout={int(m.group(1)) * TIMEOUT_FACTOR}", crm)
    crm, n = re.subn(r"(primitive fractal-api .*?op monitor interval=)1s\b",
                     rf"\g<1>{API_MONITOR_S}s", crm, count=1, flags=re.S)
    if n != 1:
        raise VagrantError("fractal.crm: the API's 1 s monitor is gone; revisit slow_vm_timings")
    return crm


def service_config(settings: Settings, fencing: bool = False) -> ServiceConfig:
    """The lab's service configuration, with the address on the VMs' private network (and
    one worker per node; the timings are adjusted by slow_vm_timings when staged); fencing
    through the host's cloud when it runs one for the VMs."""
    prefix = ipaddress.ip_network(settings.private_cidr).prefixlen
    return ServiceConfig(settings.service_address, data_dir=SHARED_DATA, workers=1,
                         allow_local_store=True,  # SQLite in a data_dir every VM mounts
                         address_params=f"ip={settings.service_address} cidr_netmask={prefix}",
                         fencing=fencing, cloud=MEMBER_CLOUD)


class VagrantNode:
    """One VM, with the lab Node's interface: name, running, exec, crash, cluster_state."""

    def __init__(self, cluster: VagrantCluster, name: str, address: str) -> None:
        self.cluster = cluster
        self.name = name
        self.address = address  # private (ring0) address

    @property
    def domain(self) -> str:
        return f"{self.cluster.settings.prefix}{self.name}"

    @property
    def running(self) -> bool:
        done = self.cluster.virsh("domstate", self.domain, check=False)
        return done.stdout.strip() == "running"

    def exec(self, argv: list[str], *, timeout: float = 60.0, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
        """Run argv as root on the node (ssh through the libvirt namespace)."""
        ssh = self.cluster.ssh_argv(self.name)
        done = subprocess.run([*ssh, "sudo", "--", shlex.join(argv)], capture_output=True,
                              text=True, timeout=timeout, input=input)
        if check and done.returncode != 0:
            raise VagrantError(f"{self.name}: {' '.join(argv)} exited {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
        return done

    def crash(self) -> None:
        """Hard crash: the VM's power is pulled (`virsh destroy`)."""
        self.cluster.crash(self.name)

    def cluster_state(self) -> crm_mon.ClusterState | None:
        try:
            done = self.exec(["crm_mon", "-1", "--output-as=xml"], check=False, timeout=30)
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0 or not done.stdout.strip().startswith("<"):
            return None
        return crm_mon.parse(done.stdout)


class VagrantCluster:
    def __init__(self, work_dir: Path, *, prefix: str = "fhv-", driver: str = "qemu",
                 token_ms: int = 10000, own_libvirtd: bool = True) -> None:
        self.dir = work_dir
        self.own_libvirtd = own_libvirtd  # libvirtd in its own netns (software-emulated path)
        self.settings = Settings(shared_dir=str(work_dir / "shared"), prefix=prefix,
                                 driver=driver, token_ms=token_ms)
        self.nodes = [VagrantNode(self, n, self.settings.address(i))
                      for i, n in enumerate(self.settings.node_names(), 1)]
        self.service = service_config(self.settings, fencing=True)
        # The host's cloud for the VMs (fencing through its compute API), as in the lab: its
        # own state and kernel-object prefix, so it never meets the lab's or the tests' cloud.
        self.cloud = Layout(state=work_dir / "cloud", venv=Layout().venv,
                            netns_prefix=prefix.rstrip("-") + "c")
        self._started_libvirtd = False
        self.timings: dict[str, float] = {}

    # -- plumbing ----------------------------------------------------------------------
    def _netns(self, argv: list[str]) -> list[str]:
        return host.in_netns(argv) if self.own_libvirtd else argv

    def _env(self) -> dict[str, str]:
        return {**os.environ, "FRACTAL_HA_STAGE": str(self.dir),
                "VAGRANT_DOTFILE_PATH": str(self.dir / ".vagrant"),
                "VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_NO_COLOR": "1",
                "VAGRANT_DEFAULT_PROVIDER": "libvirt"}

    def vagrant(self, *args: str, timeout: float = 900, check: bool = True,
                log: Path | None = None, progress: Progress | None = None
                ) -> subprocess.CompletedProcess:
        argv = self._netns(["vagrant", *args])
        if progress is None:
            done = subprocess.run(argv, cwd=HERE, env=self._env(), capture_output=True,
                                  text=True, timeout=timeout)
            if log:
                log.write_text(done.stdout + done.stderr)
        else:  # stream the output (a `vagrant up` takes minutes)
            lines: list[str] = []
            with subprocess.Popen(argv, cwd=HERE, env=self._env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) as proc:
                assert proc.stdout is not None
                deadline = time.monotonic() + timeout
                for line in proc.stdout:
                    lines.append(line)
                    if "Progress:" not in line:  # the box upload's percentage, 1000 times
                        progress(line.rstrip())
                    if time.monotonic() > deadline:
                        proc.kill()
                rc = proc.wait()
            if log:
                log.write_text("".join(lines))
            done = subprocess.CompletedProcess(argv, rc, "".join(lines), "")
        if check and done.returncode != 0:
            raise VagrantError(f"vagrant {' '.join(args)} exited {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-1500:]}")
        return done

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["virsh", "-q", *args], capture_output=True, text=True,
                              timeout=60)
        if check and done.returncode != 0:
            raise VagrantError(f"virsh {' '.join(args)}: {done.stderr.strip()}")
        return done

    def ssh_argv(self, name: str) -> list[str]:
        config = self.dir / "ssh_config"
        if not config.exists():
            self.refresh_ssh_config()
        return self._netns(["ssh", "-F", str(config), "-o", "ControlMaster=auto",
                            "-o", f"ControlPath={self.dir}/ssh-%h", "-o", "ControlPersist=300",
                            "-o", "ServerAliveInterval=3", "-o", "ServerAliveCountMax=3",
                            "-o", "ConnectTimeout=10", name, "--"])

    def refresh_ssh_config(self, *names: str) -> None:
        """`vagrant ssh-config` (slow: ~5 s of Ruby) once after up and after a boot."""
        done = self.vagrant("ssh-config", *names, timeout=120)
        config = self.dir / "ssh_config"
        old = config.read_text() if config.exists() and names else ""
        blocks = _ssh_blocks(old)
        blocks.update(_ssh_blocks(done.stdout))
        config.write_text("".join(blocks.values()))

    def _close_ssh(self, name: str) -> None:
        if (self.dir / "ssh_config").exists():
            subprocess.run(self._netns(["ssh", "-F", str(self.dir / "ssh_config"), "-o",
                                        f"ControlPath={self.dir}/ssh-%h", "-O", "exit", name]),
                           capture_output=True, timeout=10)

    def node(self, name: str) -> VagrantNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r}")

    def _node(self, node: VagrantNode | str) -> VagrantNode:
        return node if isinstance(node, VagrantNode) else self.node(node)

    # -- life cycle ----------------------------------------------------------------------
    def up(self, progress: Progress = lambda _: None) -> None:
        """Box (built or cached), stage, `vagrant up` of all nodes in parallel (provisioning
        forms the cluster and loads the configuration), then wait for the service."""
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.own_libvirtd:
            self._started_libvirtd = host.start() or self._started_libvirtd
        mark = time.monotonic()
        name = box.ensure(progress)
        self.timings["box"] = time.monotonic() - mark
        self.settings = Settings(**{**asdict(self.settings), "box": name})
        self._prune_pool(name)
        mark = time.monotonic()
        access = self.start_cloud(progress)
        self.timings["cloud"] = time.monotonic() - mark
        stage(self.dir, self.settings, access)
        self.relay().start()  # before the VMs boot: their fence device starts with Pacemaker
        mark = time.monotonic()
        self.vagrant("up", "--provider", "libvirt", timeout=1800, log=self.dir / "up.log",
                     progress=lambda line: progress(f"vagrant: {line}"))
        self.timings["vagrant_up"] = time.monotonic() - mark
        self.refresh_ssh_config()
        mark = time.monotonic()
        self.wait_formed(timeout=300)
        self.timings["formed_after_up"] = time.monotonic() - mark
        self.wait_service(timeout=300)
        self.timings["service_after_up"] = time.monotonic() - mark
        self.timings["total"] = time.monotonic() - t0
        progress(f"up in {self.timings['total']:.0f} s: {self.timings}")

    def start_cloud(self, progress: Progress) -> CloudAccess:
        """The lab's OpenStack on the host, its compute servers standing for the VMs: os-stop
        pulls a VM's power (`virsh destroy`), os-start powers it on; so fence_openstack in
        the VMs fences them as it would on a real cloud."""
        topo = cloud.up(self.cloud, say=lambda line: progress(f"cloud: {line}"))
        for node in self.nodes:
            dom = shlex.quote(node.domain)
            registry.set_hooks(self.cloud, topo.servers[node.name], {
                # A VM that is off already (crashed) counts as powered off.
                "stop": ["sh", "-c", f"virsh -q destroy {dom} || "
                                     f"[ \"$(virsh -q domstate {dom})\" = 'shut off' ]"],
                "start": ["virsh", "-q", "start", node.domain]})
        return CloudAccess(clouds.member_only(self.cloud), self._cloud_ports(),
                           {n.name: topo.servers[n.name] for n in self.nodes})

    def _cloud_ports(self) -> str:
        return ",".join(map(str, self.cloud.public_ports()))

    def relay(self) -> Daemon:
        """The VMs' way to the cloud (cluster/lab/cloud_relay.py): listening at the management
        network's gateway (bound before libvirt adds that address), in libvirt's namespace on
        the emulated path; each VM relays its loopback's endpoint ports here."""
        netns = [host.NETNS] if self.own_libvirtd else []
        return Daemon("vagrant-relay", self.dir / "relay",
                      [str(PROJECT_BIN / "python"), "-m", "cluster.lab.cloud_relay",
                       self._cloud_ports(), *netns, "--listen",
                       self.settings.management_gateway])

    def wait_service(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.client("GET", "/healthz"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API did not answer at {self.settings.service_address} "
                                   f"within {timeout:.0f} s: {self.status()}")
            time.sleep(2)

    def down(self) -> None:
        """Destroy the VMs and their networks; stop libvirtd if this object started it."""
        for node in self.nodes:
            self._close_ssh(node.name)
        if (self.dir / ".vagrant").exists():
            self.vagrant("destroy", "-f", timeout=300, check=False, log=self.dir / "destroy.log")
        # Whatever a failed `up` or `destroy` left: our domains, their disks, our networks.
        if host.netns_exists() or not self.own_libvirtd:
            self._purge()
        if self._started_libvirtd:
            host.stop()
            self._started_libvirtd = False
        self.relay().stop()
        cloud.down(self.cloud)

    def _prune_pool(self, current: str) -> None:
        """vagrant-libvirt's copies of older boxes in the libvirt pool (~1 GB each)."""
        vols = self.virsh("vol-list", "default", check=False).stdout.split()
        for vol in vols:
            if vol.startswith("fractal-ha-debian12-") and not vol.startswith(f"{current}_"):
                self.virsh("vol-delete", "--pool", "default", vol, check=False)

    def _purge(self) -> None:
        prefix = self.settings.prefix
        domains = self.virsh("list", "--all", "--name", check=False).stdout.split()
        for dom in domains:
            if dom.startswith(prefix) and dom[len(prefix):] in self.settings.node_names():
                self.virsh("destroy", dom, check=False)
                self.virsh("undefine", dom, "--remove-all-storage", check=False)
        for net in (self.settings.management_network, self.settings.private_network):
            self.virsh("net-destroy", net, check=False)
            self.virsh("net-undefine", net, check=False)

    # -- nodes ---------------------------------------------------------------------------
    def exec(self, node: VagrantNode | str, argv: list[str],
             **kwargs) -> subprocess.CompletedProcess:
        return self._node(node).exec(argv, **kwargs)

    def crash(self, node: VagrantNode | str) -> None:
        """Pull the power: `virsh destroy` (QEMU is killed; the guest gets no chance to act)."""
        node = self._node(node)
        self.virsh("destroy", node.domain)
        self._close_ssh(node.name)

    def boot_node(self, node: VagrantNode | str, timeout: float = 600) -> None:
        """Power a crashed node on; returns once its Pacemaker answers (it rejoins by itself:
        corosync and pacemaker are enabled at boot)."""
        node = self._node(node)
        if not node.running:
            self.virsh("start", node.domain)
        # The hypervisor's word, as Nova's power-state sync: the next fencing sees it on.
        if self.cloud.topology_json.exists():
            server = Topology.load(self.cloud).servers[node.name]
            PowerStates(self.cloud).set_on(server, True)
        deadline = time.monotonic() + timeout
        while True:
            self._follow_address(node)  # DHCP may hand the rebooted VM another address
            if node.cluster_state() is not None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{node.name} did not come back within {timeout:.0f} s")
            time.sleep(3)

    def _follow_address(self, node: VagrantNode) -> None:
        """Point the node's ssh entry at its newest DHCP lease on the management network."""
        macs = [f[4] for f in (line.split() for line in
                               self.virsh("domiflist", node.domain).stdout.splitlines())
                if len(f) >= 5 and f[2] == self.settings.management_network]
        leases = [line.split() for line in self.virsh(
            "net-dhcp-leases", self.settings.management_network, check=False).stdout.splitlines()]
        # columns: date, time (expiry), MAC, protocol, address/prefix, hostname, client id
        mine = sorted((f[0], f[1], f[4].split("/")[0]) for f in leases
                      if len(f) >= 5 and f[2] in macs)
        config = self.dir / "ssh_config"
        if not mine or not config.exists():
            return
        blocks = _ssh_blocks(config.read_text())
        block = blocks.get(node.name, "")
        fresh = re.sub(r"(?m)^(\s*HostName\s+)\S+", rf"\g<1>{mine[-1][2]}", block)
        if fresh != block:
            self._close_ssh(node.name)
            blocks[node.name] = fresh
            config.write_text("".join(blocks.values()))

    def isolate(self, node: VagrantNode | str, cut: bool = True) -> None:
        """Unplug (or plug back) the node's private-network cable: corosync and the service
        lose it; ssh over the management network still reaches the node."""
        node = self._node(node)
        for line in self.virsh("domiflist", node.domain).stdout.splitlines():
            fields = line.split()  # interface, type, source, model, MAC
            if len(fields) >= 5 and fields[2] == self.settings.private_network:
                self.virsh("domif-setlink", node.domain, fields[4], "down" if cut else "up")
                return
        raise VagrantError(f"{node.name}: no interface on {self.settings.private_network}")

    def kill_api(self, node_name: str | None = None) -> str:
        """SIGKILL the API process on `node_name` (default: where the cluster runs it);
        returns that node's name."""
        return operations.kill_api(self, node_name)

    # -- the cluster's view --------------------------------------------------------------
    def status(self, node: VagrantNode | str | None = None) -> crm_mon.ClusterState | None:
        """The cluster as `node` sees it; by default as the quorate partition sees it."""
        if node is not None:
            return self._node(node).cluster_state()
        fallback = None
        for candidate in self.nodes:
            if not candidate.running:
                continue
            view = candidate.cluster_state()
            if view is not None and view.quorate:
                return view
            fallback = fallback or view
        return fallback

    def settle(self, timeout: float = 600) -> None:
        """Until the cluster has no action pending or running."""
        running = next(n for n in self.nodes if n.running)
        running.exec(["crm_resource", "--wait", f"--timeout={timeout:.0f}s"],
                     timeout=timeout + 30)

    def wait_formed(self, timeout: float = 300.0) -> crm_mon.ClusterState:
        """Until every running node is online in a quorate cluster with a DC, seen from each."""
        return operations.wait_formed(self.nodes, lambda n: n.cluster_state(), timeout=timeout,
                                      interval=2)

    @property
    def token_file(self) -> Path:
        """The API's bearer token (`fractal --token-file`), as staged for the VMs."""
        return token_file(self.dir)

    def client(self, method: str, path: str, body: dict | None = None,
               timeout: float = 3.0, headers: dict[str, str] | None = None) -> dict | None:
        """Call the API at the service address (from the VMs' private network, as a client on
        it would); None if no answer."""
        url = f"http://{self.settings.service_address}:{self.service.api_port}{path}"
        answer = http_client.request(self._netns([]), method, url, body, timeout=timeout,
                                     headers=headers, token_file=self.token_file)
        return None if answer is None else answer.json()


def _ssh_blocks(text: str) -> dict[str, str]:
    """`vagrant ssh-config` output split into its Host blocks, by host name."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.splitlines(keepends=True):
        if line.startswith("Host "):
            current = line.split()[1]
            blocks[current] = ""
        if current:
            blocks[current] += line
    return blocks
