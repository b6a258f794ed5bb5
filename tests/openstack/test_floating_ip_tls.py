"""ocf:fractal:floating-ip against the lab cloud's HTTPS endpoints (its own CA, as a company's
cloud behind a private CA): clouds.yaml's TLS settings hold for every call, the fast path's
included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cluster.openstack.layout import TLS_CLOUD
from tests.openstack.test_floating_ip_agent import holder, run
from tests.support.agents import AgentRunner

pytestmark = pytest.mark.openstack
OK, GENERIC, NOT_RUNNING = 0, 1, 7


@pytest.fixture
def over_tls(lab_cloud, ocf_root: Path, tmp_path: Path):
    """n1 and n2 with the TLS cloud entry (ports from port_map: the compute API is not needed)."""
    ports = lab_cloud.topology.ports
    runners = {}
    for node in ("n1", "n2"):
        runner = AgentRunner(ocf_root, "floating-ip", tmp_path / node, "fractal-fip", {
            "cloud": TLS_CLOUD, "clouds_yaml": str(lab_cloud.layout.clouds_yaml),
            "floating_ip": lab_cloud.topology.floating_ip,
            "port_map": f"n1:{ports['n1']} n2:{ports['n2']}"})
        runner.node = node
        runners[node] = runner
    yield runners
    for runner in runners.values():
        run(runner, "stop")


def clouds_yaml_with(lab_cloud, tmp_path: Path, **tls: object) -> str:
    """A copy of clouds.yaml whose TLS entry has `tls` in place of its cacert."""
    config = yaml.safe_load(lab_cloud.layout.clouds_yaml.read_text())
    entry = config["clouds"][TLS_CLOUD]
    entry.pop("cacert")
    entry.update(tls)
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_every_call_goes_over_https_with_the_private_ca(over_tls, lab_cloud) -> None:
    n1, n2 = over_tls["n1"], over_tls["n2"]
    assert run(n1, "monitor").rc == NOT_RUNNING
    started = run(n1, "start")
    assert started.rc == OK, started.stderr
    cache = json.loads((n1.rsctmp / "fractal-floating-ip-fractal-fip" / "session.json")
                       .read_text())
    assert cache["endpoint"].startswith("https://")  # Neutron's TLS twin, from the catalog
    assert cache["verify"].endswith("ca.pem")
    assert holder(lab_cloud) == "n1"
    assert run(n1, "monitor", OCF_RESKEY_CRM_meta_interval="10000").rc == OK
    assert run(n2, "start").rc == OK
    assert run(n2, "stop").rc == OK
    assert holder(lab_cloud) is None


def test_an_unknown_ca_fails_start_safely_and_verify_false_is_honoured(over_tls, lab_cloud,
                                                                       tmp_path) -> None:
    n1 = over_tls["n1"]
    n1.params["clouds_yaml"] = clouds_yaml_with(lab_cloud, tmp_path)  # system CAs only
    assert run(n1, "monitor", OCF_RESKEY_CRM_meta_timeout="20000").rc == NOT_RUNNING
    failed = run(n1, "start", OCF_RESKEY_CRM_meta_timeout="20000")
    assert failed.rc == GENERIC and "SSL" in failed.reason, failed.stderr
    n1.params["clouds_yaml"] = clouds_yaml_with(lab_cloud, tmp_path, verify=False)
    started = run(n1, "start")
    assert started.rc == OK, started.stderr
    assert holder(lab_cloud) == "n1"
