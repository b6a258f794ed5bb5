"""The Object Storage store's cached login (issue 14): an API starting on a node whose standby
logged in earlier asks Keystone nothing — through a Keystone 1.5 s slow its start was ~4 s
instead of ~1 s — and a refused, damaged or foreign cache costs one fresh login, never an
outage. Against the fake cloud of tests/support (Keystone, and a Swift account that checks
tokens)."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from fractal_service.store import StoreError, open_store, swift_auth, swift_url, token_cache
from tests.support.fake_cloud import OBJECT_PATH, FakeCloud

LOGIN = "POST /identity/v3/auth/tokens"


@pytest.fixture
def url(clouds: Path) -> str:
    return f"swift://fake/fractals?config={clouds}&timeout=5"


def logins(cloud: FakeCloud) -> int:
    return cloud.log.count(LOGIN)


def standby_login(url: str, tmp_path: Path) -> token_cache.Entry:
    """What ocf:fractal:api's standby monitor does before any API runs on the node."""
    return swift_auth.refresh(swift_url.parse(url), str(tmp_path / token_cache.FILE), 5)


def test_an_api_started_after_the_standby_login_asks_keystone_nothing(cloud, url,
                                                                      tmp_path) -> None:
    """Failed before: the store logged in when the server started (openstacksdk's proxy:
    version discovery and a token), so with Keystone down the new API could not serve."""
    entry = standby_login(url, tmp_path)
    assert entry.endpoint == cloud.url + OBJECT_PATH and logins(cloud) == 1
    cloud.reset()
    cloud.failing.add("identity")  # Keystone refuses every new login from now on
    store = open_store(url, tmp_path)
    store.probe()
    assert cloud.log == [f"HEAD {OBJECT_PATH}/fractals"]


def test_the_cache_is_private_and_holds_no_password(cloud, url, tmp_path) -> None:
    standby_login(url, tmp_path)
    path = tmp_path / token_cache.FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "secret" not in path.read_text()


def test_a_refused_token_costs_one_fresh_login_recorded_for_the_next_start(cloud, url,
                                                                         tmp_path) -> None:
    old = standby_login(url, tmp_path)
    cloud.revoke()
    cloud.reset()
    store = open_store(url, tmp_path)
    store.probe()
    assert logins(cloud) == 1 and cloud.log[-1] == f"HEAD {OBJECT_PATH}/fractals"
    fresh, why = token_cache.load(str(tmp_path / token_cache.FILE), old.key)
    assert not why and fresh is not None and fresh.token != old.token
    cloud.reset()
    open_store(url, tmp_path).probe()  # the next start: the recorded token, no login
    assert logins(cloud) == 0


@pytest.mark.parametrize("damage", [
    "not json {",
    json.dumps({"token": "t", "expires_at": None, "endpoint": "e", "key": []}),
    json.dumps(["a", "list"]),
])
def test_a_damaged_cache_is_discarded_with_a_log_line(cloud, url, tmp_path, caplog,
                                                      damage) -> None:
    (tmp_path / token_cache.FILE).write_text(damage)
    with caplog.at_level(logging.WARNING, "fractal.store"):
        open_store(url, tmp_path).probe()
    assert "store token cache" in caplog.text and "discarded" in caplog.text
    assert logins(cloud) == 1
    entry, why = token_cache.load(str(tmp_path / token_cache.FILE), store_url=url)
    assert entry is not None and not why  # replaced by the fresh login


def test_a_cache_for_another_store_or_clouds_yaml_is_not_used(cloud, url, tmp_path,
                                                             caplog) -> None:
    standby_login(url, tmp_path)
    other = url.replace("/fractals?", "/other?")
    cloud.reset()
    with caplog.at_level(logging.WARNING, "fractal.store"):
        open_store(other, tmp_path).probe()
    assert logins(cloud) == 1 and "another store URL" in caplog.text
    # clouds.yaml edited (new password, CA, region...): its stamp changes, the cache goes
    standby_login(url, tmp_path)
    clouds = Path(swift_url.parse(url).config or "")
    clouds.write_text(clouds.read_text() + "\n")
    path = str(tmp_path / token_cache.FILE)
    assert token_cache.load(path, store_url=url)[0] is None
    cloud.reset()
    open_store(url, tmp_path).probe()
    assert logins(cloud) == 1


def test_an_expiring_cache_is_not_handed_out(cloud, url, tmp_path) -> None:
    entry = standby_login(url, tmp_path)
    path = str(tmp_path / token_cache.FILE)
    token_cache.save(path, token_cache.Entry(entry.token, entry.expires_at - 3500,
                                             entry.endpoint, entry.key))
    assert token_cache.load(path, entry.key) == (None, "expired or about to")


