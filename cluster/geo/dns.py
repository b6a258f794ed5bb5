"""The lab's authoritative DNS server for the name clients use across sites.

Debian's knot (3.2) serves one zone, and accepts RFC 2136 updates signed with one TSIG key:
the site holding the ticket points the name at its own floating IP with Debian's
ocf:heartbeat:dnsupdate (nsupdate -k KEYFILE). knot rather than bind9: one small
configuration file, no rndc key, the zone changed in its journal without rewriting the file.
The key lives in files readable by root only (knot's configuration, and the BIND-format key
file the agent's `keyfile` parameter names): never in the CIB.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cluster.openstack.daemons import Daemon
from cluster.private_file import write_private

ZONE = "fractal-ha.test"  # RFC 6761: .test never leaks to a real resolver
SERVICE_NAME = f"api.{ZONE}"
# Short, so clients follow a takeover quickly; the agent's own default is 300 s.
TTL_SECONDS = 5
KEY_NAME = "fractal-sites"
NAMESERVER_ADDRESS = "192.0.2.53"  # glue for the zone's NS record (RFC 5737)


@dataclass(frozen=True)
class DnsServer:
    """knotd serving ZONE on address:port, run from `home` (its configuration, zone, journal
    and log); `prefix` runs it elsewhere, e.g. ["ip", "netns", "exec", NS]."""

    home: Path
    address: str = "127.0.0.1"
    port: int = 53
    prefix: tuple[str, ...] = ()

    @property
    def key_file(self) -> Path:
        """The TSIG key in BIND's format: what nsupdate -k and dnsupdate's `keyfile` read."""
        return self.home / "tsig.key"

    @property
    def _daemon(self) -> Daemon:
        argv = [*self.prefix, "knotd", "-c", str(self.home / "knot.conf")]
        return Daemon("knotd", self.home, argv, probe=lambda: bool(self.resolve(f"ns.{ZONE}")))

    def _secret(self) -> str:
        """The TSIG secret, made once per server home (base64 of 32 random bytes)."""
        path = self.home / "tsig.secret"
        if not path.exists():
            write_private(path, base64.b64encode(secrets.token_bytes(32)).decode())
        return path.read_text().strip()

    def _configure(self) -> None:
        secret = self._secret()
        write_private(self.home / "knot.conf", f"""\
server:
    rundir: {self.home}
    listen: {self.address}@{self.port}
control:
    listen: {self.home}/knot.sock
database:
    storage: {self.home}  # the journal too: not /var/lib/knot, shared by every server
log:
  - target: stderr
    any: info
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: sites-update
    key: {KEY_NAME}
    action: update
template:
  - id: default
    storage: {self.home}
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:
  - domain: {ZONE}
    acl: sites-update
""")
        zone = self.home / f"{ZONE}.zone"
        if not zone.exists():  # kept across restarts: the journal holds the updates
            zone.write_text(f"$ORIGIN {ZONE}.\n$TTL {TTL_SECONDS}\n"
                            f"@ SOA ns hostmaster 1 60 60 3600 {TTL_SECONDS}\n"
                            f"@ NS ns\nns A {NAMESERVER_ADDRESS}\n")
        write_private(self.key_file,
                       f'key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};\n')

    def start(self, timeout: float = 20.0) -> None:
        """Idempotent; returns once the zone answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._configure()
        self._daemon.start(timeout)

    def stop(self) -> None:
        self._daemon.stop()

    def resolve(self, name: str, rtype: str = "A") -> list[str]:
        """The records of `name` as the server answers them now ([] for none or no answer)."""
        done = subprocess.run(
            [*self.prefix, "dig", "+short", "+time=1", "+tries=1", "-p", str(self.port),
             f"@{self.address}", name, rtype], capture_output=True, text=True, timeout=10)
        return sorted(done.stdout.split()) if done.returncode == 0 else []

    def update(self, lines: list[str], *, signed: bool = True) -> subprocess.CompletedProcess:
        """An RFC 2136 update (nsupdate's commands, without server/send), signed with the
        key unless `signed` is False."""
        script = "\n".join([f"server {self.address} {self.port}", *lines, "send", ""])
        argv = [*self.prefix, "nsupdate", *(["-k", str(self.key_file)] if signed else [])]
        return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=20)
