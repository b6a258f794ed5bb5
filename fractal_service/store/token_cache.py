"""The Object Storage store's Keystone token and endpoint, cached on this node in a 0600 file.

Why: an API that logs in when it starts puts the login on a failover's path (version
discovery and a token, ~3 s through a Keystone 1.5 s slow). With the cache, a starting API
sends its first request with a token obtained earlier on this node — by ocf:fractal:api's
standby monitor (role=Stopped) or by the last API that ran here — and Keystone is asked only
when Swift refuses that token (one fresh login, swift_auth.CachedAuth).

The file is keyed by what the token depends on: the store URL (cloud, container, region,
clouds.yaml named in it) and the clouds.yaml actually read, by path, size and mtime (an edited
file — new credentials, CA, region — changes them). A cache made for anything else, damaged, or
about to expire is discarded with a reason, never trusted. This module stays light (no
keystoneauth): the agent's monitor reads it on every standby run.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass

from fractal_service import json_record

FILE = "store-token.json"  # in the API's data_dir
RENEW_BEFORE_S = 300.0  # a token this close to its expiry is not handed out


@dataclass(frozen=True)
class Entry:
    token: str  # a secret: never logged
    expires_at: float
    endpoint: str  # Object Storage, from the token's catalog
    key: list

    def fresh(self, within: float = 0.0) -> bool:
        return time.time() < self.expires_at - RENEW_BEFORE_S - within


_TYPES = {"token": str, "expires_at": (int, float), "endpoint": str, "key": list}


def cache_key(store_url: str, clouds_yaml: str | None) -> list:
    try:
        st = os.stat(clouds_yaml) if clouds_yaml else None
    except OSError:
        st = None
    return [store_url, clouds_yaml, [st.st_size, st.st_mtime_ns] if st else None]


def still_valid_key(key: object, store_url: str) -> bool:
    """The recorded key still describes `store_url` and the clouds.yaml it recorded: what the
    standby monitor can check with a stat, without resolving clouds.yaml as openstacksdk does."""
    return (isinstance(key, list) and len(key) == 3 and key[0] == store_url
            and (key[1] is None or isinstance(key[1], str)) and cache_key(store_url, key[1]) == key)


def load(path: str, key: list | None = None, store_url: str = "") -> tuple[Entry | None, str]:
    """(the entry, "") or (None, why it is not usable; "" when there is none). With `key`,
    the entry must have been made for exactly it; else for `store_url` (still_valid_key)."""
    data, why = json_record.load(path, _TYPES, "token record")
    if data is None:
        return None, why
    if not (data["key"] == key if key is not None else still_valid_key(data["key"], store_url)):
        return None, "made for another store URL or clouds.yaml"
    entry = Entry(**data)
    if not entry.fresh():
        return None, "expired or about to"
    return entry, ""


def save(path: str, entry: Entry, owner: tuple[int, int] | None = None) -> None:
    """Atomically, mode 0600 (a token is a secret); `owner` (uid, gid): the API's user, when
    root (the agent) writes it for the API."""
    json_record.save(path, asdict(entry), owner)


def discard(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)

