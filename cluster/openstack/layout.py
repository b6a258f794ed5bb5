"""Where the lab cloud keeps everything, and how it is reached.

All state lives under one directory (`down` + `up` is a clean slate); the services' virtualenv
lives beside it as a cache that survives `down`. Ports are picked free at the first `up` and
recorded in the state directory, so two clouds (a user's and a test session's) never collide.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cluster.ports import free_port

DEFAULT_HOME = Path(os.environ.get("FRACTAL_OPENSTACK_DIR", "/var/lib/fractal-ha/openstack"))
HOST = "127.0.0.1"
REGIONS = ("RegionOne", "RegionTwo")
ADMIN_CLOUD = "fractal-lab-admin"
MEMBER_CLOUD = "fractal-lab"  # what the cluster's agents use: an ordinary project member
# The same member in both regions (`regions:` in clouds.yaml; openstacksdk refuses a region
# an entry does not list): the two-region store's (regions.py). Not the agents' entry: an
# entry with `regions` takes the floating-IP agent off its fast plain login path.
REGIONS_CLOUD = "fractal-lab-regions"
# The same member over HTTPS with the lab's own CA (tls.py): every public endpoint has a TLS
# twin (same backend, same faults), catalogued in a region of its own.
TLS_CLOUD = "fractal-lab-tls"
TLS_REGION = "RegionTLS"
# Every endpoint: Keystone and Neutron (real), compute and object-store (ours). Clients reach
# each one through its fault-injecting proxy; the backend port is the server's own.
SERVICES = ("keystone", "neutron", "compute", "object-store")
# Ports only the cloud itself uses: Swift's storage servers, behind its proxy (object-store).
INTERNAL = ("swift-account", "swift-container", "swift-object")
# Catalogued at the server's own port, without a fault proxy: only operators' clients use it
# (`openstack server list` asks Glance for image names); nothing of the cluster's does.
DIRECT = ("image",)
# Services each region runs a server of its own for: RegionOne's carry the plain names (the
# single-region cloud's), another region's are suffixed (`regional`).
PER_REGION = ("neutron", "compute")


def regional(name: str, region: str = REGIONS[0]) -> str:
    """`name` for `region`: a directory, port or fault name ("neutron-RegionTwo")."""
    return name if region == REGIONS[0] else f"{name}-{region}"


# RegionTwo's Swift (proxy and storage servers), Neutron and compute (regions.py starts them
# only where asked): their ports are reserved in every cloud all the same, since RegionOne's
# realm names RegionTwo's Swift proxy.
SECOND_REGION = tuple(regional(name, REGIONS[1])
                      for name in ("object-store", *INTERNAL, *PER_REGION))
# Every endpoint with a fault-injecting proxy: the fault names (`fractal-ha cloud fault`).
PROXIED = (*SERVICES, *(regional(name, REGIONS[1]) for name in PER_REGION))


@dataclass(frozen=True)
class Accounts:
    """Who is who in one cloud's Keystone: its administrator, and the member user the cluster's
    agents act as, in the project that owns the cluster's network and servers. An independent
    second cloud (the two-site lab's `clouds` topology) has names of its own."""

    admin: str = "admin"
    member: str = "fractal"
    project: str = "fractal"


@dataclass(frozen=True)
class Layout:
    state: Path = DEFAULT_HOME / "state"
    venv: Path = DEFAULT_HOME / "venv"
    netns_prefix: str = "fos"  # the router namespace and anything else we create in the kernel
    # The region whose per-region servers (PER_REGION), topology and router this layout names;
    # Keystone, the secrets, clouds.yaml and the ports file are the cloud's, shared.
    region: str = REGIONS[0]
    accounts: Accounts = Accounts()
    # Whose addresses (topology.ADDRESSING) this cloud's network uses, when not its region's:
    # an independent cloud beside another lab cloud takes the other plan's ranges.
    network_plan: str = ""
    _ports: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def at(cls, home: Path, **kwargs) -> Layout:
        return cls(state=home / "state", venv=home / "venv", **kwargs)

    def in_region(self, region: str) -> Layout:
        return dataclasses.replace(self, region=region, _ports=self._ports)

    @property
    def plan(self) -> str:
        """The key of this layout's addresses in topology.ADDRESSING."""
        return self.network_plan or self.region

    def described(self) -> dict:
        """What `Layout.of` needs to find this cloud again (a site's lab.json)."""
        return {"cloud": str(self.state), "cloud_prefix": self.netns_prefix,
                "accounts": dataclasses.asdict(self.accounts), "network_plan": self.network_plan}

    @classmethod
    def of(cls, saved: dict) -> Layout:
        return cls(state=Path(saved["cloud"]), venv=Layout().venv,
                   netns_prefix=saved["cloud_prefix"],
                   accounts=Accounts(**saved.get("accounts", {})),
                   network_plan=saved.get("network_plan", ""))

    def regional(self, name: str) -> str:
        """`name` for this layout's region (`regional`)."""
        return regional(name, self.region)

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def dir(self, name: str) -> Path:
        return self.state / name

    # -- ports ------------------------------------------------------------------------------
    def ports(self, avoid: Iterable[int] = ()) -> dict[str, int]:
        """{"keystone": backend, "keystone-proxy": public, ...}: chosen once, then recorded;
        `avoid`: ports another cloud has chosen but may not have bound yet."""
        if not self._ports:
            path = self.state / "ports.json"
            if path.exists():
                self._ports.update(json.loads(path.read_text()))
            names = [*SERVICES, *(f"{s}-proxy" for s in PROXIED), "faults", *INTERNAL,
                     *(f"{s}-tls" for s in SERVICES), *DIRECT, *SECOND_REGION]
            missing = [name for name in names if name not in self._ports]
            if missing:  # a new cloud, or one made before a service was added
                for name in missing:
                    self._ports[name] = free_port(HOST, taken={*self._ports.values(), *avoid})
                self.state.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(self._ports, indent=2))
        return self._ports

    def backend_url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports()[service]}"

    def public_url(self, service: str) -> str:
        """What the catalog and clouds.yaml say: the service's fault-injecting proxy."""
        return f"http://{HOST}:{self.ports()[f'{service}-proxy']}"

    def tls_url(self, service: str) -> str:
        """The HTTPS twin of public_url (the same proxy, TLS with the lab's CA)."""
        return f"https://{HOST}:{self.ports()[f'{service}-tls']}"

    def public_ports(self, every_region: bool = False) -> list[int]:
        """The ports of RegionOne's public_urls, in SERVICES order: what a client of the cloud
        connects to (the relays that bring the endpoints to the nodes and VMs listen on them).
        `every_region`: RegionTwo's too (its Neutron and compute proxies, its Swift)."""
        ports = [self.ports()[f"{s}-proxy"] for s in SERVICES]
        if every_region:
            second = REGIONS[1]
            ports += [self.ports()[f"{regional(s, second)}-proxy"] for s in PER_REGION]
            ports.append(self.ports()[regional("object-store", second)])
        return ports

    @property
    def keystone_url(self) -> str:
        return self.public_url("keystone") + "/v3"

    @property
    def faults_url(self) -> str:
        return f"http://{HOST}:{self.ports()['faults']}"

    # -- files ------------------------------------------------------------------------------
    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    @property
    def topology_json(self) -> Path:
        """This region's networks, ports and servers (topology.build)."""
        return self.state / f"{self.regional('topology')}.json"

    def secret(self, name: str) -> str:
        """A password generated once per cloud, kept 0600 in the state directory."""
        path = self.state / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(18))
        return path.read_text()
