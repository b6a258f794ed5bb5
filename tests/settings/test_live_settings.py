"""The API and the workers follow their settings in a real three-member etcd, live."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.settings.support import (
    Worker,
    api,
    config,
    create,
    metric,
    readyz_settings,
    seconds_until,
)
from tests.support.etcd_cluster import EtcdCluster

pytestmark = pytest.mark.etcd
LIVE_WITHIN = 1.0  # seconds from the write to the changed behaviour (issue 21)


def test_a_lowered_cap_refuses_a_new_fractal_within_a_second(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    assert config(etcd, prefix, "set", "limits.max_iterations=600") == 0
    server = api(tmp_path, etcd, prefix)
    server.start()
    try:
        assert create(server, iterations=500, width=16, height=16).status_code == 201
        assert config(etcd, prefix, "set", "limits.max_iterations=400") == 0
        took = seconds_until(lambda: create(server, iterations=500, width=16,
                                            height=16).status_code == 400,
                             LIVE_WITHIN + 1, "the lowered cap")
        assert took < LIVE_WITHIN
        error = create(server, iterations=500, width=16, height=16).json()["error"]
        assert error["field"] == "iterations" and "<= 400" in error["message"]
        assert create(server, iterations=400, width=16, height=16).status_code == 201
        status = readyz_settings(server)
        assert status["etcd"] == "up" and status["origin"] == "etcd"
        assert metric(server.url, "fractal_settings_changes_applied_total") == 1
    finally:
        server.stop()


def test_store_slots_change_live_and_threads_wait_for_a_restart(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    server = api(tmp_path, etcd, prefix)
    server.start()
    try:
        # threads is gunicorn's: reported, not applied; spare_threads sets the store slots.
        assert config(etcd, prefix, "set", "threads=40", "spare_threads=31") == 0
        seconds_until(lambda: readyz_settings(server)["restart_pending"] == ["threads"],
                      LIVE_WITHIN, "threads reported as waiting for a restart")
        assert metric(server.url, 'fractal_settings_restart_pending{setting="threads"}') == 1
        # 32 running threads - 31 spare = 1 store slot
        seconds_until(lambda: metric(server.url, "fractal_store_slots") == 1, LIVE_WITHIN,
                      "one store slot")
        assert create(server, width=16, height=16).status_code == 201
    finally:
        server.stop()
    server = api(tmp_path, etcd, prefix)
    server.start()  # the restart takes threads=40
    try:
        assert readyz_settings(server)["restart_pending"] == []
        assert metric(server.url, "fractal_store_slots") == 40 - 31
    finally:
        server.stop()


def test_a_changed_concurrency_reaches_the_worker_within_a_second(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    server = api(tmp_path / "api", etcd, prefix)
    server.start()
    worker = Worker(tmp_path / "worker", server.url, etcd, prefix)
    try:
        worker.start()
        assert metric(worker.url, "fractal_worker_concurrency") == 1
        assert config(etcd, prefix, "set", "worker.concurrency=3") == 0
        took = seconds_until(lambda: metric(worker.url, "fractal_worker_concurrency") == 3,
                             LIVE_WITHIN + 1, "three render loops")
        assert took < LIVE_WITHIN
        assert config(etcd, prefix, "set", "worker.concurrency=2") == 0
        seconds_until(lambda: metric(worker.url, "fractal_worker_concurrency") == 2,
                      LIVE_WITHIN, "two render loops")
        # And they render: the API's queue drains through them.
        uuid = create(server, width=32, height=32).json()["uuid"]
        import requests

        seconds_until(lambda: requests.get(f"{server.url}/v1/fractals/{uuid}",
                                           timeout=5).json()["state"] == "done", 20, "done")
    finally:
        worker.stop()
        server.stop()


def test_settings_a_process_does_not_use_are_not_reported_as_waiting_for_its_restart(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    # [worker] is the workers' alone, the store slots the API's: neither waits for the other.
    server = api(tmp_path / "api", etcd, prefix)
    worker = Worker(tmp_path / "worker", "http://127.0.0.1:9", etcd, prefix)
    server.start()
    worker.start()
    try:
        assert config(etcd, prefix, "set", "worker.concurrency=2", "threads=40") == 0
        seconds_until(lambda: metric(worker.url, "fractal_worker_concurrency") == 2,
                      LIVE_WITHIN, "the worker's two render loops")
        seconds_until(lambda: readyz_settings(server)["restart_pending"] == ["threads"],
                      LIVE_WITHIN, "threads waiting for the API's restart")
        assert metric(worker.url, 'fractal_settings_restart_pending{setting="threads"}') is None
        assert metric(server.url, 'fractal_settings_restart_pending{setting="worker"}') is None
    finally:
        worker.stop()
        server.stop()
