"""The failover suite's checks, on made-up samples: API processes' spans (two at the same moment),
and the split-brain check of the service address (held or answering from two nodes), which
can fail, and only when the address really leads to two nodes."""

from __future__ import annotations

from cluster.lab.campaign.checkers import AddressWatch, ApiWatch
from tests.cluster.conftest import LAB, VMS


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


def address_watch(*samples: tuple[set[str], list[str], dict[str, str]]) -> AddressWatch:
    watch = AddressWatch(cluster=None)
    for i, (held, nat, answers) in enumerate(samples):
        watch.record(1000.0 + i, held, nat, answers)
    return watch


def test_the_address_answering_from_two_nodes_is_reported() -> None:
    split = {"client": "n1", "n2": "n2", "n3": "n1"}
    watch = address_watch((set(), ["n1"], split), (set(), ["n1"], split))
    assert len(watch.problems()) == 1 and "n2" in watch.problems()[0]


def test_the_address_held_twice_on_devices_or_in_the_nat_is_reported() -> None:
    one = {"client": "n1"}
    assert address_watch(({"n1", "n2"}, [], one)).problems() == [
        "at 1000.0: held on ['n1', 'n2']"]
    assert address_watch((set(), ["n1", "n2"], one)).problems() == [
        "at 1000.0: NAT to ['n1', 'n2']"]


def test_a_failover_is_not_split_brain() -> None:
    """The NAT flips between two requests of one sample: one mixed sample, then the new node."""
    watch = address_watch((set(), ["n1"], {"client": "n1", "n2": "n1"}),
                          (set(), ["n2"], {"client": "n1", "n2": "n2"}),
                          (set(), ["n2"], {"client": "n2", "n2": "n2"}),
                          ({"n2"}, [], {"client": "n2"}))
    assert watch.problems() == []
    watch.assert_never_two()


def test_the_longest_silence_is_one_stretch_without_an_answer() -> None:
    """tests/cluster's Observer: answers between two failed probes end a silence (first to
    last failure counted a lone timeout a minute later as outage)."""
    from tests.cluster.conftest import LAB, Observer

    seen = Observer.__new__(Observer)
    seen.probe_every = LAB.probe_every
    seen.probes = [(0.0, True), (1.0, False), (1.5, False), (3.0, True), (60.0, False),
                   (60.5, True)]
    assert seen.longest_silence == 2.0
    seen.probes = [(0.0, True), (1.0, False), (4.0, False)]  # still silent at the end
    assert seen.longest_silence == 3.0 + LAB.probe_every
