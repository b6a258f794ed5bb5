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
