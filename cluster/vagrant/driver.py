"""VagrantCluster: three vagrant-libvirt VMs running the Fractal service under Pacemaker, driven
through the same small interface as the lab (cluster/lab/lab.py), so failover tests run on both.

Each VM is an instance of the host's lab cloud: its service NIC is its Neutron port on the
cloud's tenant network (Settings, VagrantCluster.wire), so the floating IP reaches it through
the cloud's router, and clients call the service from the cloud's external network, as in the
lab. Software-emulated path (this CI's machines): libvirtd runs in its own network namespace
(cluster/vagrant/host.py) and so do Vagrant and ssh, which reach the VMs' management network
there. Commands inside a node go over ssh (one multiplexed
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lxml import etree

from cluster import api_token, operations, private_file
from cluster.corosync_conf import Member, render
from cluster.crm_config import ServiceConfig, with_load_threshold
from cluster.lab import netns
from cluster.openstack import cloud, clouds
from cluster.openstack.compute import registry
from cluster.openstack.compute.power import PowerStates
from cluster.openstack.daemons import PROJECT_BIN, Daemon
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS, Layout
from cluster.openstack.topology import ADDRESSING, Addressing, Topology
from cluster.vagrant import box, host
from resource_agents.metrics import crm_mon

HERE = Path(__file__).resolve().parent
EXPORTER_CRM = HERE.parent / "config" / "exporter.crm"
Progress = Callable[[str], None]


class VagrantError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the Vagrantfile reads (stage/settings.json). Each VM's service NIC is its Neutron
    port in the host's lab cloud (`macs`, the tenant network's addresses of `region`'s plan:
    topology.ADDRESSING), plugged into a bridge that joins the cloud's tenant network; the
    management network (Vagrant's ssh, the VMs' relay to the cloud's endpoints) is RFC 5737
    TEST-NET-3's first quarter, which a one-region lab cloud does not use."""
    prefix: str = "fhv-"
    driver: str = "kvm"  # "qemu" = software emulation (TCG)
    cpus: int = 1
    memory_mib: int = 1024
    size: int = 3
    management_cidr: str = "203.0.113.0/26"
    region: str = REGIONS[0]  # the host cloud's network plan
    # Corosync token: 0.5 s in the lab; a TCG guest sharing 2 cores with two others stalls for
    # seconds under load, and a short token then evicts healthy nodes. 10 s held under load;
    # it puts node-loss detection at ~22 s (token + consensus).
    token_ms: int = 10000
    box: str = ""
    macs: dict[str, str] = field(default_factory=dict)  # node -> its Neutron port's MAC

    @property
    def addressing(self) -> Addressing:
        return ADDRESSING[self.region]

    @property
    def management_network(self) -> str:
        return f"{self.prefix}mgmt"

    @property
    def tenant_bridge(self) -> str:
        """Where libvirt plugs the VMs' service NICs (the cloud's tenant network's segment)."""
        return f"{self.prefix}tenant"

    def node_names(self) -> list[str]:
        return list(self.addressing.nodes)[:self.size]

    def address(self, name: str) -> str:
        """Node `name`'s fixed IP on the tenant network (its port's; Corosync's ring too)."""
        return self.addressing.nodes[name]

    @property
    def management_gateway(self) -> str:
        """The host's side of the management network (libvirt's bridge): where the VMs reach
        the host's cloud."""
        return str(ipaddress.ip_network(self.management_cidr)[1])

    def to_json(self) -> str:
        net = self.addressing
        missing = [n for n in self.node_names() if n not in self.macs]
        if missing:
            raise VagrantError(f"no Neutron port MAC for {', '.join(missing)}: stage after the "
                               "host's cloud is up")
        data = {**asdict(self), "management_network": self.management_network,
                "tenant_bridge": self.tenant_bridge, "tenant_prefixlen": net.tenant_prefix_len,
                "tenant_gateway": net.tenant_gateway, "external_cidr": net.external_cidr,
                "nodes": [{"name": n, "address": self.address(n), "mac": self.macs[n]}
                          for n in self.node_names()]}
        return json.dumps(data, indent=1)


