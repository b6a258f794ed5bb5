"""booth's configuration as the lab writes it, and the arbitrator running in a namespace of its
own (Debian 12's booth hangs there unless IPv6 is off)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.geo.booth import TICKET, Arbitrator, BoothConfig, TicketTimes, make_authfile
from cluster.lab import netns
from resource_agents.ocf import process

pytestmark = pytest.mark.geo

SITES = ("192.0.2.11", "192.0.2.21")
ARBITRATOR = "192.0.2.250"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A temporary directory with a path booth can read (pytest's are too long)."""
    with tempfile.TemporaryDirectory(prefix="fhg-") as name:
        yield Path(name)


def config(directory: Path, **times: float) -> BoothConfig:
    return BoothConfig(SITES, (ARBITRATOR,), make_authfile(directory / "booth.key"),
                       TicketTimes(**times))


def test_the_lab_times_pass_booths_load_rule(short_dir: Path) -> None:
    text = config(short_dir).render()
    assert text.count("site = ") == 2 and f"arbitrator = {ARBITRATOR}" in text
    assert f'ticket = "{TICKET}"' in text
    assert "    expire = 10\n" in text and "    renewal-freq = 5\n" in text
    assert "user" not in text and "group" not in text  # misparsed by Debian's booth


@pytest.mark.parametrize(("times", "named"), [
    ({"retries": 2}, "retries=2"),
    ({"timeout": 2}, "timeout*(retries+1) = 8 s"),
    ({"renewal_freq": 20}, "renewal-freq=20 s is longer than expire"),
    ({"acquire_after": -1}, "acquire-after=-1"),
])
def test_times_booth_would_refuse_are_named(short_dir: Path, times: dict, named: str) -> None:
    with pytest.raises(ValueError, match="booth configuration") as refused:
        config(short_dir, **times).render()
    assert named in str(refused.value)


def test_two_members_are_not_enough(short_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least three members"):
        BoothConfig(SITES, (), make_authfile(short_dir / "k")).render()


def test_a_path_booth_cannot_read_is_named(tmp_path: Path) -> None:
    deep = make_authfile(tmp_path / ("d" * 64) / "booth.key")
    with pytest.raises(ValueError, match="longer than booth's 63 characters"):
        BoothConfig(SITES, (ARBITRATOR,), deep).render()


def test_the_key_is_owner_only_and_kept(tmp_path: Path) -> None:
    key = make_authfile(tmp_path / "booth.key")
    first = key.read_text()
    assert 8 <= len(first) <= 64 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert make_authfile(key).read_text() == first


@pytest.fixture
def arbitrator(short_dir: Path) -> Iterator[Arbitrator]:
    tmp_path = short_dir
    ns = f"fhg-arb{os.getpid() % 100000}"
    netns.add(ns)
    try:
        netns.ip("addr", "add", f"{ARBITRATOR}/32", "dev", "lo", netns=ns)
        conf = config(tmp_path).write(tmp_path / "arbitrator.conf")
        daemon = Arbitrator(ns, conf, tmp_path / "arbitrator")
        daemon.start()
        yield daemon
        daemon.stop()
    finally:
        netns.delete(ns)


def test_the_arbitrator_runs_and_answers_with_no_site_up(arbitrator: Arbitrator) -> None:
    # No site answers: the ticket has no leader, and the arbitrator keeps running.
    assert f"ticket: {TICKET}, leader: NONE" in arbitrator.list()
    assert arbitrator.running()
    pid = arbitrator.pid()
    arbitrator.stop()
    assert pid is not None and not process.is_alive(pid)  # (a zombie until we reap it)
