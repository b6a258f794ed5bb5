"""The name clients use across sites: the lab's knot zone, moved by Debian's unmodified
ocf:heartbeat:dnsupdate with a TSIG key from a 0600 file, as the site holding the ticket does."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.geo.dns import SERVICE_NAME, TTL_SECONDS, DnsServer
from cluster.ports import free_port

pytestmark = pytest.mark.geo

AGENT = "/usr/lib/ocf/resource.d/heartbeat/dnsupdate"
SITE_A = "203.0.113.10"  # each site's floating IP (RFC 5737)
SITE_B = "203.0.113.20"


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[DnsServer]:
    server = DnsServer(tmp_path / "dns", port=free_port())
    server.start()
    yield server
    server.stop()


def agent(action: str, dns: DnsServer, ip: str, **params: str) -> int:
    """Debian's dnsupdate agent as Pacemaker runs it: parameters in OCF_RESKEY_*; a monitor
    is the recurring one (the agent's probe always answers 7)."""
    interval = "10000" if action == "monitor" else "0"
    env = {"OCF_RESKEY_CRM_meta_interval": interval,
           "PATH": os.environ["PATH"], "OCF_ROOT": "/usr/lib/ocf",
           "OCF_RESOURCE_INSTANCE": "fractal-name", "OCF_RESKEY_hostname": SERVICE_NAME,
           "OCF_RESKEY_ip": ip, "OCF_RESKEY_ttl": str(TTL_SECONDS),
           "OCF_RESKEY_server": dns.address, "OCF_RESKEY_serverport": str(dns.port),
           "OCF_RESKEY_keyfile": str(dns.key_file),
           **{f"OCF_RESKEY_{k}": v for k, v in params.items()}}
    return subprocess.run([AGENT, action], env=env, capture_output=True, timeout=60).returncode


def test_the_name_follows_the_site_that_starts_it(dns: DnsServer) -> None:
    assert dns.resolve(SERVICE_NAME) == []
    assert agent("start", dns, SITE_A) == 0
    assert dns.resolve(SERVICE_NAME) == [SITE_A]
    assert agent("monitor", dns, SITE_A) == 0
    # The other site takes the ticket: its start replaces the record, never adds a second one.
    assert agent("start", dns, SITE_B) == 0
    assert dns.resolve(SERVICE_NAME) == [SITE_B]
    assert agent("monitor", dns, SITE_A) == 7
    # The old site's stop leaves the new site's record alone.
    assert agent("stop", dns, SITE_A) == 0
    assert dns.resolve(SERVICE_NAME) == [SITE_B]


def test_the_record_survives_a_restart_of_the_server(dns: DnsServer) -> None:
    assert agent("start", dns, SITE_A) == 0
    dns.stop()
    dns.start()
    assert dns.resolve(SERVICE_NAME) == [SITE_A]


def test_unsigned_and_wrongly_signed_updates_are_refused(dns: DnsServer, tmp_path: Path) -> None:
    assert agent("start", dns, SITE_A) == 0
    hijack = [f"update delete {SERVICE_NAME} A", f"update add {SERVICE_NAME} 5 A 192.0.2.66"]
    unsigned = dns.update(hijack, signed=False)
    assert unsigned.returncode != 0 and "NOTAUTH" in unsigned.stderr
    forged = tmp_path / "forged.key"
    forged.write_text('key "fractal-sites" { algorithm hmac-sha256; '
                      'secret "bm90IHRoZSBzaXRlcycga2V5IGF0IGFsbCwgMzIgYnl0ZXM="; };\n')
    assert agent("start", dns, "192.0.2.66", keyfile=str(forged)) != 0
    assert dns.resolve(SERVICE_NAME) == [SITE_A]


def test_the_key_is_in_files_only_root_reads(dns: DnsServer) -> None:
    for path in (dns.key_file, dns.home / "knot.conf", dns.home / "tsig.secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # A missing key file is a configuration error (6), named in one line.
    assert agent("start", dns, SITE_A, keyfile=str(dns.home / "absent.key")) == 6


def test_a_dns_server_outage_reads_as_not_running(dns: DnsServer) -> None:
    """The stock agent cannot tell an unreachable server from a moved name: its monitor
    answers 7 and its start fails. The site's CIB therefore makes the name depend on the
    service (colocated with it, started after it), never the service on the name, so a DNS
    outage costs a name update, not the service."""
    assert agent("start", dns, SITE_A) == 0
    dns.stop()
    assert agent("monitor", dns, SITE_A) == 7
    assert agent("start", dns, SITE_A) != 0
    assert agent("stop", dns, SITE_A) == 0  # a stop never needs the server
