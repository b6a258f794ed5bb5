"""Agents run exactly as Pacemaker runs them: the installed launcher, an OCF environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cluster.lab import ocf_view
from tests.support.agents import AgentRunner
from tests.support.processes import free_port


@pytest.fixture(scope="session")
def in_ocf_view(ocf_root: Path) -> Callable[[list[str]], list[str]]:
    """argv → argv run where ocf:fractal:* sits in /usr/lib/ocf/resource.d (for that run only)."""
    return lambda argv: ocf_view.command(ocf_root / "resource.d", argv)


@pytest.fixture
def api_agent(ocf_root: Path, tmp_path: Path) -> Iterator[AgentRunner]:
    runner = AgentRunner(ocf_root, "api", tmp_path / "rsctmp", "fractal-api", {
        "bind_address": "127.0.0.1", "port": str(free_port()),
        "data_dir": str(tmp_path / "data"), "log_file": str(tmp_path / "api.log"),
        # SQLite in a node-local data_dir, as Pacemaker refuses it unless asked for
        # (test_api_agent_config.py): ops here carry CRM_meta_* as Pacemaker's do.
        "allow_local_store": "true",
        # Not about who may write (test_agents_auth.py is): claims here need no credentials.
        "auth": "none"})
    yield runner
    runner("stop")  # never leave a server behind, whatever the test did


@pytest.fixture
def worker_agent(ocf_root: Path, tmp_path: Path, api) -> Iterator[AgentRunner]:
    runner = AgentRunner(ocf_root, "worker", tmp_path / "rsctmp", "workers:0", {
        "api_url": api.url, "workers": "2", "heartbeat_timeout": "3",
        "log_file": str(tmp_path / "worker.log")})
    yield runner
    runner("stop")