def stage(directory: Path, settings: Settings, access: CloudAccess) -> ServiceConfig:
    """Write everything the Vagrantfile and the provisioner need: settings.json and files/
    (corosync.conf from the lab's template, authkey, the crmsh configuration, the member's
    clouds.yaml, the VMs' relay to the host's cloud). The product is the box's (its
    fractal-ha package, built from this tree: box.key)."""
    files = directory / "files"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir(parents=True)
    members = [Member(n, i, settings.address(n)) for i, n in enumerate(settings.node_names(), 1)]
    (files / "corosync.conf").write_text(render(members, token_ms=settings.token_ms))
    private_file.write_private(files / "authkey", os.urandom(256))
    # The API's token (auth=token): one per cluster directory, kept across stagings, installed
    # 0600 on every VM by provision.sh (shutil.copy keeps the mode).
    shutil.copy(api_token.make(token_file(directory)), files / "api-token")
    service = service_config(settings)
    # The service and the metrics exporter on every node, as the lab's metrics tests load it.
    crm = service.render(access.servers) + EXPORTER_CRM.read_text()
    (files / "fractal.crm").write_text(slow_vm_timings(crm))
    private_file.write_private(files / "clouds.yaml", access.clouds_yaml)
    (files / "cloud-relay.env").write_text(
        f"PORTS={access.ports}\nUPSTREAM={settings.management_gateway}\n")
    xml = crm_to_xml(files / "fractal.crm")
    if xml is not None:
        (files / "fractal-config.xml").write_bytes(xml)
    if not settings.box:
        settings = replace(settings, box=box.box_name(box.key()))
    (directory / "settings.json").write_text(settings.to_json())
    return service


def token_file(directory: Path) -> Path:
    """The API's token on the host, as the clients read it (the VMs' /etc/fractal/api-token)."""
    return directory / "api-token"


@dataclass(frozen=True)
class CloudAccess:
    """What the VMs need of the host's cloud: the member's clouds.yaml entry, the endpoints'
    ports (relayed from the VM's loopback to the host), each node's compute server and its
    Neutron port's MAC."""
    clouds_yaml: str
    ports: str  # comma-separated
    servers: dict[str, str]
    macs: dict[str, str]


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
# the node); every monitor 3x as far apart, the API's depth-0 one every 15 s instead of 1 s:
# each monitor is a Python process, 1.7-3.4 s of a guest's one vCPU (measured: the API's
# 3.4 s, the worker's 2.6, the exporter's 2.0, the floating IP's 1.7), so at the lab's pace
# the monitors alone took most of the guests' CPU and an API killed under load took 100 s to
# restart. One worker per node: a VM has one vCPU. The rest (stickiness, thresholds, the
# clones, the rule that places the address) is the lab's.
TIMEOUT_FACTOR = 4
MONITOR_FACTOR = 3
API_MONITOR_S = 15


def slow_vm_timings(crm: str) -> str:
    crm = re.sub(r"(?m)^(\s*op \w+ .*?\btimeout=)(\d+)s\b",
                 lambda m: f"{m.group(1)}{int(m.group(2)) * TIMEOUT_FACTOR}s", crm)
    # Fencing runs fence_openstack (Python, novaclient) in a guest: far slower than in the lab.
    crm = re.sub(r"\bstonith-timeout=(\d+)s\b",
                 lambda m: f"stonith-timeout={int(m.group(1)) * TIMEOUT_FACTOR}s", crm)
    crm = with_load_threshold(crm)  # a guest's load is the emulator's: see crm_config
    crm = re.sub(r"\bhealth_timeout=(\d+)\b",
                 lambda m: f"health_timeout={int(m.group(1)) * TIMEOUT_FACTOR}", crm)
    crm = re.sub(r"(?m)^(\s*op monitor interval=)(\d+)s\b",
                 lambda m: f"{m.group(1)}{int(m.group(2)) * MONITOR_FACTOR}s", crm)
    # the API's depth-0 monitor (the lab's 1 s, now 3 s) has a pace of its own
    crm, n = re.subn(rf"(primitive fractal-api .*?op monitor interval=){MONITOR_FACTOR}s\b",
                     rf"\g<1>{API_MONITOR_S}s", crm, count=1, flags=re.S)
    if n != 1:
        raise VagrantError("fractal.crm: the API's 1 s monitor is gone; revisit slow_vm_timings")
    return crm


def service_config(settings: Settings) -> ServiceConfig:
    """The lab's service configuration (the floating IP, Object Storage, fencing through the
    host's cloud) with one worker per node (a VM has one vCPU); the timings are adjusted by
    slow_vm_timings when staged."""
    return ServiceConfig.on_openstack(settings.addressing.floating_ip, MEMBER_CLOUD, workers=1)


class VagrantNode:
    """One VM, with the lab Node's interface: name, running, exec, crash, cluster_state."""

    def __init__(self, cluster: VagrantCluster, name: str, address: str) -> None:
        self.cluster = cluster
        self.name = name
        self.address = address  # its port's fixed IP (Corosync's ring0 too)

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


