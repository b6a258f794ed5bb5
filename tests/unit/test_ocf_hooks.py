"""The OCF toolkit's after-action hook: how the Fractal agents' records plug into a toolkit
that knows nothing of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from resource_agents.ocf import agent as ocf_agent
from resource_agents.ocf.codes import Exit, OcfError


class Toy(ocf_agent.Agent):
    name = "toy"
    shortdesc = longdesc = "a toolkit agent outside resource_agents.agents"
    parameters = ()
    actions = (ocf_agent.Action("monitor", timeout=5), *ocf_agent.SERVICE_ACTIONS)

    def monitor(self) -> Exit:
        raise OcfError(Exit.NOT_RUNNING, "toy is not running")


def test_hooks_see_every_action_and_cannot_change_its_code(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocf_agent, "_after_action", [])
    seen: list[tuple[str, str, int, str]] = []

    def broken(agent: ocf_agent.Agent, action: str, code: int, reason: str) -> None:
        raise RuntimeError("a full disk, say")

    def note(agent: ocf_agent.Agent, action: str, code: int, reason: str) -> None:
        seen.append((agent.name, action, code, reason))

    ocf_agent.after_action(broken)
    ocf_agent.after_action(note)
    ocf_agent.after_action(note)  # registered once
    code = Toy({"OCF_RESOURCE_INSTANCE": "toy"}).run(["toy", "monitor"])
    assert code == Exit.NOT_RUNNING
    assert seen == [("toy", "monitor", Exit.NOT_RUNNING, "toy is not running")]


def test_the_toolkit_alone_imports_nothing_of_the_agents_and_records() -> None:
    # A fresh interpreter: this test process may have imported the agents already.
    code = (
        "import sys\n"
        "from resource_agents.ocf import agent\n"
        "assert agent._after_action == [], agent._after_action\n"
        "assert not [m for m in sys.modules if m.startswith(('resource_agents.metrics',"
        " 'resource_agents.agents'))], sorted(sys.modules)\n"
        "import resource_agents.agents.common\n"
        "from resource_agents.metrics.record import action_done\n"
        "assert agent._after_action == [action_done], agent._after_action\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
