"""Real Swift (PyPI `swift`, in the services' virtualenv): proxy, account, container and object
servers on loopback, one replica on a plain directory (no block device: mount_check = false),
Keystone auth (authtoken + keystoneauth) in the proxy's pipeline.

Each server is Swift's own eventlet WSGI server with workers = 0 (one process, green threads):
one PID per server to start and stop, as for the others. Everything, swift.conf and the rings
included, lives in the state directory (`swift_dir`), never in the host's /etc/swift.
"""

from __future__ import annotations

import subprocess

from cluster.openstack import daemons, keystone
from cluster.openstack.layout import Layout

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


def _common(layout: Layout, port: int) -> str:
    home = layout.dir("swift")
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


def _storage_conf(layout: Layout, kind: str) -> str:
    return _common(layout, layout.ports()[f"swift-{kind}"]) + f"""
[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""


# Validated tokens kept in the proxy (one process: keystonemiddleware's in-memory cache) as a
# production proxy keeps them in memcached: without it every Swift call was also a Keystone
# call (~100 ms each on the lab, 3-4 per keyed creation), on a Keystone every node's services
# share. A revoked token thus works on Swift for up to this long, as with a real deployment's
# default (300 s); the store logs in again on a 401 whenever it comes.
SWIFT_TOKEN_CACHE_S = 300
PIPELINE = ("catch_errors gatekeeper healthcheck proxy-logging listing_formats authtoken "
            "keystoneauth copy slo dlo proxy-logging proxy-server")


def _proxy_conf(layout: Layout) -> str:
    return _common(layout, layout.ports()["object-store"]) + f"""
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


def configured(layout: Layout) -> bool:
    return (layout.dir("swift") / "object.ring.gz").exists()


def configure(layout: Layout) -> None:
    """swift.conf (hash prefix/suffix secret to this cloud), the servers' configuration, the
    device directory and the three rings (written last: their presence means configured)."""
    home = layout.dir("swift")
    (home / "devices" / "d1").mkdir(parents=True, exist_ok=True)
    (home / "swift_server.py").write_text(LAUNCHER)
    (home / "swift.conf").write_text(f"""[swift-hash]
swift_hash_path_prefix = {layout.secret("swift-hash-prefix")}
swift_hash_path_suffix = {layout.secret("swift-hash-suffix")}

[storage-policy:0]
name = Policy-0
default = yes
""")
    for kind in SERVERS:
        (home / f"{kind}-server.conf").write_text(_storage_conf(layout, kind))
    (home / "proxy-server.conf").write_text(_proxy_conf(layout))
    done = subprocess.run([layout.bin("python"), "-c", RINGS, str(home), str(PART_POWER),
                           *(f"{k}={layout.ports()[f'swift-{k}']}" for k in SERVERS)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"swift rings: {done.stderr.strip()[-400:]}")


def daemons_of(layout: Layout) -> list[daemons.Daemon]:
    """The storage servers first, then the proxy (in start order)."""
    home = layout.dir("swift")
    found = []
    for kind in (*SERVERS, "proxy"):
        port = layout.ports()["object-store" if kind == "proxy" else f"swift-{kind}"]
        # The proxy's /healthcheck; a storage server answers "/" with a 4xx once it serves.
        path = "/healthcheck" if kind == "proxy" else "/"
        found.append(daemons.Daemon(
            f"swift-{kind}", home / kind,
            [layout.bin("python"), str(home / "swift_server.py"), str(home / f"{kind}-server.conf"),
             f"{kind}-server"], health_url=f"http://127.0.0.1:{port}{path}"))
    return found
