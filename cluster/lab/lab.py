"""The lab: N cluster nodes on the lab cloud's tenant network, each in its own namespaces, one
host; the lab's OpenStack beside them (real Keystone and Neutron, compute, data plane).

Like VMs in a real cloud: each node has a Neutron port (fixed IP on 192.0.2.0/24) and a compute
server whose power actions crash and boot it, so `fence_openstack` really fences; clients reach
the service on the floating IP from the external network, through the router's NAT. The nodes
reach the cloud's endpoints at the catalog's own URLs through a relay (cloud_relay.py).

Everything the lab creates is named with its prefix (namespaces `fha-*` for the operator's lab;
tests pick a prefix of their own, so a test run and a lab can share a host) and recorded under
its directory, so `down` removes exactly that, by PID and by name, and nothing else. The nodes
see the ocf:fractal agents installed in the lab's directory (an overlay on their own
/usr/lib/ocf/resource.d): the host's OCF root is left alone. Each node also runs a member of
the lab's etcd (etcd.py), where the services' live settings are.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cluster import api_token, operations
from cluster.corosync_conf import TOKEN_COEFFICIENT_MS, Member, render
from cluster.crm_config import ServiceConfig, with_load_threshold
from cluster.lab import netns
from cluster.lab.etcd import LabEtcd
from cluster.lab.node import Node, NodeSpec
from cluster.openstack.daemons import PROJECT_BIN, Daemon
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS, Layout
from cluster.openstack.topology import ADDRESSING, FLOATING_IP, Topology
from resource_agents.agents.api import SYSCTL_FILE as API_SYSCTL
from resource_agents.metrics import crm_mon

PREFIX = "fha"
# Which directory's lab owns a prefix's namespaces: `down` of another directory (a lab that
# never came up there, so a default one) must not take a running lab's network away.
OWNERS = Path(os.environ.get("FRACTAL_HA_LAB_OWNERS", "/run/fractal-ha/labs"))


class LabError(Exception):
    """What the lab refuses to do, said in one line to the operator."""
CLIENT_CIDR = ADDRESSING[REGIONS[0]].client_cidr  # a user on the internet
SERVICE_ADDRESS = FLOATING_IP  # where clients and workers reach the API
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Wan:
    """A second network every node of a site is plugged into (eth1): the sites' WAN, where
    booth talks and the lab zone's DNS server answers (cluster/geo/sites.py)."""

    switch: str  # the WAN's switch namespace
    addresses: dict[str, str]  # node name -> its address on the WAN, with prefix length
    nameserver: str  # the nodes' resolver (the service's name)