class VagrantCluster(operations.ExternalClient):
    def __init__(self, work_dir: Path, *, prefix: str = "fhv-", driver: str = "qemu",
                 token_ms: int = 10000, own_libvirtd: bool = True) -> None:
        self.dir = work_dir
        self.own_libvirtd = own_libvirtd  # libvirtd in its own netns (software-emulated path)
        # The host's cloud for the VMs, as the lab's: its own state and kernel-object prefix,
        # so it never meets the lab's or the tests' cloud.
        self.cloud = Layout(state=work_dir / "cloud", venv=Layout().venv,
                            netns_prefix=prefix.rstrip("-") + "c")
        self.settings = Settings(prefix=prefix, driver=driver, token_ms=token_ms,
                                 region=self.cloud.plan)
        self.nodes = [VagrantNode(self, n, self.settings.address(n))
                      for n in self.settings.node_names()]
        self.service = service_config(self.settings)
        self.address = self.service.address  # the floating IP
        self.net = RouterNetwork.of(self.cloud)  # its router, tenant and external switches
        self.client_netns = self.net.host("client")  # a user on the external network
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
        """Box (built or cached), the host's cloud (the VMs' ports, compute servers, floating
        IP), the VMs' bridge joined to its tenant network, stage, `vagrant up` of all nodes in
        parallel (provisioning forms the cluster and loads the configuration), then wait for
        the service on the floating IP."""
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.own_libvirtd:
            self._started_libvirtd = host.start() or self._started_libvirtd
        mark = time.monotonic()
        name = box.ensure(progress)
        self.timings["box"] = time.monotonic() - mark
        self.settings = replace(self.settings, box=name)
        self._prune_pool(name)
        mark = time.monotonic()
        access = self.start_cloud(progress)
        self.timings["cloud"] = time.monotonic() - mark
        self.settings = replace(self.settings, macs=access.macs)  # the VMs' NICs: their ports
        self.wire()
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
                           {n.name: topo.servers[n.name] for n in self.nodes},
                           {n.name: topo.macs[n.name] for n in self.nodes})

    @property
    def _libvirt_netns(self) -> str | None:
        return host.NETNS if self.own_libvirtd else None  # None: the root namespace

    def wire(self) -> None:
        """The VMs' service NICs on the cloud's tenant network, as instances' ports are: libvirt
        plugs them into a bridge of its namespace, joined by a veth pair to the tenant switch
        that the cloud's router (the floating IPs' NAT) serves; a client on the external
        network, as in the lab. Idempotent."""
        ns, bridge = self._libvirt_netns, self.settings.tenant_bridge
        if netns.ip("link", "show", bridge, netns=ns, check=False).returncode != 0:
            netns.ip("link", "add", bridge, "type", "bridge", netns=ns)
        uplink = f"{self.settings.prefix}uplink"
        if netns.ip("link", "show", uplink, netns=ns, check=False).returncode != 0:
            switch = self.net.tenant_switch
            netns.ip("link", "add", "vms", "type", "veth", "peer", "name", uplink, netns=switch)
            # to libvirt's namespace, or to the root's (PID 1's) when libvirtd is the host's
            netns.ip("link", "set", uplink, "netns", ns or "1", netns=switch)
            netns.ip("link", "set", "vms", "master", "br0", "up", netns=switch)
        netns.ip("link", "set", uplink, "master", bridge, "up", netns=ns)
        netns.ip("link", "set", bridge, "up", netns=ns)
        net = self.settings.addressing
        self.net.plug_host("client", external=True, cidr=net.client_cidr,
                           gateway=net.external_gateway)

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
                raise TimeoutError(f"the API did not answer at {self.address} "
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
        netns.ip("link", "del", self.settings.tenant_bridge, netns=self._libvirt_netns,
                 check=False)  # (its uplink's peer goes with the cloud's tenant switch)
        if self._started_libvirtd:
            host.stop()
            self._started_libvirtd = False
        self.relay().stop()
        cloud.down(self.cloud)  # its namespaces: router, switches, the client

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
        net = self.settings.management_network
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
        """Unplug (or plug back) the node's service NIC (its port's cable): Corosync and the
        floating IP's traffic lose it; ssh over the management network still reaches it."""
        node = self._node(node)
        for line in self.virsh("domiflist", node.domain).stdout.splitlines():
            fields = line.split()  # interface, type, source, model, MAC
            if len(fields) >= 5 and fields[2] == self.settings.tenant_bridge:
                self.virsh("domif-setlink", node.domain, fields[4], "down" if cut else "up")
                return
        raise VagrantError(f"{node.name}: no interface on {self.settings.tenant_bridge}")

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
