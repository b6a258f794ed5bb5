"""Where the lab cloud keeps everything, and how it is reached. One state directory: `down` +
`up` is a clean slate; the virtualenv is a cache elsewhere that survives `down`."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(os.environ.get("FRACTAL_CLOUD_DIR", "/var/lib/fractal-ha/cloud"))
# The virtualenv is a cache shared by every cloud on this host (tests make their own clouds).
DEFAULT_VENV = Path(os.environ.get("FRACTAL_CLOUD_VENV", "/var/lib/fractal-ha/cloud-venv"))
REGIONS = ("RegionOne", "RegionTwo")
ADMIN_CLOUD = "fractal-lab-admin"
MEMBER_CLOUD = "fractal-lab"  # what the cluster's agents use: an ordinary project member


@dataclass(frozen=True)
class Layout:
    home: Path = DEFAULT_HOME
    venv: Path = DEFAULT_VENV
    host: str = "127.0.0.1"
    keystone_port: int = 35357
    neutron_port: int = 9696

    @property
    def state(self) -> Path:
        return self.home / "state"

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def keystone_url(self) -> str:
        return f"http://{self.host}:{self.keystone_port}/v3"

    @property
    def neutron_url(self) -> str:
        return f"http://{self.host}:{self.neutron_port}"

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    def secret(self, name: str) -> str:
        """A password generated once per cloud and kept 0600 in the state directory."""
        path = self.state / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(18))
        return path.read_text()
