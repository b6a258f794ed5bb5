"""What a `swift://CLOUD/CONTAINER?region=R&config=PATH&timeout=S&settle=S&peer=R2` store URL
names (`peer`: the region the container is synced with, replica.py).

Light on purpose (standard library only): ocf:fractal:api's standby monitor reads it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

OPTIONS = frozenset({"region", "config", "timeout", "settle", "peer"})


@dataclass(frozen=True)
class Target:
    url: str
    cloud: str | None  # clouds.yaml entry; None: OS_CLOUD
    container: str
    config: str | None  # clouds.yaml named in the URL; None: openstacksdk's search
    region: str | None
    timeout: float
    settle: float
    peer: str | None = None  # the region this container is synced with (replica.py)


def parse(url: str) -> Target:
    """ValueError when `url` is not a store URL of this form."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    container = parts.path.strip("/")
    if parts.scheme != "swift" or not container or "/" in container or set(query) - OPTIONS:
        raise ValueError(f"bad store URL {url!r} (expected swift://CLOUD/CONTAINER"
                         "[?region=R&config=clouds.yaml&timeout=S&settle=S&peer=R2])")
    try:
        timeout, settle = float(query.get("timeout", 10.0)), float(query.get("settle", 0.05))
    except ValueError:
        raise ValueError(f"bad store URL {url!r}: timeout and settle are seconds") from None
    if "peer" in query and not query.get("region"):
        raise ValueError(f"bad store URL {url!r}: peer needs region (this side's beacon)")
    return Target(url, unquote(parts.netloc) or None, container, query.get("config"),
                  query.get("region"), timeout, settle, query.get("peer") or None)
