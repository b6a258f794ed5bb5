"""The two-site lab: the Fractal service in two regions of one lab cloud (topology `regions`),
or in two independent lab clouds (`clouds`: a private and a public one), one site serving at a
time, as booth's ticket says.

- site A, RegionOne: n1-n3, a Pacemaker cluster of its own (cluster/lab/lab.py as a site):
  the API clone, the floating IP 198.51.100.10, the workers, booth with its address on the
  WAN, the ticket claimer, the name;
- site B, RegionTwo: n4, n5 (corosync two_node), the same with RegionTwo's floating IP
  203.0.113.10, fenced through RegionTwo's compute only (its site project);
- the third place: the booth arbitrator and the lab zone's DNS server (knot), on the WAN only;
- the WAN, 203.0.113.128/25: every node's eth1, booth's site addresses, the arbitrator;
- the world: a client with a leg on both regions' external networks and on the WAN.

The ticket guards the floating IP, the workers and the name (loss-policy=stop, site_cib.py);
the API runs hot at both sites (it holds no state: it serves only where the address is).
Each site's API writes to its own region's Swift; the container is synced both ways
(regions.pair). booth runs the region check before a site takes the ticket and at each
renewal (fractal-region-check, reading the site's /etc/fractal/api.toml).

Topology `clouds` shares nothing between the sites but the WAN: site B's cloud has its own
Keystone, users (other names, other passwords: PUBLIC_ACCOUNTS), Neutron, compute, Swift and
floating IP range (RegionTwo's addresses, its only region being its RegionOne); each site's
nodes hold their own cloud's clouds.yaml entry alone; the container is synced between the two
Swifts by container sync in a realm both clouds join (peer_clouds.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import json
import os
import pwd
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cluster import api_token, http_client
from cluster.geo import site_cib
from cluster.geo.booth import (
    MAX_VALUE,
    TICKET,
    Arbitrator,
    BoothConfig,
    TicketTimes,
    make_authfile,
)
from cluster.geo.dns import SERVICE_NAME, DnsServer
from cluster.lab import netns
from cluster.lab.lab import OWNERS, Lab, LabError, Wan
from cluster.lab.node import Node, NodeError
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.faults import control
from cluster.openstack.layout import (
    MEMBER_CLOUD,
    REGIONS,
    REGIONS_CLOUD,
    SERVICES,
    Accounts,
    Layout,
)
from cluster.openstack.regions import site_cloud_name
from cluster.openstack.topology import ADDRESSING
from cluster.operations import wait
from cluster.private_file import write_private

PREFIX = "fgeo"
TOPOLOGIES = ("regions", "clouds")
SITES = {"site-a": REGIONS[0], "site-b": REGIONS[1]}  # topology `regions`
# Topology `clouds`: site B's cloud, independent of site A's; its names are not A's, and each
# cloud's name in the container-sync realm.
PUBLIC_ACCOUNTS = Accounts(admin="cloud-admin", member="fractal-svc", project="fractal-public")
CLOUD_NAMES = {"site-a": "private", "site-b": "public"}
SIZES = {"site-a": 3, "site-b": 2}
WAN_PREFIX_LEN = 25  # 203.0.113.128/25: RegionTwo's external network is the lower half
WAN_ADDRESSES = {"n1": "203.0.113.131", "n2": "203.0.113.132", "n3": "203.0.113.133",
                 "n4": "203.0.113.141", "n5": "203.0.113.142"}
BOOTH_ADDRESSES = {"site-a": "203.0.113.130", "site-b": "203.0.113.140"}
ARBITRATOR = "203.0.113.250"
WORLD = {REGIONS[0]: "198.51.100.201/24", REGIONS[1]: "203.0.113.101/25",
         "wan": "203.0.113.201/25"}
CONTAINER = "fractals"
BOOTH_USER, BOOTH_GROUP = "hacluster", "haclient"  # booth runs its handler as this user
CHECK_TAG = "fractal-region-check("  # its lines in a node's log (check_log)
Progress = Callable[[str], None]


class GeoLab:
    def __init__(self, directory: Path, prefix: str = PREFIX,
                 times: TicketTimes | None = None, topology: str = TOPOLOGIES[0]) -> None:
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology {topology!r}: one of {', '.join(TOPOLOGIES)}")
        self.dir = directory
        self.prefix = prefix
        self.times = times or TicketTimes()
        self.topology = topology
        if len(str(self.booth_config("site-a"))) > MAX_VALUE:
            raise ValueError(f"{directory}: too long for booth's {MAX_VALUE}-character values")
        self.cloud = Layout(state=directory / "cloud", venv=Layout().venv, netns_prefix=prefix)
        # Each site's cloud: one for both (`regions`), or site B's of its own (`clouds`).
        self.clouds = {"site-a": self.cloud, "site-b": self.cloud if topology == "regions" else
                       Layout(state=directory / "cloud-b", venv=self.cloud.venv,
                              netns_prefix=f"{prefix}b", accounts=PUBLIC_ACCOUNTS,
                              network_plan=REGIONS[1])}
        self.wan = f"{prefix}-wan"
        self.world = f"{prefix}-world"
        self.arbitrator = Arbitrator(f"{prefix}-arb", self.booth_dir / "arbitrator.conf",
                                     self.booth_dir / "arbitrator")
        self.dns = DnsServer(directory / "dns", address=ARBITRATOR,
                             prefix=("ip", "netns", "exec", self.arbitrator.netns))
        self.sites = {site: self._site(site) for site in SITES}

    @classmethod
    def open(cls, directory: Path, prefix: str = PREFIX) -> GeoLab:
        """The two-site lab `up` recorded in `directory` (its topology), or a new one."""
        try:
            saved = json.loads((directory / "geo.json").read_text())
        except (OSError, ValueError):
            return cls(directory, prefix)
        return cls(directory, saved.get("prefix", prefix),
                   topology=saved.get("topology", TOPOLOGIES[0]))

    def _site(self, site: str) -> Lab:
        cloud = self.clouds[site]
        if self.topology == "clouds":  # each site in a cloud of its own, its only region
            return self._site_in_own_cloud(site, cloud)
        region = SITES[site]
        lab = Lab(self.dir / site, SIZES[site], prefix=self.prefix, region=region,
                  cloud=cloud, wan=self._wan_of(ADDRESSING[region].nodes, site))
        # The site's own region everywhere: its floating IP and fencing as a member of the
        # project that owns the region's network and servers (RegionTwo's site project is
        # endpoint-filtered, since fence_openstack has no region option; RegionOne's project
        # lists both regions: README, "Fencing per site"), its store in its region with the
        # other as the peer whose lag it reports. Clients and workers use the name.
        peer = next(r for r in REGIONS if r != region)
        cloud = MEMBER_CLOUD if region == REGIONS[0] else site_cloud_name(region)
        lab.service = dataclasses.replace(
            lab.service, address=SERVICE_NAME, cloud=cloud,
            store_url=f"swift://{REGIONS_CLOUD}/{CONTAINER}?region={region}&peer={peer}",
            address_params=f"cloud={cloud} floating_ip={lab.address} network=fractal")
        return lab

    def _site_in_own_cloud(self, site: str, cloud: Layout) -> Lab:
        """Everything in the site's own cloud, as its member: floating IP, fencing, store (no
        peer: the nodes hold no credentials of the other cloud, whose copy they cannot read)."""
        lab = Lab(self.dir / site, SIZES[site], prefix=self.prefix, cloud=cloud,
                  wan=self._wan_of(ADDRESSING[cloud.plan].nodes, site))
        lab.service = dataclasses.replace(
            lab.service, address=SERVICE_NAME,
            store_url=f"swift://{MEMBER_CLOUD}/{CONTAINER}?region={lab.region}")
        return lab

    def _wan_of(self, every: dict[str, str], site: str) -> Wan:
        nodes = list(every)[:SIZES[site]]
        return Wan(self.wan, {n: f"{WAN_ADDRESSES[n]}/{WAN_PREFIX_LEN}" for n in nodes},
                   ARBITRATOR)

    # -- where things are ---------------------------------------------------------------
    @property
    def booth_dir(self) -> Path:
        return self.dir / "booth"

    def booth_config(self, site: str) -> Path:
        """Each site's copy of the one configuration: booth-site finds its daemon by name."""
        return self.booth_dir / f"{site}.conf"

    @property
    def handler(self) -> Path:
        return self.dir / "bin" / "fractal-region-check"

    @property
    def claimer(self) -> Path:
        return self.dir / "bin" / "fractal-ticket-claim"

    def config(self) -> BoothConfig:
        return BoothConfig(tuple(BOOTH_ADDRESSES.values()), (ARBITRATOR,),
                           make_authfile(self.booth_dir / "booth.key"), self.times,
                           str(self.handler))

    def namespaces(self) -> list[str]:
        return [*(ns for lab in self.sites.values() for ns in lab.namespaces()), self.wan,
                self.world, self.arbitrator.netns]

    # -- up ------------------------------------------------------------------------------
    def up(self, progress: Progress = lambda _: None) -> None:
        from cluster.openstack import cloud, peer_clouds, regions

        self._claim()
        if self.topology == "regions":
            cloud.up(self.cloud, say=lambda line: progress(f"cloud: {line}"))
            regions.up(self.cloud, say=lambda line: progress(f"cloud: {line}"))
            regions.pair(self.cloud, CONTAINER)
            progress(f"container {CONTAINER!r} in both regions, synced both ways")
        else:
            peer_clouds.up(self.clouds["site-a"], CLOUD_NAMES["site-a"], self.clouds["site-b"],
                           CLOUD_NAMES["site-b"], CONTAINER, progress)
        self._third_place()
        self._install_commands()
        config = self.config()
        config.write(self.arbitrator.config)
        self._one_token()
        for site, lab in self.sites.items():
            config.write(self.booth_config(site))
            lab.boot(lambda line, s=site: progress(f"{s}: {line}"))
            self._site_settings(site)
        self.arbitrator.start()
        self.dns.start()
        progress(f"arbitrator and DNS server up at {ARBITRATOR} ({self.arbitrator.netns})")
        for site, lab in self.sites.items():
            lab.wait_formed()
            lab.configure(lambda crm, s=site: crm + self._site_cib(s))
            progress(f"{site}: cluster formed, service configured")

    def _claim(self) -> None:
        probe = Lab(self.dir, 1, prefix=self.prefix)  # the prefix's owner, as labs record it
        if other_dir := probe.owned_elsewhere():
            raise LabError(f"the prefix {self.prefix!r} belongs to the lab in {other_dir}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # booth's handler runs as hacluster: it reads files in here
        (self.dir / "geo.json").write_text(json.dumps({"prefix": self.prefix,
                                                       "topology": self.topology}))
        OWNERS.mkdir(parents=True, exist_ok=True)
        (OWNERS / self.prefix).write_text(f"{self.dir.resolve()}\n")

    def _third_place(self) -> None:
        """The WAN, the arbitrator's namespace on it, and the world's client with a leg on
        each region's external network and the WAN."""
        netns.make_switch(self.wan)
        netns.add(self.arbitrator.netns)
        netns.plug(self.arbitrator.netns, self.wan, "wan0", "arb",
                   [f"{ARBITRATOR}/{WAN_PREFIX_LEN}"])
        netns.add(self.world)
        for index, lab in enumerate(self.sites.values()):
            net = RouterNetwork.of(lab.cloud)  # the site's region's (or cloud's) network
            netns.plug(self.world, net.external_switch, f"eth{index}", "world",
                       [WORLD[lab.cloud.plan]])
        netns.plug(self.world, self.wan, "wan0", "world", [WORLD["wan"]])

    def _one_token(self) -> None:
        """One service, one API token: the same 0600 file at both sites (clients and workers
        carry it whichever site the name points at)."""
        first, *others = self.sites.values()
        token = api_token.make(first.token_file).read_text()
        for lab in others:
            lab.fractal_etc.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(lab.token_file, token)

    def _install_commands(self) -> None:
        """booth's handler and the claimer, run from this checkout (the package installs them
        as /usr/bin/fractal-region-check and fractal-ticket-claim)."""
        from resource_agents.install import launcher

        for path, module in ((self.handler, "resource_agents.geo.region_check"),
                             (self.claimer, "resource_agents.geo.ticket_claim")):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(launcher(module))
            path.chmod(0o755)

    def check_log(self, site: str, lines: int = 40) -> str:
        """The region check's last lines on each of the site's nodes: booth runs it with
        Pacemaker's HA_LOGFILE (the lab's nodes run no syslog), so in Pacemaker's log."""
        found = []
        for node in self.sites[site].nodes:
            with contextlib.suppress(OSError):
                text = (node.dir / "var-log-pacemaker" / "pacemaker.log").read_text(
                    errors="replace")
                mine = [line for line in text.splitlines() if CHECK_TAG in line][-lines:]
                found.append(f"-- {node.name}:\n" + "\n".join(mine))
        return "\n".join(found)

    def _site_settings(self, site: str) -> None:
        """The site's /etc/fractal/api.toml (what the region check and the claimer read), the
        check's clouds.yaml readable by booth's group, and its state directory."""
        from cluster.openstack import clouds
        from fractal_service.store import swift_url

        lab = self.sites[site]
        # The nodes' /etc/fractal, as a package leaves it: 0755 with its secrets 0600 inside.
        lab.fractal_etc.chmod(0o755)
        state = lab.dir / "region-check"
        state.mkdir(exist_ok=True)
        _for_booth(state, 0o700)
        check_clouds = lab.fractal_etc / "region-check-clouds.yaml"
        store_cloud = swift_url.parse(lab.service.store_url).cloud
        check_clouds.write_text(clouds.member_only(lab.cloud, (store_cloud,)))
        _for_booth(check_clouds, 0o640)
        # Two clouds: the site's Keystone is its own cloud's, its loss counts against the site.
        own_keystone = "true" if self.topology == "clouds" else "false"
        (lab.fractal_etc / "api.toml").write_text(
            f'store = "{lab.service.store_url}"\n'
            f"[region_check]\nstate_dir = \"{state}\"\n"
            f'clouds_yaml = "/etc/fractal/{check_clouds.name}"\n'
            f"own_keystone = {own_keystone}\n")

    def _site_cib(self, site: str) -> str:
        lab = self.sites[site]
        return (site_cib.booth(self.booth_config(site), BOOTH_ADDRESSES[site], "eth1",
                               WAN_PREFIX_LEN)
                + site_cib.claim(self.claimer,
                                 f"/etc/fractal/api.toml --booth-config "
                                 f"{self.booth_config(site)}",
                                 errlog="/var/log/fractal/ticket-claim.log")
                + site_cib.name(lab.address, self.dns, follows="fractal-ip")
                # The workers reach the API by the name: started once it points here. Started
                # beside the address instead, their processes slowed its start on the shared
                # cores (1.8 s against 0.5 s): the switchover's gap.
                + "order name-before-workers Optional: service-name fractal-workers "
                  "symmetrical=false\n"
                + site_cib.tickets("fractal-ip", "fractal-workers", "service-name"))

    # -- the ticket ----------------------------------------------------------------------
    def _asked(self, site: str) -> Node | None:
        """The site's first running node: whom to ask about the site (None: none runs)."""
        return next((n for n in self.sites[site].nodes if n.running), None)

    def booth(self, site: str, *args: str, check: bool = True) -> str:
        """`booth ARGS` for the site, from any of its running nodes: the client is told the
        site's booth address (-s); on a node without it, booth's client would pick a site of
        its own accord (it asked site A's for site B)."""
        node = self._asked(site)
        if node is None:
            raise NodeError(f"{site}: no node runs")
        return node.exec(["booth", *args[:1], "-s", BOOTH_ADDRESSES[site], "-c",
                          str(self.booth_config(site)), *args[1:]],
                         check=check, timeout=30).stdout

    def granted(self, site: str) -> bool:
        """The ticket as the site's own Pacemaker sees it (False if it cannot tell)."""
        node = self._asked(site)
        if node is None:
            return False
        done = node.exec(["crm_ticket", "--ticket", TICKET, "--get-attr", "granted"],
                         check=False, timeout=20)
        return done.returncode == 0 and done.stdout.strip() == "true"

    def grant(self, site: str) -> None:
        self.booth(site, "grant", TICKET)

    def revoke(self, site: str) -> None:
        self.booth(site, "revoke", TICKET)

    def serve_from(self, site: str, timeout: float = 120.0) -> float:
        """The ticket at `site` (revoked elsewhere first), its service answering by the name;
        returns the seconds it took."""
        began = time.monotonic()
        self.move_ticket(site, timeout)
        wait(lambda: self.name_points_at() == [self.sites[site].address], timeout,
             f"the name at {site}")
        wait(lambda: (answer := self.request("GET", "/readyz")) and answer.status == 200,
             timeout, f"the API by its name, at {site}")
        return time.monotonic() - began

    def move_ticket(self, site: str, timeout: float = 120.0) -> None:
        """The ticket revoked elsewhere (once that site's address is off), granted to `site`."""
        for elsewhere in SITES:
            if elsewhere != site and self.granted(elsewhere):
                self.revoke(elsewhere)
                # Its own Pacemaker's word that the address is off (at once), not a probe's
                # timeout: the switchover's gap is what clients see.
                wait(lambda e=elsewhere: not self.runs_address(e), timeout,
                     f"{elsewhere} to stop", interval=0.1)
        # Right after a revoke a grant may fail until every member has heard of it: again.
        wait(lambda: self.granted(site) or self._try_grant(site), timeout,
             f"the ticket granted to {site}", interval=0.1)

    def reset(self, holder: str = "site-a") -> float:
        """Both sites up and on the WAN, their failures forgotten, the service at `holder`
        (serve_from's seconds)."""
        for site, lab in self.sites.items():
            self.cut(site, cut=False)
            if not all(n.running for n in lab.nodes):
                self.boot_site(site)
            lab.nodes[0].exec(["crm_resource", "--cleanup"], check=False)
        return self.serve_from(holder)

    def _try_grant(self, site: str) -> bool:
        try:
            self.grant(site)
        except NodeError:
            time.sleep(0.2)
            return False
        return True

    def region_check(self, site: str) -> tuple[int, str]:
        """booth's handler run by hand on one of the site's nodes, as booth's user: would the
        site take the ticket now? (exit code, what it logged)"""
        node = self._asked(site)
        if node is None:
            raise NodeError(f"{site}: no node runs")
        done = node.exec(["runuser", "-u", BOOTH_USER, "--", "env", "HA_LOGFACILITY=none",
                          str(self.handler)], check=False, timeout=30)  # its log on stderr
        return done.returncode, done.stdout + done.stderr

    def runs_address(self, site: str) -> bool:
        """The site's own Pacemaker runs its floating IP (asked of its first running node;
        False when none runs)."""
        node = self._asked(site)
        state = node.cluster_state() if node is not None else None
        return state is not None and bool(state.where("fractal-ip"))

    # -- the client's view ---------------------------------------------------------------
    def name_points_at(self) -> list[str]:
        return self.dns.resolve(SERVICE_NAME)

    def site_at(self, address: str) -> str | None:
        return next((s for s, lab in self.sites.items() if lab.address == address), None)

    def client(self, method: str, path: str, body: dict | None = None, timeout: float = 3.0,
               headers: dict[str, str] | None = None) -> dict | None:
        """By the name, as Lab.client: the answer's JSON, None if none (or an error)."""
        answer = self.request(method, path, body=body, timeout=timeout, headers=headers)
        return answer.json() if answer is not None and answer.status < 400 else None

    def request(self, method: str, path: str, *, site: str | None = None,
                body: dict | None = None, timeout: float = 3.0,
                headers: dict[str, str] | None = None,
                anonymous: bool = False) -> http_client.Answer | None:
        """From the world's client: to `site`'s floating IP, or by the name (what it resolves
        to now). It carries the API's token (the same at both sites) unless `anonymous`."""
        if site is None:
            found = self.name_points_at()
            if len(found) != 1:
                return None
            address = found[0]
        else:
            address = self.sites[site].address
        lab = self.sites[site or self.site_at(address) or "site-a"]  # any: one token
        return http_client.request(
            ["ip", "netns", "exec", self.world], method,
            f"http://{address}:{lab.service.api_port}{path}", body, timeout=timeout,
            headers=headers, token_file=None if anonymous else lab.token_file)

    def serving(self, site: str) -> bool:
        """The site's floating IP answers /healthz from the world."""
        answer = self.request("GET", "/healthz", site=site, timeout=1.0, anonymous=True)
        return answer is not None and answer.status == 200

    # -- faults --------------------------------------------------------------------------
    @contextlib.contextmanager
    def cloud_lost(self, site: str) -> Iterator[None]:
        """`site` crashed and every API of its cloud answering 503 (topology `clouds`: the
        cloud is the site's alone); the APIs answer again on leaving, the nodes stay down."""
        if self.topology != "clouds":
            raise LabError(f"a whole cloud lost needs topology clouds, not {self.topology}")
        cloud = self.clouds[site]
        try:
            for service in SERVICES:
                control.inject(cloud, service, error_rate=1.0, error_status=503)
            self.crash_site(site)
            yield
        finally:
            control.clear(cloud)

    def crash_site(self, site: str) -> None:
        for node in self.sites[site].nodes:
            node.crash()

    def boot_site(self, site: str) -> None:
        """The site's nodes booted, until its cluster has settled: a site back from a crash
        finds its floating IP still associated with its port (nobody could disassociate it in
        its cloud while it was down); its first probe reports the address running and, the
        ticket not granted there, Pacemaker stops it (~1 s here)."""
        lab = self.sites[site]
        for node in lab.nodes:
            if not node.running:
                lab.boot_node(node)
        lab.wait_formed()
        lab.settle()

    def cut(self, site: str, cut: bool = True) -> None:
        """Unplug (or plug back) the site's WAN cables at the switch: cut off from the other
        site and the arbitrator, its region and its clients still there."""
        for node in self.sites[site].nodes:
            netns.set_link(self.wan, f"{node.name}-wan", up=not cut)

    # -- down ----------------------------------------------------------------------------
    def down(self) -> None:
        from cluster.openstack import cloud

        for lab in self.sites.values():
            if lab.owned_elsewhere():
                raise LabError(f"the namespaces {self.prefix}-* are another lab's")
        for lab in self.sites.values():
            lab.down()
        self.arbitrator.stop()
        self.dns.stop()
        for layout in dict.fromkeys(self.clouds.values()):
            cloud.down(layout)
        for name in self.namespaces():
            netns.delete(name)
        (self.dir / "geo.json").unlink(missing_ok=True)
        owner = OWNERS / self.prefix
        if owner.exists() and Path(owner.read_text().strip()) == self.dir.resolve():
            owner.unlink()


def _for_booth(path: Path, mode: int) -> None:
    """Owned by booth's user (files 0640: root's, readable by booth's group)."""
    uid = 0 if mode == 0o640 else pwd.getpwnam(BOOTH_USER).pw_uid
    os.chown(path, uid, grp.getgrnam(BOOTH_GROUP).gr_gid)
    path.chmod(mode)

