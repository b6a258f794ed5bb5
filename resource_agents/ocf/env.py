"""What the cluster tells an agent through its environment, beyond the parameters."""

from __future__ import annotations

import os

# Typing names are for checkers only: importing `typing` costs every monitor run ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class OcfEnv:
    __slots__ = ("check_level", "instance", "interval", "node", "rsctmp", "timeout")

    def __init__(self, *, instance: str, timeout: float, interval: float, check_level: int,
                 rsctmp: str, node: str) -> None:
        self.instance = instance  # OCF_RESOURCE_INSTANCE, e.g. "fractal-api" or "workers:1"
        self.timeout = timeout  # this op's timeout in s (CRM_meta_timeout is in milliseconds)
        self.interval = interval  # this op's interval in s; 0 for one-shot ops and probes
        self.check_level = check_level  # OCF_CHECK_LEVEL: 0 light, 10 medium, 20 heavy
        self.rsctmp = rsctmp  # HA_RSCTMP: tmpfs cleared at boot, for pidfiles and state
        self.node = node

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     default_timeout: float = 20.0) -> OcfEnv:
        env = os.environ if environ is None else environ
        return cls(
            instance=env.get("OCF_RESOURCE_INSTANCE", "default"),
            timeout=_millis(env.get("OCF_RESKEY_CRM_meta_timeout"), default_timeout),
            interval=_millis(env.get("OCF_RESKEY_CRM_meta_interval"), 0.0),
            check_level=_int(env.get("OCF_CHECK_LEVEL"), 0),
            rsctmp=env.get("HA_RSCTMP") or "/run/resource-agents",
            node=env.get("OCF_RESKEY_CRM_meta_on_node") or os.uname().nodename,
        )

    @property
    def safe_instance(self) -> str:
        """The instance name as a file name (clone instances contain ':')."""
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.instance)

    def state_dir(self, agent: str) -> str:
        return os.path.join(self.rsctmp, f"fractal-{agent}-{self.safe_instance}")


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
