"""`fractal create --wait` polls with one list request per poll, however many it waits for."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fractal_service.cli import main as cli
from fractal_service.records import new_uuid


class FakeApi:
    """Fractals that finish one poll after another; counts the requests the CLI makes."""

    def __init__(self, mine: list[str], others: list[str]) -> None:
        self.states = dict.fromkeys(sorted(mine + others), "pending")
        self.mine = mine
        self.requests: list[str] = []

    def page(self, *, limit: int = 100, marker: str | None = None, state: str | None = None,
             order: str = "asc") -> dict[str, Any]:
        self.requests.append("list")
        # Per poll, the next three of ours finish; one of them is deleted instead.
        for uuid in [u for u in self.mine if self.states.get(u) == "pending"][:3]:
            self.states[uuid] = "done"
        if self.mine[5] in self.states:
            del self.states[self.mine[5]]
        after = sorted(u for u in self.states if marker is None or u > marker)
        items = [{"uuid": u, "state": self.states[u]} for u in after[:limit]]
        return {"fractals": items, "next_marker": items[-1]["uuid"] if len(after) > limit
                else None}

    def show(self, uuid: str) -> dict[str, Any]:
        self.requests.append("show")
        return {"uuid": uuid, "state": self.states[uuid]}


def test_wait_makes_one_list_request_per_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    now = time.time()
    stamps = [new_uuid(now + i) for i in range(40)]
    mine, others = stamps[10::2][:12], stamps[:10] + stamps[11::2]
    api = FakeApi(mine, others)
    assert cli.wait_for(api, mine, timeout=5) == 1  # one was deleted: not all done
    assert set(api.requests) == {"list"}
    assert len(api.requests) == 4  # 12 fractals, 3 finishing per poll
    assert all(api.states.get(u, "done") == "done" for u in mine)
