"""Settings from etcd without etcd: key names, what a change does, the disk cache."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from fractal_service.config import Settings
from fractal_service.settings.cache import ValuesCache
from fractal_service.settings.keys import key_of, name_of, to_mapping
from fractal_service.settings.live import LiveSettings


def test_keys_map_to_the_toml_names() -> None:
    assert key_of("limits.max_work") == "/fractal/config/limits/max_work"
    assert name_of("/fractal/config/limits/max_work") == "limits.max_work"
    assert to_mapping({"limits.max_work": "5", "threads": "4"}) == {
        "limits": {"max_work": "5"}, "threads": "4"}


def _live(applied: list[Settings]) -> LiveSettings:
    live = LiveSettings(lambda etcd: Settings.load(environ={}, etcd=etcd),
                        frozenset({"limits", "lease_seconds"}), applied.append)
    live.first({"lease_seconds": "10"})
    return live


def test_live_settings_apply_now_and_restart_ones_wait() -> None:
    applied: list[Settings] = []
    live = _live(applied)
    assert live.offer({"lease_seconds": "20", "threads": "16"})
    assert live.current.lease_seconds == 20 and live.current.threads == 32  # running value
    assert live.pending_restart == ("threads",)
    assert [s.lease_seconds for s in applied] == [20]
    assert live.offer({"lease_seconds": "20"})  # threads back as started: nothing pending
    assert live.pending_restart == () and len(applied) == 1


def test_a_bad_set_is_refused_whole() -> None:
    applied: list[Settings] = []
    live = _live(applied)
    assert not live.offer({"lease_seconds": "20", "limits.max_width": "wide"})
    assert live.current.lease_seconds == 10 and not applied
    assert live.rejected == 1 and "limits.max_width" in (live.last_error or "")


def test_the_cache_is_owner_only_and_a_corrupt_one_is_discarded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ValuesCache(tmp_path / "cache.json")
    cache.save({"threads": "4"}, 7)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert cache.load() == ({"threads": "4"}, 7)
    for junk in ("{", '{"revision": 1, "values": {"a": 1}}', "[]"):
        cache.path.write_text(junk)
        with caplog.at_level(logging.WARNING):
            assert cache.load() is None
        assert "discarded" in caplog.text and not cache.path.exists()
    assert cache.load() is None  # none at all: no complaint needed
