"""The Debian package (scripts/build-deb.sh): built once from the tree (~2 min on 2 cores, most
of it compiling byte-code), then its files run where the package would put them.

Not a clean Debian root: its files are laid, in a private mount namespace, over /opt (a tmpfs)
and /usr/lib/ocf/resource.d of this host, whose python3, Pacemaker tools and ocf-tester are
the ones the package depends on. What runs there reads nothing of this checkout: the agents run
with -I -S and the package's site-packages only, the commands from the package's virtualenv.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cluster.lab import ocf_view
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
AGENTS = "/usr/lib/ocf/resource.d/fractal"
VENV = "/opt/fractal-ha"


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    done = subprocess.run(["bash", str(ROOT / "scripts/build-deb.sh"), str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True, timeout=300)
    return tree


@pytest.fixture(scope="module")
def as_installed(unpacked: Path) -> Callable[[list[str]], list[str]]:
    """argv → argv run where the package's files are where dpkg would put them."""
    lay = (f"mount -t tmpfs fractal-ha-opt /opt && mkdir {VENV} && "
           f"mount --bind {unpacked}{VENV} {VENV} && exec \"$@\"")
    return lambda argv: ["unshare", "--mount", "--propagation", "private", "bash", "-c", lay,
                         "lay", *ocf_view.command(unpacked / "usr/lib/ocf/resource.d", argv)[4:]]


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd="/",
                          env={"PATH": "/usr/sbin:/usr/bin:/bin", **env})


def test_the_package_declares_what_a_cluster_node_needs(deb: Path) -> None:
    depends = run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    for package in ("pacemaker", "corosync", "resource-agents", "python3"):
        assert package in depends
    files = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in (f"{AGENTS}/api", f"{AGENTS}/worker", f"{AGENTS}/floating-ip",
                 f"{AGENTS}/exporter", "/usr/bin/fractal-api", "/etc/fractal/api.toml",
                 "/lib/systemd/system/fractal-ha-exporter.service",
                 "/usr/share/fractal-ha/crm/fractal.crm",
                 "/usr/share/fractal-ha/prometheus/alerts.yml",
                 "/usr/share/fractal-ha/prometheus/grafana-dashboard.json"):
        assert f".{path}" in files, path
    assert "site-packages/cluster/" not in files  # the lab stays in the checkout


def test_commands_and_metadata_run_from_the_package(
        as_installed: Callable[[list[str]], list[str]], unpacked: Path) -> None:
    before = sorted(str(p) for p in unpacked.rglob("*"))
    where = run(as_installed([f"{VENV}/bin/python", "-c",
                              "import fractal_service, lxml; print(fractal_service.__file__)"]))
    assert where.returncode == 0 and where.stdout.startswith(f"{VENV}/lib/"), where.stderr
    assert run(as_installed([f"{VENV}/bin/fractal-api", "--help"])).returncode == 0
    shown = run(as_installed(["crm_resource", "--show-metadata", "ocf:fractal:floating-ip"]))
    assert shown.returncode == 0 and 'resource-agent name="floating-ip"' in shown.stdout
    # Byte-code shipped for every module: running wrote nothing into the package's files,
    # which `apt remove` would leave behind.
    assert sorted(str(p) for p in unpacked.rglob("*")) == before


def test_ocf_tester_passes_for_the_packaged_api(
        as_installed: Callable[[list[str]], list[str]], tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    result = run(as_installed(
        ["ocf-tester", "-n", "fractal-api", "-o", f"port={free_port()}",
         "-o", "bind_address=127.0.0.1", "-o", f"data_dir={tmp_path / 'data'}",
         "-o", f"log_file={tmp_path / 'api.log'}", "-o", "allow_local_store=true",
         f"{AGENTS}/api"]), HA_RSCTMP=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout


def test_lintian_reports_no_error(deb: Path) -> None:
    # What the private virtualenv is (files in /opt, the wheels' own libraries) is overridden in
    # the package itself, each with its reason (scripts/deb_tree.py): anything else fails here.
    found = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", str(deb)])
    assert found.returncode == 0, found.stdout + found.stderr
    overrides = run(["dpkg-deb", "-c", str(deb)]).stdout
    assert "./usr/share/lintian/overrides/fractal-ha" in overrides