class Lab(operations.ExternalClient):
    """`cloud`: a cloud someone else brought up and takes down (the two-site lab's, shared by
    its sites); by default the lab makes its own in its directory. `region`: the region whose
    network, nodes (topology.ADDRESSING) and floating IP the lab uses."""

    def __init__(self, lab_dir: Path, size: int | None = None, *, token_ms: int = 500,
                 token_coefficient_ms: int = TOKEN_COEFFICIENT_MS, prefix: str = PREFIX,
                 region: str = REGIONS[0], cloud: Layout | None = None,
                 wan: Wan | None = None) -> None:
        # The cloud's state lives in the lab; its virtualenv is the shared cache.
        self.cloud = (cloud or Layout(state=lab_dir / "cloud", venv=Layout().venv,
                                      netns_prefix=prefix)).in_region(region)
        self.addressing = ADDRESSING[self.cloud.plan]
        every = self.addressing.nodes
        size = min(3, len(every)) if size is None else size
        if not 1 <= size <= len(every):
            raise ValueError(f"a lab in {region} has 1 to {len(every)} nodes, not {size}")
        self.dir = lab_dir
        self.token_ms = token_ms
        self.token_coefficient_ms = token_coefficient_ms
        self.prefix = prefix
        self.region = region
        self.wan = wan
        self.own_cloud = cloud is None
        self.net = RouterNetwork.of(self.cloud)
        self.client_netns = self.net.host("client")
        self.address = self.addressing.floating_ip  # where clients and workers reach the API
        self.nodes = [Node(NodeSpec(name, i, address, f"{prefix}-{name}"), lab_dir)
                      for i, (name, address) in enumerate(list(every.items())[:size], start=1)]
        # Settings in etcd: a member on every node, its own cluster beside Pacemaker.
        self.etcd = LabEtcd(lab_dir / "etcd", {n.name: n.spec.address for n in self.nodes},
                            token=f"{prefix}-etcd")
        # The fractals live in the cloud's Object Storage (real Swift): no node holds state.
        self.service = ServiceConfig.on_openstack(self.address, MEMBER_CLOUD,
                                                  **self.etcd.service_params())

    @classmethod
    def open(cls, lab_dir: Path, prefix: str = PREFIX) -> Lab:
        """The lab that `boot` recorded in `lab_dir` (its prefix, size, region and cloud), or
        a new one. A site's compute hooks open it so (a fenced node is crashed and booted)."""
        try:
            saved = json.loads((lab_dir / "lab.json").read_text())
        except (OSError, ValueError):
            return cls(lab_dir, prefix=prefix)
        cloud = Layout.of(saved) if saved.get("cloud") else None
        return cls(lab_dir, saved["size"], token_ms=saved["token_ms"], prefix=saved["prefix"],
                   token_coefficient_ms=saved.get("token_coefficient_ms", TOKEN_COEFFICIENT_MS),
                   region=saved.get("region", REGIONS[0]), cloud=cloud)

    def _record(self) -> None:
        saved = {"prefix": self.prefix, "size": len(self.nodes), "token_ms": self.token_ms,
                 "token_coefficient_ms": self.token_coefficient_ms, "region": self.region}
        if not self.own_cloud:
            saved.update(self.cloud.described())
        (self.dir / "lab.json").write_text(json.dumps(saved))

    def owner(self) -> Path | None:
        """The directory of the lab whose namespaces carry this prefix, if one is recorded and
        still there."""
        try:
            owner = Path((OWNERS / self.prefix).read_text().strip())
        except OSError:
            return None
        # lab.json: a lab's; geo.json: a two-site lab's (cluster/geo/sites.py)
        return owner if any((owner / f).exists() for f in ("lab.json", "geo.json")) else None

    def owned_elsewhere(self) -> Path | None:
        """The owner of this prefix when it is not this lab, nor a lab this one is part of
        (a site's directory lies in its two-site lab's)."""
        owner = self.owner()
        return owner if owner and not self.dir.resolve().is_relative_to(owner.resolve()) else None

    def _claim(self) -> None:
        if other := self.owned_elsewhere():
            raise LabError(f"the prefix {self.prefix!r} belongs to the lab in {other}: "
                           f"`fractal-ha lab --dir {other} down`, or --prefix for a lab of its own")
        if self.owner() is None:
            OWNERS.mkdir(parents=True, exist_ok=True)
            (OWNERS / self.prefix).write_text(f"{self.dir.resolve()}\n")

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} (the lab has {', '.join(n.name for n in self.nodes)})")

    # -- up ------------------------------------------------------------------------------
    @property
    def ocf_providers(self) -> Path:
        return self.dir / "ocf" / "resource.d"

    @property
    def fractal_etc(self) -> Path:
        """The nodes' /etc/fractal: the API's bearer token (ServiceConfig.token_file)."""
        return self.dir / "etc-fractal"

    @property
    def token_file(self) -> Path:
        """The API's token as the host's clients read it (`fractal --token-file`)."""
        return self.fractal_etc / "api-token"

    @property
    def openstack_etc(self) -> Path:
        """The nodes' /etc/openstack: clouds.yaml with the member user only (no admin)."""
        return self.dir / "etc-openstack"

    @property
    def clouds_entries(self) -> tuple[str, ...]:
        """The nodes' clouds.yaml entries: the agents' and fencing's (ServiceConfig.cloud),
        and the store's when it is another."""
        from fractal_service.store import swift_url

        url = self.service.store_url
        store = swift_url.parse(url).cloud if url else None  # "" : SQLite, no cloud
        return tuple(dict.fromkeys(filter(None, [self.service.cloud, store])))

    def namespaces(self) -> list[str]:
        """What this lab made in the kernel: its nodes and client, and the cloud's network
        when the cloud is the lab's own."""
        cloud = ([self.net.router, self.net.tenant_switch, self.net.external_switch]
                 if self.own_cloud else [])
        return [n.spec.netns for n in self.nodes] + [self.client_netns, *cloud]

    def relay(self) -> Daemon:
        """The nodes' path to the cloud's endpoints (see cloud_relay.py): a site's reach
        every region's (its store's peer region too)."""
        ports = ",".join(map(str, self.cloud.public_ports(every_region=not self.own_cloud)))
        return Daemon("relay", self.dir / "relay",
                      [str(PROJECT_BIN / "python"), "-m", "cluster.lab.cloud_relay", ports,
                       *(n.spec.netns for n in self.nodes)])

    def build_network(self) -> None:
        """Nodes on the tenant network at their ports' addresses, routed by the cloud's router;
        the client on the external network."""
        net = self.addressing
        for node in self.nodes:
            netns.add(node.spec.netns)
            # The node's kernel settings as the package installs them (sysctl.d).
            netns.run(["ip", "netns", "exec", node.spec.netns, "sysctl", "-qp", str(API_SYSCTL)])
            netns.plug(node.spec.netns, self.net.tenant_switch, "eth0", f"{node.name}-port",
                       [f"{node.spec.address}/{net.tenant_prefix_len}"])
            netns.ip("route", "replace", "default", "via", net.tenant_gateway,
                     netns=node.spec.netns)
            if self.wan is not None:
                # booth (Debian 12's 1.0) hangs on this kernel while IPv6 is on (booth.py)
                netns.disable_ipv6(node.spec.netns)
                netns.plug(node.spec.netns, self.wan.switch, "eth1", f"{node.name}-wan",
                           [self.wan.addresses[node.name]])
        self.net.plug_host("client", external=True, cidr=net.client_cidr,
                           gateway=net.external_gateway)

    def write_etc_net(self) -> None:
        """The nodes' /etc/hosts (every node by name, as cloud-init writes it) and an empty
        resolv.conf (no DNS on the lab's networks: lookups must fail at once, not time out)."""
        etc = self.dir / "etc-net"
        etc.mkdir(exist_ok=True)
        hosts = ["127.0.0.1 localhost", *(f"{n.spec.address} {n.name}" for n in self.nodes)]
        (etc / "hosts").write_text("\n".join(hosts) + "\n")
        (etc / "resolv.conf").write_text(
            f"nameserver {self.wan.nameserver}\noptions timeout:1 attempts:2\n" if self.wan
            else "# the lab has no DNS server\n")

    def boot_node(self, node: Node) -> None:
        """Power on, as the hypervisor would: the compute service sees it ACTIVE again."""
        from cluster.openstack.compute.power import PowerStates

        node.boot(ocf_providers=self.ocf_providers, openstack_etc=self.openstack_etc,
                  etc_net=self.dir / "etc-net", fractal_etc=self.fractal_etc,
                  etcd_defaults=self.etcd.defaults(node.name))
        PowerStates(self.cloud).set_on(self.topology.servers[node.name], True)

    @property
    def topology(self) -> Topology:
        return Topology.load(self.cloud)

    def boot(self, progress: Progress = lambda _: None) -> None:
        from cluster.openstack import cloud, clouds
        from cluster.openstack.compute import registry
        from resource_agents import install

        self.dir.mkdir(parents=True, exist_ok=True)
        self._claim()
        self._record()
        install.install(self.dir / "ocf")
        topo = (cloud.up(self.cloud, say=lambda line: progress(f"cloud: {line}"))
                if self.own_cloud else self.topology)
        self.openstack_etc.mkdir(exist_ok=True)
        (self.openstack_etc / "clouds.yaml").touch(mode=0o600)
        (self.openstack_etc / "clouds.yaml").write_text(
            clouds.member_only(self.cloud, self.clouds_entries))
        api_token.make(self.token_file)
        self.etcd.prepare(self.fractal_etc)
        self.write_etc_net()
        self.build_network()
        self.relay().start()
        # The hypervisor's side of compute: os-stop crashes a node, os-start boots it.
        lab_cli = [sys.executable, "-m", "cluster.lab.cli", "--dir", str(self.dir)]
        for node in self.nodes:
            registry.set_hooks(self.cloud, topo.servers[node.name],
                               {"stop": [*lab_cli, "crash", node.name],
                                "start": [*lab_cli, "boot", node.name]})
        conf = render([Member(n.name, n.spec.nodeid, n.spec.address) for n in self.nodes],
                      token_ms=self.token_ms, token_coefficient_ms=self.token_coefficient_ms)
        authkey = os.urandom(256)
        for node in self.nodes:
            node.prepare(conf, authkey)
            self.boot_node(node)
            progress(f"{node.name} booted (pid {node.pid1}, {node.spec.address})")

    def configure(self, edit: Callable[[str], str] = lambda crm: crm) -> None:
        """Load the Fractal service's configuration through one node's crm shell (`edit`: a
        benchmark's variant of it, e.g. the stock agent's documented layout)."""
        # The services follow etcd from their start: its members formed while Pacemaker did.
        self.etcd.wait_healthy(self.nodes)
        path = self.dir / "fractal.crm"
        # The nodes share one host's CPUs: its load is no node's (crm_config says why).
        path.write_text(with_load_threshold(edit(self.service.render(self.topology.servers))))
        self.nodes[0].exec(["crm", "configure", "load", "update", str(path)])

    def settle(self, timeout: float = 120.0) -> None:
        """Until the cluster has no action pending or running (a fault injected while a
        transition runs would wait for it, and measure it too)."""
        running = [n for n in self.nodes if n.running]  # the first may have crashed
        # Not an isolated node's view: it waits on a partition that is about to be fenced (a
        # benchmark's wait there died with the node: exited -9).
        asked = next((n for n in running if (view := self.status(n)) and view.quorate),
                     running[0])  # stops at the first quorate view: one crm_mon as a rule
        asked.exec(["crm_resource", "--wait", f"--timeout={timeout:.0f}s"], timeout=timeout + 10)

    def wait_formed(self, timeout: float = 90.0) -> crm_mon.ClusterState:
        """Until every running node is online in a quorate cluster with a DC, seen from each."""
        return operations.wait_formed(self.nodes, self.status, timeout=timeout, interval=0.5)

    def status(self, node: Node | None = None) -> crm_mon.ClusterState | None:
        """The cluster as `node` sees it; by default as the quorate partition sees it (an
        isolated node's own view is not the cluster's truth)."""
        if node is None:
            views = (self.status(n) for n in self.nodes if n.running)
            fallback = None
            for view in views:
                if view is not None and view.quorate:
                    return view
                fallback = fallback or view
            return fallback
        return node.cluster_state()

    # -- faults --------------------------------------------------------------------------
    def kill_api(self, node_name: str | None = None) -> str:
        """SIGKILL the API process on `node_name` (default: where the cluster runs it);
        returns that node's name."""
        return operations.kill_api(self, node_name)

    def isolate(self, name: str, cut: bool = True) -> None:
        netns.set_link(self.net.tenant_switch, f"{name}-port", up=not cut)

    # -- down ----------------------------------------------------------------------------
    def down(self) -> None:
        """Everything this directory's lab created; refused (LabError) when the prefix's
        namespaces belong to a lab recorded in another directory."""
        from cluster.openstack import cloud

        if other := self.owned_elsewhere():
            raise LabError(f"the namespaces {self.prefix}-* belong to the lab in {other}, not "
                           f"{self.dir}: `fractal-ha lab --dir {other} down` removes that one")
        for node in self.nodes:
            node.crash()  # PID 1 of each node: every process of the node goes with it
        self.relay().stop()
        if self.own_cloud:
            cloud.down(self.cloud)  # its daemons, then every namespace with our prefix
        for name in self.namespaces():
            netns.delete(name)
        for created in ("nodes", "ocf", "relay", "etc-openstack", "etc-net", "etc-fractal",
                        "etcd"):
            shutil.rmtree(self.dir / created, ignore_errors=True)
        for created in ("fractal.crm", "lab.json"):
            (self.dir / created).unlink(missing_ok=True)
        if self.owner() is None:  # ours, or nobody's any more
            (OWNERS / self.prefix).unlink(missing_ok=True)
