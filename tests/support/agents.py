"""Run an installed OCF agent exactly as Pacemaker does: its launcher, an OCF environment."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from resource_agents import install

SYSTEM_OCF_ROOT = Path("/usr/lib/ocf")  # for ocf-shellfuncs; our agents are not put there


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str

    @property
    def reason(self) -> str:
        """The exit reason as Pacemaker reads it."""
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("ocf-exit-reason:")]
        return lines[-1].removeprefix("ocf-exit-reason:") if lines else ""


class AgentRunner:
    def __init__(self, ocf_root: Path, agent: str, rsctmp: Path, instance: str,
                 params: dict[str, str]) -> None:
        self.path = ocf_root / "resource.d" / install.PROVIDER / agent
        self.rsctmp = rsctmp
        self.instance = instance
        self.params = dict(params)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OCF_", "HA_"))}
        env.update({"OCF_ROOT": str(SYSTEM_OCF_ROOT), "HA_RSCTMP": str(self.rsctmp),
                    "OCF_RESOURCE_INSTANCE": self.instance,
                    **{f"OCF_RESKEY_{k}": v for k, v in self.params.items()}, **overrides})
        return env

    def __call__(self, action: str, timeout: float = 60, **env: str) -> Outcome:
        done = subprocess.run([str(self.path), action], capture_output=True, text=True,
                              env=self.env(**env), timeout=timeout)
        return Outcome(done.returncode, done.stdout, done.stderr)
