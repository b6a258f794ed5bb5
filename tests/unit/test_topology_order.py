"""The lab cloud's topology takes the service's floating IP before the router's gateway draws
an address from the same pool (Neutron picks one at random: it drew 198.51.100.10 once in a
CI run, and the floating IP's creation answered 409 for every test on that cloud)."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from unittest import mock

from cluster.openstack import topology
from cluster.openstack.layout import REGIONS


class Recorder:
    """Any Neutron/Keystone call: recorded, answered with an object that has what build()
    reads."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            if name != "find_project" and name.startswith(("find_", "ips", "subnets")):
                return [] if name in ("ips", "subnets") else None
            gateway = {"external_fixed_ips": [{"ip_address": "198.51.100.42"}]}
            return SimpleNamespace(id=f"{name}-id", mac_address="fa:16:3e:00:00:01",
                                   external_gateway_info=gateway)
        return call


def test_the_floating_ip_is_taken_before_the_router_exists(tmp_path) -> None:
    calls: list[str] = []
    cloud = SimpleNamespace(network=Recorder(calls), identity=Recorder(calls))
    layout = mock.MagicMock(region=REGIONS[0], plan=REGIONS[0])
    # What follows the calls (the topology's file) is not this test's.
    with mock.patch.object(topology.clouds, "connect", return_value=cloud), \
            contextlib.suppress(Exception):
        topology.build(layout)
    assert "create_ip" in calls and "create_router" in calls, calls
    assert calls.index("create_ip") < calls.index("create_router"), calls
