"""OCF conformance, checked with Pacemaker's and resource-agents' own tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from resource_agents import install
from tests.support.processes import free_port

DTD_DIR = Path("/usr/share/resource-agents")
SYSTEM_AGENTS = "/usr/lib/ocf/resource.d/fractal"  # where Pacemaker looks (inside the view)


@pytest.mark.parametrize("agent", sorted(install.AGENTS))
def test_metadata_is_valid_against_ra_api_dtd(ocf_root: Path, agent: str) -> None:
    xml = subprocess.run([str(ocf_root / "resource.d/fractal" / agent), "meta-data"],
                         capture_output=True, check=True).stdout
    lint = subprocess.run(["xmllint", "--noout", "--valid", "-"], input=xml, cwd=DTD_DIR,
                          capture_output=True)
    assert lint.returncode == 0, lint.stderr.decode()
    doc = etree.fromstring(xml)
    actions = {a.get("name") for a in doc.iter("action")}
    assert {"start", "stop", "monitor", "validate-all", "meta-data", "reload-agent"} <= actions
    assert doc.find("version").text == "1.1"
    assert any(p.get("reloadable") == "1" for p in doc.iter("parameter"))


def test_ocf_tester_passes_for_the_api(in_ocf_view, tmp_path: Path) -> None:
    result = subprocess.run(in_ocf_view(
        ["ocf-tester", "-n", "fractal-api", "-o", f"port={free_port()}",
         "-o", "bind_address=127.0.0.1", "-o", f"data_dir={tmp_path / 'data'}",
         "-o", f"log_file={tmp_path / 'api.log'}", "-o", "allow_local_store=true",
         f"{SYSTEM_AGENTS}/api"]),
        capture_output=True, text=True, timeout=180, env={"HA_RSCTMP": str(tmp_path),
                                                          "PATH": "/usr/sbin:/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout


def test_ocf_tester_passes_for_the_workers(in_ocf_view, tmp_path: Path, api) -> None:
    result = subprocess.run(in_ocf_view(
        ["ocf-tester", "-n", "fractal-workers", "-o", f"api_url={api.url}",
         "-o", f"log_file={tmp_path / 'w.log'}", f"{SYSTEM_AGENTS}/worker"]),
        capture_output=True, text=True, timeout=180, env={"HA_RSCTMP": str(tmp_path),
                                                          "PATH": "/usr/sbin:/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_crm_resource_shows_metadata_and_validates(in_ocf_view) -> None:
    shown = subprocess.run(in_ocf_view(["crm_resource", "--show-metadata", "ocf:fractal:api"]),
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and 'resource-agent name="api"' in shown.stdout
    validate = ["crm_resource", "--validate", "--class", "ocf", "--provider", "fractal",
                "--agent", "api", "--option"]
    good = subprocess.run(in_ocf_view([*validate, "port=8081", "--option",
                                       "store_url=swift://cloud/fractals"]),
                          capture_output=True, text=True, timeout=30)
    assert good.returncode == 0, good.stdout + good.stderr
    # As Pacemaker would run it: a node-local store is refused unless asked for.
    local = subprocess.run(in_ocf_view([*validate, "port=8081"]), capture_output=True,
                           text=True, timeout=30)
    assert local.returncode != 0 and "store_url is empty" in local.stdout + local.stderr
    bad = subprocess.run(in_ocf_view([*validate, "port=0"]), capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode != 0
    assert "port '0' must be >= 1" in bad.stdout + bad.stderr


def test_crm_ra_info_describes_the_agent(in_ocf_view) -> None:
    info = subprocess.run(in_ocf_view(["crm", "ra", "info", "ocf:fractal:worker"]),
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert "api_url*" in info.stdout  # crmsh marks required parameters with *
    assert "heartbeat_timeout" in info.stdout
