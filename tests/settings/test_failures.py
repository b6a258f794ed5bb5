"""Bad values, etcd without quorum or out of reach, and the disk cache."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cluster.ports import free_port
from fractal_service.cli.main import main as fractal
from tests.settings.support import api, config, create, metric, readyz_settings, seconds_until
from tests.support.etcd_cluster import EtcdCluster

pytestmark = pytest.mark.etcd
SMALL = {"width": 16, "height": 16}


def _dump(etcd: EtcdCluster, prefix: str, capsys: pytest.CaptureFixture) -> dict:
    capsys.readouterr()
    assert config(etcd, prefix, "dump") == 0
    return json.loads(capsys.readouterr().out)["values"]


@pytest.mark.parametrize(("pairs", "named"), [
    (["lease_seconds=5", "limits.max_iterations=abc"], "limits.max_iterations"),
    (["lease_seconds=0"], "lease_seconds"),
    (["spare_threads=40"], "spare_threads"),  # with threads at its default, 32
    (["worker.concurrency=-1"], "worker.concurrency"),
    (["log_level=loud"], "log_level"),
    (["colour=red"], "colour"),
    (["limits=5"], "limits"),
])
def test_a_bad_value_is_refused_with_its_field_and_nothing_is_written(
        etcd: EtcdCluster, prefix: str, capsys: pytest.CaptureFixture,
        pairs: list[str], named: str) -> None:
    assert config(etcd, prefix, "set", "limits.max_iterations=100") == 0
    assert config(etcd, prefix, "set", *pairs) == 2
    assert named in capsys.readouterr().err
    assert _dump(etcd, prefix, capsys) == {"limits.max_iterations": "100"}


def test_get_set_unset(etcd: EtcdCluster, prefix: str, capsys: pytest.CaptureFixture) -> None:
    assert config(etcd, prefix, "set", "lease_seconds=12", "worker.concurrency=2") == 0
    capsys.readouterr()
    assert config(etcd, prefix, "get", "lease_seconds") == 0
    assert capsys.readouterr().out == "12\n"
    assert config(etcd, prefix, "unset", "lease_seconds") == 0
    assert config(etcd, prefix, "get", "lease_seconds") == 1
    assert _dump(etcd, prefix, capsys) == {"worker.concurrency": "2"}


def test_quorum_lost_the_service_runs_on_and_says_so_then_catches_up(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    assert config(etcd, prefix, "set", "limits.max_iterations=300") == 0
    server = api(tmp_path, etcd, prefix)
    server.start()
    try:
        etcd.stop_member(1)
        etcd.stop_member(2)
        seconds_until(lambda: readyz_settings(server)["etcd"] == "unreachable", 5,
                      "/readyz to report etcd unreachable")
        assert metric(server.url, "fractal_settings_etcd_up") == 0
        # Unaffected: the last good settings serve, the cap still holds.
        assert create(server, iterations=300, **SMALL).status_code == 201
        assert create(server, iterations=301, **SMALL).status_code == 400
        etcd.start()  # the two members back: quorum
        seconds_until(lambda: readyz_settings(server)["etcd"] == "up", 10, "etcd up again")
        assert metric(server.url, "fractal_settings_etcd_up") == 1
        assert config(etcd, prefix, "set", "limits.max_iterations=200") == 0
        seconds_until(lambda: create(server, iterations=250, **SMALL).status_code == 400, 1,
                      "a change after the quorum is back")
    finally:
        server.stop()


def test_a_change_made_while_a_process_was_cut_off_reaches_it_when_etcd_returns(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    server = api(tmp_path, etcd, prefix, urls=etcd.urls[0])  # knows one member only
    server.start()
    try:
        etcd.stop_member(0)
        seconds_until(lambda: readyz_settings(server)["etcd"] == "unreachable", 5,
                      "etcd unreachable")
        others = ",".join(etcd.urls[1:])
        assert config(etcd, prefix, "set", "limits.max_iterations=50", urls=others) == 0
        assert create(server, iterations=60, **SMALL).status_code == 201  # not seen yet
        etcd.start_member(0)
        seconds_until(lambda: create(server, iterations=60, **SMALL).status_code == 400, 10,
                      "the change made while cut off")
        # A member that just rejoined may fail a read or two more (each one says so).
        seconds_until(lambda: readyz_settings(server)["etcd"] == "up", 5, "etcd up again")
    finally:
        server.stop()


def test_a_process_started_while_etcd_is_down_uses_the_disk_cache(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    assert config(etcd, prefix, "set", "limits.max_iterations=70") == 0
    first = api(tmp_path, etcd, prefix, cache)
    first.start()
    first.stop()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    nowhere = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    server = api(tmp_path, etcd, prefix, cache, urls=nowhere)
    server.start()
    try:
        assert create(server, iterations=71, **SMALL).status_code == 400
        status = readyz_settings(server)
        assert (status["etcd"], status["origin"]) == ("unreachable", "cache")
        assert metric(server.url, "fractal_settings_from_cache") == 1
    finally:
        server.stop()


def test_a_corrupt_cache_is_discarded_with_a_log_line(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text('{"revision": 3, "values": {"limits.max_iter')
    server = api(tmp_path, etcd, prefix, cache, urls=f"https://127.0.0.1:{free_port()}")
    server.start()
    try:
        assert "discarded: corrupt" in server.output()
        assert not cache.exists()
        assert create(server, iterations=9000, **SMALL).status_code == 201  # the default cap
        assert readyz_settings(server)["origin"] == "none"
    finally:
        server.stop()


def test_etcd_speaks_tls_only_and_wants_a_client_certificate(
        etcd: EtcdCluster, prefix: str, capsys: pytest.CaptureFixture) -> None:
    ca = etcd.tls_args[:2]
    for tls in ([], ca):  # no CA: the members' certificates are not trusted; no client cert
        assert fractal(["config", "--etcd", etcd.option, "--etcd-prefix", prefix, *tls,
                        "dump"]) == 3
        assert "etcd unavailable" in capsys.readouterr().err
    assert config(etcd, prefix, "dump") == 0
