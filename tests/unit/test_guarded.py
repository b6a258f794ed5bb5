"""resource_agents/geo/guarded.py: which floating IPs booth's ticket guards, from the CIB's
rsc_ticket constraints (one resource or resource sets; primitives, groups, clones), and
whether crm_mon shows each started."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from resource_agents.geo import guarded

CONSTRAINTS = ET.fromstring("""<constraints>
  <rsc_ticket id="a" ticket="fractal-service" rsc="web"/>
  <rsc_ticket id="b" ticket="fractal-service" loss-policy="stop">
    <resource_set id="b-set"><resource_ref id="workers"/><resource_ref id="name"/></resource_set>
  </rsc_ticket>
  <rsc_ticket id="c" ticket="another" rsc="elsewhere"/>
</constraints>""")

STATUS = ET.fromstring("""<resources>
  <group id="web" number_resources="2">
    <resource id="web-ip" resource_agent="ocf:fractal:floating-ip" role="Started"
     active="true" failed="false" nodes_running_on="1"/>
    <resource id="web-api" resource_agent="ocf:fractal:api" role="Started" active="true"
     failed="false" nodes_running_on="1"/>
  </group>
  <clone id="workers"><resource id="w" resource_agent="ocf:fractal:worker" role="Started"
   active="true" failed="false" nodes_running_on="1"/></clone>
  <resource id="elsewhere" resource_agent="ocf:fractal:floating-ip" role="Stopped"
   active="false" failed="false" nodes_running_on="0"/>
</resources>""")


def test_the_tickets_resources_by_rsc_and_by_resource_sets() -> None:
    assert guarded.guarded_ids(CONSTRAINTS, "fractal-service") == {"web", "workers", "name"}
    assert guarded.guarded_ids(CONSTRAINTS, "none") == set()


def test_the_floating_ips_inside_what_the_ticket_guards() -> None:
    found = guarded.floating_ips(STATUS, guarded.guarded_ids(CONSTRAINTS, "fractal-service"))
    assert [r.get("id") for r in found] == ["web-ip"]
    assert guarded.started(found[0])
    other = guarded.floating_ips(STATUS, {"elsewhere"})
    assert [r.get("id") for r in other] == ["elsewhere"] and not guarded.started(other[0])


def test_no_pacemaker_answer_means_not_in_place(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert guarded.address_in_place("fractal-service") is False
