"""resource_agents/geo/guarded.py: which floating IPs booth's ticket guards, from the CIB's
rsc_ticket constraints (one resource or resource sets; primitives, groups, clones), and
whether crm_mon shows each started."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from resource_agents.geo import guarded
from resource_agents.metrics import crm_mon

CONSTRAINTS = ET.fromstring("""<constraints>
  <rsc_ticket id="a" ticket="fractal-service" rsc="web"/>
  <rsc_ticket id="b" ticket="fractal-service" loss-policy="stop">
    <resource_set id="b-set"><resource_ref id="workers"/><resource_ref id="ip2"/></resource_set>
  </rsc_ticket>
  <rsc_ticket id="c" ticket="another" rsc="elsewhere"/>
</constraints>""")


def status(ip2_role: str = "Started") -> list[crm_mon.ResourceState]:
    active = "true" if ip2_role == "Started" else "false"
    return crm_mon.parse(f"""<pacemaker-result><resources>
  <group id="web" number_resources="2">
    <resource id="web-ip" resource_agent="ocf:fractal:floating-ip" role="Started"
     active="true" failed="false" nodes_running_on="1"><node name="n1" id="1"/></resource>
    <resource id="web-api" resource_agent="ocf:fractal:api" role="Started" active="true"
     failed="false" nodes_running_on="1"><node name="n1" id="1"/></resource>
  </group>
  <clone id="workers"><resource id="w" resource_agent="ocf:fractal:worker" role="Started"
   active="true" failed="false" nodes_running_on="1"><node name="n2" id="2"/></resource></clone>
  <resource id="ip2" resource_agent="ocf:fractal:floating-ip" role="{ip2_role}"
   active="{active}" failed="false" nodes_running_on="{int(active == 'true')}">
   {'<node name="n2" id="2"/>' if active == "true" else ""}</resource>
  <resource id="elsewhere" resource_agent="ocf:fractal:floating-ip" role="Stopped"
   active="false" failed="false" nodes_running_on="0"/>
</resources></pacemaker-result>""").resources


def test_the_tickets_resources_by_rsc_and_by_resource_sets() -> None:
    assert guarded.guarded_ids(CONSTRAINTS, "fractal-service") == {"web", "workers", "ip2"}
    assert guarded.guarded_ids(CONSTRAINTS, "none") == set()


def test_every_floating_ip_the_ticket_guards_must_be_started() -> None:
    ids = guarded.guarded_ids(CONSTRAINTS, "fractal-service")
    found = guarded.floating_ips(status(), ids)
    assert sorted(r.id for r in found) == ["ip2", "web-ip"]  # inside a group, and alone
    assert all(guarded.started(r) for r in found)
    for role in ("Starting", "Stopped", "Stopping"):  # an address still being moved: not
        assert not all(guarded.started(r) for r in guarded.floating_ips(status(role), ids))
    other = guarded.floating_ips(status(), {"elsewhere"})
    assert [r.id for r in other] == ["elsewhere"] and not guarded.started(other[0])


def test_no_pacemaker_answer_means_not_in_place(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert guarded.address_in_place("fractal-service") is False
    assert guarded.address_in_place("") is False
