"""The store's replica beacon (fractal_service/store/replica.py) and its metrics, on fake
object-store adapters: the lab's two-region Swift runs it for real in tests/geo."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pytest
from prometheus_client.exposition import generate_latest

from fractal_service.api.metrics import ApiMetrics
from fractal_service.store import StoreError
from fractal_service.store.replica import WRITTEN, Replica
from fractal_service.store.sqlite import SqliteStore
from fractal_service.store.swift_url import parse


@dataclass
class Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSwift:
    """One region's object-store endpoint: objects by path, their headers."""

    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    down: bool = False

    def request(self, path: str, method: str, *, headers: dict | None = None,
                data: bytes | None = None, timeout: float, raise_exc: bool) -> Response:
        if self.down:
            raise ConnectionError("connection refused")
        if method == "PUT":
            self.objects[path] = dict(headers or {})
            return Response(201)
        if path in self.objects:
            return Response(200, self.objects[path])
        return Response(404)


def replica() -> tuple[Replica, FakeSwift, FakeSwift]:
    one, two = FakeSwift(), FakeSwift()
    return Replica(one, two, "fractals", "RegionOne", "RegionTwo", 1.0), one, two


def sync(source: FakeSwift, target: FakeSwift) -> None:
    target.objects.update(source.objects)


def test_the_age_is_that_of_the_newest_beacon_the_peer_holds() -> None:
    rep, one, two = replica()
    assert rep._measure() == math.inf  # nothing synced yet: the peer holds none
    assert "/fractals/sync/RegionOne" in one.objects
    sync(one, two)
    written = float(two.objects["/fractals/sync/RegionOne"][WRITTEN])
    time.sleep(0.05)
    age = rep._measure()
    assert age == pytest.approx(time.time() - written, abs=0.05) and age >= 0.05
    time.sleep(0.1)  # sync stopped: the age keeps growing though this side keeps writing
    assert rep._measure() >= age + 0.1


def test_an_unanswering_region_is_a_store_error() -> None:
    rep, _, two = replica()
    two.down = True
    with pytest.raises(StoreError, match="RegionTwo"):
        rep._measure()


def metrics_text(store) -> str:
    return generate_latest(ApiMetrics(store).registry).decode()


def test_metrics_report_the_replica_only_where_there_is_one(tmp_path) -> None:
    plain = SqliteStore(tmp_path / "f.db")
    assert "replica" not in metrics_text(plain)

    rep, _, two = replica()

    class Replicated(SqliteStore):
        replica_peer = "RegionTwo"

        def replica_age(self) -> float:
            return rep._measure()

    store = Replicated(tmp_path / "g.db")
    text = metrics_text(store)
    assert 'fractal_store_replica_up{peer="RegionTwo"} 1.0' in text
    assert 'fractal_store_replica_age_seconds{peer="RegionTwo"} +Inf' in text
    two.down = True
    text = metrics_text(store)
    assert 'fractal_store_replica_up{peer="RegionTwo"} 0.0' in text
    assert "fractal_store_replica_age_seconds" not in text


def test_a_peer_needs_this_sides_region() -> None:
    assert parse("swift://c/f?region=RegionOne&peer=RegionTwo").peer == "RegionTwo"
    assert parse("swift://c/f").peer is None
    with pytest.raises(ValueError, match="peer needs region"):
        parse("swift://c/f?peer=RegionTwo")
