"""The lab cloud's injected errors: spread evenly (a test sees exactly what it set), or drawn at
random — what a half-failing API does to a client whose runs all make the same calls."""

from __future__ import annotations

from cluster.openstack.faults.model import Fault


def fence_runs(fault: Fault, runs: int = 40) -> int:
    """How many fence_openstack-like runs get through: a version GET (errors ignored), then
    the server's GET, which must succeed."""
    ok = 0
    for _ in range(runs):
        fault.next_fails()
        ok += not fault.next_fails()
    return ok


def test_even_errors_fail_the_same_call_of_every_run() -> None:
    fault = Fault.parse({"error_rate": 0.5})
    assert [fault.next_fails() for _ in range(4)] == [False, True, False, True]
    assert fence_runs(Fault.parse({"error_rate": 0.5})) == 0


def test_random_errors_let_some_runs_through() -> None:
    fault = Fault.parse({"error_rate": 0.5, "random_errors": True})
    assert fault.describe()["random_errors"] is True
    assert 5 <= fence_runs(fault) <= 35  # ~20; outside this, 1 in 10^5
