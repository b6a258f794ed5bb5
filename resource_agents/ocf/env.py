"""What the cluster tells an agent through its environment, beyond the parameters."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OcfEnv:
    instance: str  # OCF_RESOURCE_INSTANCE, e.g. "fractal-api" or "workers:1"
    timeout: float  # this op's timeout in seconds (CRM_meta_timeout is in milliseconds)
    interval: float  # this op's interval in seconds; 0 for one-shot ops and probes
    check_level: int  # OCF_CHECK_LEVEL: 0 light, 10 medium, 20 heavy
    rsctmp: Path  # HA_RSCTMP: a tmpfs directory cleared at boot, for pidfiles and state
    node: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     default_timeout: float = 20.0) -> OcfEnv:
        env = os.environ if environ is None else environ
        return cls(
            instance=env.get("OCF_RESOURCE_INSTANCE", "default"),
            timeout=_millis(env.get("OCF_RESKEY_CRM_meta_timeout"), default_timeout),
            interval=_millis(env.get("OCF_RESKEY_CRM_meta_interval"), 0.0),
            check_level=_int(env.get("OCF_CHECK_LEVEL"), 0),
            rsctmp=Path(env.get("HA_RSCTMP") or "/run/resource-agents"),
            node=env.get("OCF_RESKEY_CRM_meta_on_node") or os.uname().nodename,
        )

    @property
    def safe_instance(self) -> str:
        """The instance name as a file name (clone instances contain ':')."""
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.instance)

    def state_dir(self, agent: str) -> Path:
        return self.rsctmp / f"fractal-{agent}-{self.safe_instance}"


def _millis(raw: str | None, default: float) -> float:
    try:
        return int(raw) / 1000.0 if raw else default
    except ValueError:
        return default


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default
