"""Real Swift (PyPI `swift`, in the services' virtualenv): proxy, account, container and object
servers on loopback, one replica on a plain directory (no block device: mount_check = false),
Keystone auth (authtoken + keystoneauth) in the proxy's pipeline.

Each region has a Swift of its own (`Cluster`): RegionOne's is part of every lab cloud;
RegionTwo's only where asked (regions.py). Both are in one container-sync realm (REALM, one key):
their proxies carry the container_sync middleware before auth, and each runs the container-sync
daemon once both exist.

Each server is Swift's own eventlet WSGI server with workers = 0 (one process, green threads):
one PID per server to start and stop, as for the others. Everything, swift.conf and the rings
included, lives in the state directory (`swift_dir`), never in the host's /etc/swift.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cluster.openstack import daemons, keystone
from cluster.openstack.layout import REGIONS, Layout

SERVERS = ("account", "container", "object")  # the storage servers behind the proxy
PART_POWER = 6  # 64 partitions: plenty for one device

# Swift's daemon hygiene moves the process to / ; our daemons are known by their working
# directory (cluster.openstack.daemons), so the launcher keeps it and does the rest. Logs go
# to the console (stderr: the daemon's server.log): there is no syslog here.
LAUNCHER = """import os, sys
from swift.common import wsgi
wsgi.clean_up_daemon_hygiene = lambda: os.umask(0o22)
sys.exit(wsgi.run_wsgi(sys.argv[1], sys.argv[2], verbose=True))
"""

# The container-sync daemon, kept in its working directory like the servers.
SYNC_LAUNCHER = """import os, sys
from swift.common import daemon, utils
utils.clean_up_daemon_hygiene = lambda: os.umask(0o22)
utils.set_swift_dir(os.path.dirname(sys.argv[1]))  # as run_wsgi does: not /etc/swift
from swift.container.sync import ContainerSync
daemon.run_daemon(ContainerSync, sys.argv[1], section_name="container-sync", verbose=True)
"""
REALM = "fractal"  # the container-sync realm of the lab's regions
PEERS_FILE = "realm-peers.json"  # other clouds' Swifts in the realm (add_peer)
# Secrets (Layout.secret) every side of the realm holds alike: the realm's key, and the key of
# the synced containers (regions.pair, peer_clouds.pair)
REALM_SECRET, CONTAINER_SECRET = "swift-sync-realm", "swift-sync-key"
# Seconds between the sync daemon's passes (Swift's default 300): the lab's replication lag.
SYNC_INTERVAL_S = 1.0

RINGS = """import sys
from swift.common.ring import RingBuilder
swift_dir, part_power = sys.argv[1], int(sys.argv[2])
for arg in sys.argv[3:]:
    kind, port = arg.split("=")
    builder = RingBuilder(part_power, 1, 1)  # one replica, min_part_hours 1
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 1.0})
    builder.rebalance()
    builder.save(f"{swift_dir}/{kind}.builder")
    builder.get_ring().save(f"{swift_dir}/{kind}.ring.gz")
"""


@dataclass(frozen=True)
class Cluster:
    """One region's Swift: its directory, ports and realm cluster name."""

    layout: Layout
    region: str = REGIONS[0]

    @property
    def suffix(self) -> str:
        """RegionOne's names are the single-region lab's own (no suffix)."""
        return "" if self.region == REGIONS[0] else f"-{self.region}"

    @property
    def home(self) -> Path:
        return self.layout.dir("swift" + self.suffix)

    @property
    def name(self) -> str:
        """Its cluster name in the realm (container-sync-realms.conf)."""
        return self.region.lower()

    def port(self, kind: str) -> int:
        """kind: proxy, account, container or object."""
        base = "object-store" if kind == "proxy" else f"swift-{kind}"
        return self.layout.ports()[base + self.suffix]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port('proxy')}"


def clusters(layout: Layout) -> list[Cluster]:
    return [Cluster(layout, region) for region in REGIONS]


def _common(site: Cluster, port: int) -> str:
    home = site.home
    return f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = root
swift_dir = {home}
devices = {home}/devices
mount_check = false
disable_fallocate = true
log_level = INFO
"""


def _storage_conf(site: Cluster, kind: str) -> str:
    conf = _common(site, site.port(kind)) + f"""
