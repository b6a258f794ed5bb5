"""One job lease default and one range (fractal_service/lease.py), seen alike by the API's
setting, its OpenAPI document, fractal-api and fractal-worker's flag, the worker loop and both
OCF agents' `lease_seconds`."""

from __future__ import annotations

import pytest

from fractal_service import lease
from fractal_service.api import server
from fractal_service.api.openapi import document
from fractal_service.config import Settings
from fractal_service.worker import main as worker_main
from fractal_service.worker.runner import WorkerConfig
from resource_agents.agents.api import ApiAgent
from resource_agents.agents.worker import WorkerAgent


@pytest.mark.parametrize("agent", [ApiAgent, WorkerAgent])
def test_both_agents_offer_the_same_lease_parameter(agent: type) -> None:
    (param,) = [p for p in agent.parameters if p.name == "lease_seconds"]
    assert (param.default, param.minimum, param.maximum) == (
        lease.DEFAULT_SECONDS, lease.MIN_SECONDS, lease.MAX_SECONDS)


def test_the_service_uses_the_same_default_and_flag_name() -> None:
    assert Settings().lease_seconds == lease.DEFAULT_SECONDS
    assert WorkerConfig("w").lease_seconds == lease.DEFAULT_SECONDS
    # No flag: the settings' default (the flag, like fractal-api's, only overrides).
    assert worker_main._settings(worker_main.parse_args([])).lease_seconds == lease.DEFAULT_SECONDS
    # One flag name for one setting, on both commands.
    assert worker_main.parse_args(["--lease-seconds", "7"]).lease_seconds == 7
    assert server.parse_args(["--lease-seconds", "7"]).lease_seconds == 7


def test_the_openapi_document_states_the_range() -> None:
    schema = document(Settings())["components"]["schemas"]
    ranges = {(prop["minimum"], prop["maximum"])
              for body in schema.values() for name, prop in body.get("properties", {}).items()
              if name == "lease_seconds"}
    assert ranges == {(lease.MIN_SECONDS, lease.MAX_SECONDS)}


@pytest.mark.parametrize("value", [lease.MIN_SECONDS / 2, lease.MAX_SECONDS + 1])
def test_a_setting_outside_the_range_stops_the_api_at_load(value: float) -> None:
    # Claims without their own length get the setting; out of range, each would be refused.
    with pytest.raises(ValueError, match="lease_seconds"):
        Settings.from_mapping({"lease_seconds": value})
