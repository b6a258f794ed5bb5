"""The floating-IP agent's session cache: keyed by what it depends on, validated on read."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from resource_agents.openstack import neutron, session


def key(clouds_yaml: Path, **params: str) -> list:
    return session.cache_key(node="n1", cloud="c", clouds_yaml=str(clouds_yaml),
                             **{"floating_ip": "203.0.113.10", **params})


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds: {}\n")
    path = tmp_path / "state" / "session.json"
    session.save(str(path), session.Session("tok", time.time() + 3600, "http://x:9696", "fip",
                                            "203.0.113.10", "port", key(clouds)))
    return path, clouds


def test_a_valid_cache_is_reused(saved) -> None:
    path, clouds = saved
    found, problem = session.load(str(path), key(clouds))
    assert (found.token, problem) == ("tok", "")
    assert found.fresh() and not found.fresh(within=3600)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_none_is_not_a_problem(tmp_path: Path) -> None:
    assert session.load(str(tmp_path / "nothing.json"), []) == (None, "")


@pytest.mark.parametrize("change", [{"floating_ip": "203.0.113.11"}, {"network": "other"},
                                    {"port": "n1:p2"}, {"region": "RegionTwo"}])
def test_a_cache_made_for_other_parameters_is_discarded(saved, change) -> None:
    path, clouds = saved
    found, problem = session.load(str(path), key(clouds, **change))
    assert found is None and "other parameters" in problem


def test_an_edited_clouds_yaml_discards_the_cache(saved) -> None:
    path, clouds = saved
    clouds.write_text("clouds: {other: {}}\n")  # new credentials, CA or region
    assert session.load(str(path), key(clouds))[0] is None


@pytest.mark.parametrize("damage, words", [
    (lambda d: {**d, "expires_at": None}, "expires_at"),
    (lambda d: {**d, "expires_at": True}, "expires_at"),
    (lambda d: {**d, "port_id": 42, "endpoint": ["x"]}, "endpoint, port_id"),
    (lambda d: {k: v for k, v in d.items() if k != "key"}, "not a session record"),
    (lambda d: [d], "not a session record"),
])
def test_a_damaged_cache_is_discarded_with_a_reason(saved, damage, words) -> None:
    path, clouds = saved
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    found, problem = session.load(str(path), key(clouds))
    assert found is None and words in problem


def test_a_cache_that_is_not_json_is_discarded(saved) -> None:
    path, clouds = saved
    path.write_text("{not json")
    assert session.load(str(path), key(clouds)) == (None, "unreadable (JSONDecodeError)")


def test_the_search_path_never_includes_the_current_directory() -> None:
    assert all(p.startswith(("~/", "/etc/")) for p in session.SEARCH_PATH)
    assert session.find_clouds_yaml("/explicit/clouds.yaml") == "/explicit/clouds.yaml"


def test_tls_settings_make_the_context(tmp_path: Path) -> None:
    import ssl

    assert neutron.Tls().context().verify_mode == ssl.CERT_REQUIRED
    insecure = neutron.Tls(verify=False).context()
    assert (insecure.verify_mode, insecure.check_hostname) == (ssl.CERT_NONE, False)
    with pytest.raises(FileNotFoundError):
        neutron.Tls(verify=str(tmp_path / "missing-ca.pem")).context()
    assert asdict(session.Session("t", 0, "e", "f", "a", "p", [])).keys() >= {"verify", "cert"}
