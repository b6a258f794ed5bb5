"""The store backends the service tests run on: SQLite in a directory, or a container in
Object Storage (the lab cloud's, or any other named by FRACTAL_TEST_OBJECT_STORE)."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fractal_service.store import Store, open_store

# e.g. swift://mycloud/?config=/etc/openstack/clouds.yaml: the container part is ignored,
# each test server gets its own.
OVERRIDE = "FRACTAL_TEST_OBJECT_STORE"


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" or "swift": the test id
    cloud: str = ""
    clouds_yaml: Path | None = None
    region: str | None = None
    # One run's containers never meet another's, even on a long-lived cloud.
    salt: str = ""

    @classmethod
    def sqlite(cls) -> Backend:
        return cls("sqlite")

    @classmethod
    def swift(cls, cloud: str, clouds_yaml: Path | None, region: str | None = None) -> Backend:
        return cls("swift", cloud, clouds_yaml, region, secrets.token_hex(3))

    @classmethod
    def from_override(cls, url: str) -> Backend:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        config = query.get("config")
        return cls.swift(parts.netloc, Path(config) if config else None, query.get("region"))

    def url(self, data_dir: Path) -> str | None:
        """The store URL of an API whose data directory is data_dir (None: the default)."""
        if self.name == "sqlite":
            return None
        # Same directory, same container: a restarted API finds its fractals again.
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
        query = [f"config={quote(str(self.clouds_yaml))}"] if self.clouds_yaml else []
        if self.region:
            query.append(f"region={quote(self.region)}")
        return (f"swift://{self.cloud}/test-{self.salt}-{digest}"
                + ("?" + "&".join(query) if query else ""))

    def open(self, data_dir: Path, max_attempts: int = 5) -> Store:
        """What an API on data_dir would open."""
        return open_store(self.url(data_dir), data_dir, max_attempts=max_attempts)

    def api_args(self, data_dir: Path) -> list[str]:
        url = self.url(data_dir)
        return ["--store", url] if url else []


def override() -> Backend | None:
    url = os.environ.get(OVERRIDE)
    return Backend.from_override(url) if url else None