def test_keystone_down_without_a_cache_is_a_store_error(cloud, url, tmp_path) -> None:
    cloud.failing.add("identity")
    with pytest.raises(StoreError):
        open_store(url, tmp_path).probe()
    assert not os.path.exists(tmp_path / token_cache.FILE)


# -- ocf:fractal:api's standby monitor keeps the login ready ---------------------------------
def api_monitor(url: str, tmp_path: Path, **env: str) -> int:
    from resource_agents.agents.api import ApiAgent

    environ = {"HA_RSCTMP": str(tmp_path / "run"), "OCF_RESOURCE_INSTANCE": "api",
               "OCF_RESKEY_store_url": url, "OCF_RESKEY_data_dir": str(tmp_path / "data"),
               "OCF_RESKEY_CRM_meta_timeout": "20000", **env}
    return ApiAgent(environ).run(["api", "monitor"])


STANDBY = {"OCF_RESKEY_CRM_meta_interval": "20000", "OCF_RESKEY_CRM_meta_role": "Stopped"}


def test_the_standby_monitor_logs_in_once_and_the_api_started_there_uses_it(cloud, url,
                                                                          tmp_path) -> None:
    """Failed before: no monitor logged in for the API where it was not running."""
    assert api_monitor(url, tmp_path) == 7  # a probe: no login
    assert logins(cloud) == 0
    assert api_monitor(url, tmp_path, **STANDBY) == 7
    assert api_monitor(url, tmp_path, **STANDBY) == 7  # fresh: a read, no second login
    assert logins(cloud) == 1
    cloud.reset()
    cloud.failing.add("identity")
    open_store(url, tmp_path / "data").probe()
    assert logins(cloud) == 0


def test_the_standby_monitor_never_fails_for_keystone(cloud, url, tmp_path) -> None:
    cloud.failing.add("identity")
    assert api_monitor(url, tmp_path, **STANDBY) == 7
    assert not (tmp_path / "data" / token_cache.FILE).exists()


def revoked_behind_a_slow_keystone(cloud, url, tmp_path, monkeypatch, seconds: float):
    """A store whose cached token was revoked, Keystone then taking `seconds` a call."""
    import time

    standby_login(url, tmp_path)
    cloud.revoke()
    store = open_store(url, tmp_path)
    identity = cloud._identity

    def slow_keystone(*args):
        time.sleep(seconds)
        return identity(*args)

    monkeypatch.setattr(cloud, "_identity", slow_keystone)
    return store


def test_requests_refused_the_same_revoked_token_share_one_fresh_login(cloud, url, tmp_path,
                                                                      monkeypatch) -> None:
    """Failed before: each of 6 concurrent requests refused the revoked token discarded the
    fresh login of the one before and logged in again (6 logins, one after the other: through
    a 1.5 s slow Keystone the API's store slots were held past their deadline and its health
    said wedged: campaign seed 597473, 'token revoked + slow Keystone + crash')."""
    import threading

    store = revoked_behind_a_slow_keystone(cloud, url, tmp_path, monkeypatch, 0.3)
    cloud.reset()
    start = threading.Barrier(6)
    errors: list[Exception] = []

    def read() -> None:
        start.wait()
        try:
            store.list(limit=1)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert logins(cloud) == 1, cloud.log


def test_requests_waiting_for_a_login_through_a_slow_keystone_end_by_their_deadline(
        cloud, url, tmp_path, monkeypatch) -> None:
    """Failed before: a login (and the wait for another request's) was bounded only by the
    session's timeout, not by the request's deadline. Campaign seed 301289 #55 (token revoked
    + slow Keystone + crash): the serving API's health said "wedged: store slots held past
    their request deadline" 45 s after the crash, Pacemaker restarted it in the takeover, and
    the address moved four times."""
    import threading
    import time

    from fractal_service.store import deadline

    store = revoked_behind_a_slow_keystone(cloud, url, tmp_path, monkeypatch, 2.0)
    took: list[float] = []
    errors: list[Exception] = []

    def read() -> None:
        began = time.monotonic()
        try:
            with deadline.bounded(1.0):
                store.list(limit=1)
        except StoreError as exc:  # 504 for the client: the deadline passed
            errors.append(exc)
        took.append(time.monotonic() - began)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 4, errors  # nobody could log in within 1 s
    assert max(took) < 1.6, f"requests of a 1 s deadline took {sorted(took)} s"
