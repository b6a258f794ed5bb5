"""fractal-region-check, booth's before-acquire handler (resource_agents/geo/), against a fake
cloud (tests/support/fake_cloud.py) failing, slow, or both: a site takes the ticket only if its
region serves; a holder lets go only after Object Storage failed for the grace, never for
Neutron alone, never because Keystone is gone; bad configuration refuses, with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from resource_agents.geo import region_check
from resource_agents.geo.region_check import BAD_CONFIG, LOGIN_FILE, REFUSE, STATE_FILE, TAKE
from tests.support.fake_cloud import FakeCloud, clouds_yaml


@pytest.fixture
def site(cloud: FakeCloud, clouds: Path, tmp_path: Path) -> Path:
    """The site API's settings: its store in RegionOne of the fake cloud, a 1 s grace."""
    config = tmp_path / "api.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n'
                      f'store = "swift://fake/fractal?region=RegionOne&config={clouds}"\n'
                      "[region_check]\ngrace_seconds = 1\nbudget_seconds = 2\n")
    return config


def run(config: Path, monkeypatch: pytest.MonkeyPatch, *, holder: bool) -> int:
    monkeypatch.setenv("HA_LOGFACILITY", "none")  # the log on stderr, for capsys
    monkeypatch.setenv("BOOTH_TICKET", "fractal-service")
    monkeypatch.setenv("BOOTH_TICKET_EXPIRES", str(int(time.time()) + (10 if holder else -5)))
    return region_check.main([str(config)])


def test_a_site_whose_region_serves_takes_the_ticket(site, cloud, monkeypatch, capsys) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.log == ["POST /identity/v3/auth/tokens", "HEAD /object/v1/AUTH_p1/fractal",
                         "GET /network/v2.0/networks"]
    assert "taking the ticket" in capsys.readouterr().err
    cloud.reset()  # the token is kept between runs: booth asks at every renewal
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.calls["identity"] == 0
    login = site.parent / "data" / LOGIN_FILE
    assert login.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("broken", ["object", "network"])
def test_a_site_whose_region_fails_refuses_the_ticket(site, cloud, monkeypatch, capsys,
                                                      broken) -> None:
    cloud.failing.add(broken)
    assert run(site, monkeypatch, holder=False) == REFUSE
    err = capsys.readouterr().err
    assert "refusing the ticket" in err and "answered 503" in err


def test_a_holder_lets_go_only_after_the_grace(site, cloud, monkeypatch, capsys) -> None:
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE  # a blip moves nothing
    assert "of a 1 s grace" in capsys.readouterr().err
    time.sleep(1.1)
    assert run(site, monkeypatch, holder=True) == REFUSE
    assert "giving the ticket up" in capsys.readouterr().err
    cloud.failing.clear()  # answering again: the count starts afresh
    assert run(site, monkeypatch, holder=True) == TAKE
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE


def test_a_holder_never_lets_go_for_neutron_alone(site, cloud, monkeypatch) -> None:
    cloud.failing.add("network")
    for _ in range(2):
        assert run(site, monkeypatch, holder=True) == TAKE
        time.sleep(0.6)
    assert cloud.calls["network"] == 0  # not even asked: it could not change the verdict


def test_keystone_gone_is_no_evidence_against_the_region(site, cloud, monkeypatch,
                                                         capsys) -> None:
    cloud.failing.add("identity")
    assert run(site, monkeypatch, holder=False) == TAKE
    assert "nothing is known of this region" in capsys.readouterr().err
    assert run(site, monkeypatch, holder=True) == TAKE


def test_with_a_cached_token_keystone_gone_still_lets_the_region_answer(site, cloud,
                                                                        monkeypatch) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.failing.update({"identity", "object"})
    assert run(site, monkeypatch, holder=False) == REFUSE


def test_a_refused_token_is_replaced_once(site, cloud, monkeypatch) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.revoke()
    cloud.reset()
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.log == ["HEAD /object/v1/AUTH_p1/fractal", "POST /identity/v3/auth/tokens",
                         "HEAD /object/v1/AUTH_p1/fractal", "GET /network/v2.0/networks"]


def test_a_region_slow_and_failing_is_judged_within_the_budget(site, cloud,
                                                               monkeypatch) -> None:
    """Swift answering 503 after 5 s: the check ends within its 2 s budget (booth renews
    every few seconds), the token's login included."""
    cloud.failing.add("object")
    cloud.delays.update({"object": 5.0, "identity": 0.3})
    started = time.monotonic()
    assert run(site, monkeypatch, holder=False) == REFUSE
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"store": 1, "failing_since": null}'])
def test_damaged_records_are_discarded_never_trusted(site, cloud, monkeypatch, capsys,
                                                     damage) -> None:
    data = site.parent / "data"
    data.mkdir()
    for name in (LOGIN_FILE, STATE_FILE):
        (data / name).write_text(damage)
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE  # the grace begins now, not before
    err = capsys.readouterr().err
    assert "login record" in err and "state file" in err and "discarded" in err
    assert json.loads((data / STATE_FILE).read_text())["failing_since"] is not None


def test_an_old_failure_of_another_store_does_not_count(site, cloud, monkeypatch) -> None:
    data = site.parent / "data"
    data.mkdir()
    (data / STATE_FILE).write_text(json.dumps({"store": "swift://other/x?region=R",
                                               "failing_since": time.time() - 600}))
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE


@pytest.mark.parametrize(("settings", "reason"), [
    ('store = "sqlite:///var/lib/fractal/fractals.db"\n', "is not Object Storage"),
    ('store = "swift://fake/fractal"\n', "names no region"),
    ('store = "swift://fake/fractal?region=RegionOne&config=/nonexistent.yaml"\n',
     "no clouds.yaml"),
    ("[region_check]\ngrace_seconds = -1\n", "must be positive"),
    ("store = \n", "bad configuration"),
])
def test_bad_configuration_refuses_with_one_line_why(tmp_path, monkeypatch, capsys, settings,
                                                     reason) -> None:
    config = tmp_path / "api.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n{settings}')
    assert run(config, monkeypatch, holder=False) == BAD_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0] and "refusing the ticket" in err[0]
    # A holder keeps the ticket: a typo in one file must not stop a serving site.
    assert run(config, monkeypatch, holder=True) == TAKE
    assert "keeping the ticket" in capsys.readouterr().err


def test_credentials_refused_are_bad_configuration(site, cloud, clouds, monkeypatch) -> None:
    entry = clouds_yaml(cloud)
    entry["clouds"]["fake"]["auth"]["password"] = "wrong"
    clouds.write_text(yaml.safe_dump(entry))
    assert run(site, monkeypatch, holder=False) == BAD_CONFIG


def test_the_command_never_prints_a_secret(site, cloud, tmp_path) -> None:
    """As booth runs it: the installed entry point, its environment only."""
    env = {**os.environ, "HA_LOGFACILITY": "none", "BOOTH_TICKET": "fractal-service"}
    env.pop("BOOTH_TICKET_EXPIRES", None)
    done = subprocess.run([sys.executable, "-m", "resource_agents.geo.region_check",
                           str(site)], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == TAKE, done.stderr
    token = json.loads((tmp_path / "data" / LOGIN_FILE).read_text())["token"]
    assert token not in done.stderr + done.stdout and "secret" not in done.stderr
    assert "fractal-region-check(fractal-service)" in done.stderr