[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""
    if kind == "container":
        conf += f"""
[container-sync]
interval = {SYNC_INTERVAL_S}
internal_client_conf_path = {site.home}/internal-client.conf
"""
    return conf


def _internal_client_conf(site: Cluster) -> str:
    """What the sync daemon reads local objects through (no memcache here)."""
    return f"""[DEFAULT]
swift_dir = {site.home}
user = root

[pipeline:main]
pipeline = catch_errors proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:proxy-logging]
use = egg:swift#proxy_logging
"""


def _realms_conf(layout: Layout) -> str:
    """Identical in every region: one realm, one key, every region's proxy, and the proxies of
    other clouds' Swifts in the realm (`add_peer`)."""
    lines = [f"[{REALM}]", f"key = {layout.secret(REALM_SECRET)}"]
    lines += [f"cluster_{c.name} = {c.url}/v1/" for c in clusters(layout)]
    lines += [f"cluster_{name} = {url}/v1/" for name, url in peers(layout).items()]
    return "\n".join(lines) + "\n"


def peers(layout: Layout) -> dict[str, str]:
    """Other clouds' Swift proxies in this cloud's realm: {cluster name: proxy URL}."""
    path = layout.state / PEERS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def peer_sync(layout: Layout) -> list[daemons.Daemon]:
    """The sync daemon pushing to other clouds' Swifts, where this cloud has peers."""
    return [sync_daemon(layout)] if peers(layout) else []


def add_peer(layout: Layout, name: str, url: str) -> None:
    """Another cloud's Swift proxy at `url` joins the realm as cluster `name`
    (peer_clouds.join); a name of this cloud's own regions is refused."""
    if name in {c.name for c in clusters(layout)}:
        raise ValueError(f"{name!r} names one of this cloud's own regions in the realm")
    layout.state.mkdir(parents=True, exist_ok=True)
    (layout.state / PEERS_FILE).write_text(json.dumps({**peers(layout), name: url}, indent=2))


# Validated tokens kept in the proxy (one process: keystonemiddleware's in-memory cache) as a
# production proxy keeps them in memcached: without it every Swift call was also a Keystone
# call (~100 ms each on the lab, 3-4 per keyed creation), on a Keystone every node's services
# share. A revoked token thus works on Swift for up to this long, as with a real deployment's
# default (300 s); the store logs in again on a 401 whenever it comes.
SWIFT_TOKEN_CACHE_S = 300
# container_sync before auth: a synced object arrives signed with the realm's key, no token
# (authtoken's delay_auth_decision lets it through).
PIPELINE = ("catch_errors gatekeeper healthcheck proxy-logging listing_formats container_sync "
            "authtoken keystoneauth copy slo dlo proxy-logging proxy-server")


def _proxy_conf(site: Cluster) -> str:
    layout = site.layout
    return _common(site, site.port("proxy")) + f"""
[pipeline:main]
pipeline = {PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
{keystone.authtoken_options(layout, 'swift', cache_seconds=SWIFT_TOKEN_CACHE_S)}
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member

[filter:container_sync]
use = egg:swift#container_sync

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
"""


def configured(layout: Layout, region: str = REGIONS[0]) -> bool:
    return (Cluster(layout, region).home / "object.ring.gz").exists()


def configure(layout: Layout, region: str = REGIONS[0]) -> None:
    """swift.conf (hash prefix/suffix secret to this cloud), the servers' configuration, the
    device directory and the three rings (written last: their presence means configured)."""
    site = Cluster(layout, region)
    home = site.home
    (home / "devices" / "d1").mkdir(parents=True, exist_ok=True)
    write_configuration(site)
    done = subprocess.run([layout.bin("python"), "-c", RINGS, str(home), str(PART_POWER),
                           *(f"{k}={site.port(k)}" for k in SERVERS)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"swift rings: {done.stderr.strip()[-400:]}")


def write_configuration(site: Cluster) -> bool:
    """Every file but the rings; True if one changed (a cloud made before a setting was)."""
    layout, home = site.layout, site.home
    before = {p.name: p.read_text() for p in home.glob("*.*") if p.suffix in (".conf", ".py")}
    (home / "swift_server.py").write_text(LAUNCHER)
    (home / "container_sync.py").write_text(SYNC_LAUNCHER)
    (home / "swift.conf").write_text(f"""[swift-hash]
swift_hash_path_prefix = {layout.secret("swift-hash-prefix" + site.suffix)}
swift_hash_path_suffix = {layout.secret("swift-hash-suffix" + site.suffix)}

[storage-policy:0]
name = Policy-0
default = yes
""")
    for kind in SERVERS:
        (home / f"{kind}-server.conf").write_text(_storage_conf(site, kind))
    (home / "proxy-server.conf").write_text(_proxy_conf(site))
    (home / "internal-client.conf").write_text(_internal_client_conf(site))
    realms = home / "container-sync-realms.conf"  # the realm key inside: owner only
    realms.touch(mode=0o600)
    realms.chmod(0o600)
    realms.write_text(_realms_conf(layout))
    after = {p.name: p.read_text() for p in home.glob("*.*") if p.suffix in (".conf", ".py")}
    return after != before


def daemons_of(layout: Layout, region: str = REGIONS[0]) -> list[daemons.Daemon]:
    """The storage servers first, then the proxy (in start order)."""
    site = Cluster(layout, region)
    home = site.home
    found = []
    for kind in (*SERVERS, "proxy"):
        # The proxy's /healthcheck; a storage server answers "/" with a 4xx once it serves.
        path = "/healthcheck" if kind == "proxy" else "/"
        found.append(daemons.Daemon(
            f"swift-{kind}{site.suffix}", home / kind,
            [layout.bin("python"), str(home / "swift_server.py"), str(home / f"{kind}-server.conf"),
             f"{kind}-server"], health_url=f"http://127.0.0.1:{site.port(kind)}{path}"))
    return found


def sync_daemon(layout: Layout, region: str = REGIONS[0]) -> daemons.Daemon:
    """swift-container-sync for this region's container server (pushes to the other region)."""
    site = Cluster(layout, region)
    return daemons.Daemon(
        f"swift-sync{site.suffix}", site.home / "container-sync",
        [layout.bin("python"), str(site.home / "container_sync.py"),
         str(site.home / "container-server.conf")])
