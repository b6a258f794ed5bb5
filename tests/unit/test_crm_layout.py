"""fractal.crm's layout as crm_config.py renders it: an API on every node, the address with a
healthy one; requires=quorum only where it is safe (a stateless API on Object Storage, an
address Neutron keeps exclusive), fencing first for the rest."""

from __future__ import annotations

import re

from cluster.crm_config import ServiceConfig
from resource_agents.agents.api import HEALTH_ATTRIBUTE


def block(crm: str, head: str) -> str:
    """The (continued) crmsh statement that starts with `head`."""
    text = crm.replace("\\\n", " ")
    return next(" ".join(line.split()) for line in text.splitlines() if line.startswith(head))


LAB = ServiceConfig("198.51.100.10", store_url="swift://fractal-lab/fractals",
                    address_agent="ocf:fractal:floating-ip",
                    address_params="cloud=fractal-lab floating_ip=198.51.100.10")


def test_the_lab_layout_runs_the_api_everywhere_and_moves_only_the_address() -> None:
    crm = LAB.render()
    assert "meta requires=quorum " in block(crm, "primitive fractal-api ")
    assert block(crm, "clone fractal-api-clone ") == (
        "clone fractal-api-clone fractal-api meta interleave=true")
    address = block(crm, "primitive fractal-ip ")
    assert "meta requires=quorum allow-migrate=true " in address
    assert block(crm, "colocation ") == (
        "colocation fractal-ip-with-api inf: fractal-ip fractal-api-clone")
    # the address goes where an API serves (the agent's node attribute), with no order that
    # would hold its move behind the failed instance's restart
    assert block(crm, "location fractal-ip-where-api-serves ") == (
        "location fractal-ip-where-api-serves fractal-ip "
        f"rule -inf: not_defined {HEALTH_ATTRIBUTE} rule 1000: {HEALTH_ATTRIBUTE} eq 1")
    assert "order fractal-api-before-ip " not in crm
    assert not re.search(r"(?m)^group ", crm)
    # what is not traded away
    options = block(crm, "property ")
    assert "no-quorum-policy=stop" in options and "stonith-enabled=false" in options
    defaults = block(crm, "rsc_defaults ")
    assert "resource-stickiness=100" in defaults and "migration-threshold=3" in defaults
    # the workers keep the default (requires=fencing)
    assert "requires" not in block(crm, "primitive fractal-worker ")


def test_a_stateful_store_or_a_shared_network_address_waits_for_fencing() -> None:
    crm = ServiceConfig("192.0.2.100", allow_local_store=True).render()  # SQLite, IPaddr2
    assert "meta requires=fencing " in block(crm, "primitive fractal-api ")
    assert block(crm, "clone fractal-api-clone ").endswith("interleave=true clone-max=1")
    address = block(crm, "primitive fractal-ip ")
    assert "meta requires=fencing " in address and "allow-migrate" not in address
    # one instance: nowhere to move, so no rule, and the address starts after it
    assert block(crm, "order fractal-api-before-ip ") == (
        "order fractal-api-before-ip Optional: fractal-api-clone fractal-ip")
    assert not re.search(r"(?m)^location ", crm)


def test_fencing_stays_configured_with_requires_quorum() -> None:
    crm = ServiceConfig(LAB.address, store_url=LAB.store_url, address_agent=LAB.address_agent,
                        address_params=LAB.address_params, fencing=True).render(
        {"n1": "s1", "n2": "s2", "n3": "s3"})
    assert "stonith-enabled=true" in block(crm, "property ")
    assert block(crm, "primitive fence-openstack ").startswith(
        "primitive fence-openstack stonith:fence_openstack")


def test_the_api_stops_without_waiting_for_the_workers() -> None:
    """Failed before: the order's stop leg held a minority's API behind its workers' stop (up
    to their upload grace and a 10 s call each): campaign seed 301289 #85, the survivor of two
    crashed nodes kept its API 30 s without quorum (the workers' stop took 27.3 s). The
    workers reach the API through the service address, not their node's instance: only the
    start needs an order."""
    order = block(LAB.render(), "order fractal-api-before-workers ")
    assert order == ("order fractal-api-before-workers Optional: fractal-api-clone "
                     "fractal-workers symmetrical=false")
