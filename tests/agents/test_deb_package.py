"""The Debian package (scripts/build-deb.sh): built once from the tree, then installed as an
operator would into a clean Debian 12 root (tests/support/debian_root.py: debootstrap's minbase,
chrooted), `apt install ./fractal-ha_*.deb` taking pacemaker, corosync, resource-agents and
python3 from Debian's mirror. Without recommends: what the package needs is in its Depends.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import package as deb_package
from tests.support import debian_root
from tests.support.processes import free_port

AGENTS = "/usr/lib/ocf/resource.d/fractal"
VENV = "/opt/fractal-ha"


@pytest.fixture(scope="module")
def deb() -> Path:
    """scripts/build-deb.sh's package for this tree, built once (cluster/package.py caches it
    for the Vagrant box too)."""
    return deb_package.build()


@pytest.fixture(scope="module")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[debian_root.Root]:
    """A clean Debian 12 root with the package installed by apt (the tests below share it; the
    removal is the module's last test)."""
    with debian_root.clean_root(tmp_path_factory.mktemp("debian12")) as root:
        start = time.monotonic()
        (root.path / "tmp" / deb.name).write_bytes(deb.read_bytes())
        update = root.run(["apt-get", "update", "-q"])
        assert update.returncode == 0, update.stdout + update.stderr
        done = root.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                         f"/tmp/{deb.name}"], timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        print(f"apt install into a clean root: {time.monotonic() - start:.0f} s")
        yield root


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd="/",
                          env={"PATH": "/usr/sbin:/usr/bin:/bin", **env})


def test_the_package_declares_what_a_cluster_node_needs(deb: Path) -> None:
    depends = run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    for package in ("pacemaker", "pacemaker-cli-utils", "corosync", "resource-agents", "python3"):
        assert package in depends
    files = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in (f"{AGENTS}/api", f"{AGENTS}/worker", f"{AGENTS}/floating-ip",
                 f"{AGENTS}/exporter", "/usr/bin/fractal-api", "/etc/fractal/api.toml",
                 "/usr/bin/fractal-region-check", "/usr/bin/fractal-ticket-claim",
                 "/usr/lib/sysctl.d/60-fractal-api.conf",
                 "/lib/systemd/system/fractal-ha-exporter.service",
                 "/usr/share/fractal-ha/crm/fractal.crm",
                 "/usr/share/fractal-ha/prometheus/alerts.yml",
                 "/usr/share/fractal-ha/prometheus/grafana-dashboard.json"):
        assert f".{path}" in files, path
    assert "site-packages/cluster/" not in files  # the lab stays in the checkout


def test_commands_and_metadata_run_in_a_clean_root(installed: debian_root.Root) -> None:
    status = installed.run(["dpkg-query", "-W", "-f", "${Status}", "fractal-ha"])
    assert status.stdout == "install ok installed", status.stdout + status.stderr
    for command in ("fractal-api", "fractal-region-check", "fractal-ticket-claim"):
        where = installed.run([command, "--help"])
        assert where.returncode == 0 and f"usage: {command}" in where.stdout, where.stderr
    # Pacemaker's own tool finds the agent and runs it (crm_resource: pacemaker-cli-utils,
    # which the exporter needs too, a dependency and not a recommendation).
    shown = installed.run(["crm_resource", "--show-metadata", "ocf:fractal:floating-ip"])
    assert shown.returncode == 0 and 'resource-agent name="floating-ip"' in shown.stdout, \
        shown.stdout + shown.stderr


def test_ocf_tester_passes_for_the_packaged_api(installed: debian_root.Root) -> None:
    # ocf-tester's own xmllint (resource-agents only suggests it): the tester's, not ours.
    tool = installed.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                          "libxml2-utils"])
    assert tool.returncode == 0, tool.stdout[-2000:] + tool.stderr
    work = installed.path / "var/tmp/ocf-tester"
    work.mkdir(mode=0o755)
    result = installed.run(
        ["ocf-tester", "-n", "fractal-api", "-o", f"port={free_port()}",
         "-o", "bind_address=127.0.0.1", "-o", "data_dir=/var/tmp/ocf-tester/data",
         "-o", "log_file=/var/tmp/ocf-tester/api.log", "-o", "allow_local_store=true",
         "/usr/lib/ocf/resource.d/fractal/api"], HA_RSCTMP="/var/tmp/ocf-tester")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout


def test_lintian_reports_no_error(deb: Path) -> None:
    # What the private virtualenv is (files in /opt, the wheels' own libraries) is overridden in
    # the package itself, each with its reason (scripts/deb_tree.py): anything else fails here.
    found = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", str(deb)])
    assert found.returncode == 0, found.stdout + found.stderr
    overrides = run(["dpkg-deb", "-c", str(deb)]).stdout
    assert "./usr/share/lintian/overrides/fractal-ha" in overrides


def test_apt_remove_leaves_no_agent(installed: debian_root.Root) -> None:
    # Last in the module: the root the tests above used.
    done = installed.run(["apt-get", "remove", "-y", "-q", "fractal-ha"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (installed.path / AGENTS.lstrip("/")).exists()
    assert not (installed.path / "usr/bin/fractal-api").exists()
    # Nothing the agents and commands wrote when they ran (byte-code is shipped): dpkg would
    # have left the directories it holds behind, and said so.
    assert not (installed.path / VENV.lstrip("/")).exists(), done.stdout
