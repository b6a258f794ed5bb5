"""The failover suite's split-brain check, on made-up samples: it can fail, and only when two
nodes' API processes really ran at the same moment."""

from __future__ import annotations

from tests.cluster.conftest import LAB, VMS, ApiWatch


def sample(pid: int, started: float, now: float) -> str:
    return f"{pid} {int(started * 100)} 100\nnow {now}\n"


def test_two_apis_alive_at_once_are_reported() -> None:
    watch = ApiWatch(cluster=None, pace=LAB)  # type: ignore[arg-type]
    watch.record("n1", sample(10, 1000.0, 1005.0))
    watch.record("n2", sample(20, 1004.0, 1004.5))
    watch.record("n1", sample(10, 1000.0, 1006.0))
    assert watch.overlaps() == [("n1", "n2")]


def test_a_move_is_not_split_brain() -> None:
    watch = ApiWatch(cluster=None, pace=LAB)  # type: ignore[arg-type]
    watch.record("n1", sample(10, 1000.0, 1004.0))  # last seen at 1004
    watch.record("n2", sample(20, 1004.2, 1005.0))  # started after that
    watch.record("n2", sample(20, 1004.2, 1009.0))
    assert watch.overlaps() == []


def test_clock_skew_is_allowed_between_vms_only() -> None:
    for pace, expected in ((LAB, [("n1", "n2")]), (VMS, [])):
        watch = ApiWatch(cluster=None, pace=pace)  # type: ignore[arg-type]
        watch.record("n1", sample(10, 1000.0, 1004.5))
        watch.record("n2", sample(20, 1004.0, 1010.0))
        assert watch.overlaps() == expected


def test_garbage_output_is_ignored() -> None:
    watch = ApiWatch(cluster=None, pace=LAB)  # type: ignore[arg-type]
    watch.record("n1", "nsenter: cannot open /proc/1/ns/net\n")
    watch.record("n2", "12 x 100\nnow 5\n")
    assert watch.spans == {}
