"""The campaign's client load: submissions leave at their rate whatever the API's answers take
(issue 13: 2 fractals/s through the floating IP across faults)."""

from __future__ import annotations

import json
import threading
import time

from cluster.http_client import Answer
from cluster.lab.campaign.load import Load


class SlowApi:
    """Stands in for the lab's floating IP: every creation takes `seconds`, and the first
    `lost` attempts of each key get no answer (as during an outage)."""

    def __init__(self, seconds: float, lost: int = 0) -> None:
        self.seconds = seconds
        self.lost = lost
        self.tries: dict[str, int] = {}
        self.lock = threading.Lock()

    def request(self, method, path, body=None, timeout=3.0, headers=None):
        time.sleep(min(self.seconds, timeout))
        if method != "POST":
            return Answer(200, {}, b'{"fractals": [], "state": "pending"}')
        key = (headers or {})["Idempotency-Key"]
        with self.lock:
            self.tries[key] = self.tries.get(key, 0) + 1
            if self.tries[key] <= self.lost:
                return None
        return Answer(201, {"x-fractal-node": "n1"}, json.dumps({"uuid": key}).encode())


def run(api: SlowApi, seconds: float) -> Load:
    load = Load(api).start()  # type: ignore[arg-type]
    time.sleep(seconds)
    load.stop()
    return load


def test_slow_answers_do_not_lower_the_submission_rate() -> None:
    # 3 s a creation: a creator that waits for each answer sent 0.67/s with two of them.
    load = run(SlowApi(3.0), 4.0)
    assert len(load.ledger.markers) >= 7, f"{len(load.ledger.markers)} sent in 4 s, not 2/s"
    assert len(load.ledger.accepted) == len(load.ledger.markers)  # answered after stop()


def test_unanswered_submissions_are_retried_with_their_key_while_new_ones_leave() -> None:
    api = SlowApi(0.3, lost=2)
    load = run(api, 3.0)
    assert len(load.ledger.markers) >= 5
    assert set(api.tries.values()) == {3}, api.tries  # each key: two lost, the third answered
    assert len(load.ledger.accepted) == len(load.ledger.markers)
    p50, p95 = load.ledger.latency("create")
    assert 0.3 <= p50 <= p95 < 1.5


def test_a_report_appended_to_the_results_file_becomes_a_section() -> None:
    from cluster.lab.campaign.cli import as_section

    assert as_section("# Random fault campaign: seed 5\n\ntext\n\n## Per fault kind\n") == (
        "## Random fault campaign: seed 5\n\ntext\n\n### Per fault kind\n")


class Workers(SlowApi):
    """Creations answered at once; the listing shows them done only while `working`."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.working = False
        self.created: list[str] = []

    def request(self, method, path, body=None, timeout=3.0, headers=None):
        if method == "GET" and path.startswith("/v1/fractals?"):
            state = "done" if self.working else "pending"
            marker = path.partition("marker=")[2]
            page = [{"uuid": u, "state": state} for u in sorted(self.created) if u > marker]
            return Answer(200, {}, json.dumps({"fractals": page, "next_marker": None}).encode())
        answer = super().request(method, path, body, timeout, headers)
        if method == "POST":
            self.created.append((headers or {})["Idempotency-Key"])
        return answer


def test_submissions_wait_while_the_backlog_is_full_and_resume_when_it_is_worked_off() -> None:
    # A 100-fault run at a fixed 2/s left 3398 accepted fractals not done: the load offered
    # more than the host's workers do through faults, and no drain bound could hold.
    api = Workers()
    load = Load(api, submit_every=0.05, max_backlog=4, track_every=0.05)  # type: ignore[arg-type]
    load.start()
    time.sleep(1.0)
    held = len(load.ledger.markers)
    assert 4 <= held <= 5, f"{held} sent with a backlog of 4 allowed"
    api.working = True
    time.sleep(1.0)
    load.stop()
    assert len(load.ledger.markers) >= held + 8, "submissions did not resume"
    assert load.ledger.held_s > 0.5
    assert load.backlog.floor, "the listings did not move on from the oldest done"
