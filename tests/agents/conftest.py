"""Agents run exactly as Pacemaker runs them: the installed launcher, an OCF environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster.lab import ocf_view
from resource_agents import install
from tests.support.processes import free_port

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


@pytest.fixture(scope="session")
def ocf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agents installed by `fractal-ha agents install` into a private OCF root. Pacemaker's
    tools see them through `in_ocf_view`; the host's /usr/lib/ocf, which the operator and any
    concurrent run share, is never written to."""
    root = tmp_path_factory.mktemp("ocf")
    install.install(root)
    return root


@pytest.fixture(scope="session")
def in_ocf_view(ocf_root: Path) -> Callable[[list[str]], list[str]]:
    """argv → argv run where ocf:fractal:* sits in /usr/lib/ocf/resource.d (for that run only)."""
    return lambda argv: ocf_view.command(ocf_root / "resource.d", argv)


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


@pytest.fixture
def api_agent(ocf_root: Path, tmp_path: Path) -> Iterator[AgentRunner]:
    runner = AgentRunner(ocf_root, "api", tmp_path / "rsctmp", "fractal-api", {
        "bind_address": "127.0.0.1", "port": str(free_port()),
        "data_dir": str(tmp_path / "data"), "log_file": str(tmp_path / "api.log")})
    yield runner
    runner("stop")  # never leave a server behind, whatever the test did


@pytest.fixture
def worker_agent(ocf_root: Path, tmp_path: Path, api) -> Iterator[AgentRunner]:
    runner = AgentRunner(ocf_root, "worker", tmp_path / "rsctmp", "workers:0", {
        "api_url": api.url, "workers": "2", "heartbeat_timeout": "3",
        "log_file": str(tmp_path / "worker.log")})
    yield runner
    runner("stop")
