"""fractal-ticket-claim (resource_agents/geo/): asks booth for the ticket again only when it is
held nowhere, this site's check refused it, and it has been held nowhere for the settle time;
never after an operator's revoke; a booth that does not answer or a corrupt refusal record is
reported, not acted on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from fractal_service.config import RegionCheck, Settings
from resource_agents.geo import region_probe, ticket_claim
from resource_agents.geo.region_check import REFUSED_FILE
from resource_agents.geo.ticket_claim import DONE, FAILED, BoothError, Claimer, leader

NOWHERE = "ticket: fractal-service, leader: NONE\n"
AT_A = "ticket: fractal-service, leader: 203.0.113.11, expires: 2026-12-03 10:00:00\n"


class FakeBooth:
    def __init__(self, listing: str = NOWHERE, grant_code: int = 0) -> None:
        self.listing, self.grant_code = listing, grant_code
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        if argv[1] == "list":
            return subprocess.CompletedProcess(argv, 0, self.listing, "")
        return subprocess.CompletedProcess(argv, self.grant_code, "", "grant failed!")

    @property
    def grants(self) -> int:
        return sum(call[1] == "grant" for call in self.calls)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def refused(tmp_path: Path) -> Path:
    return tmp_path / REFUSED_FILE


def claimer(booth: FakeBooth, refused: Path, clock: Clock) -> Claimer:
    return Claimer("fractal-service", "/etc/booth/site-b.conf", str(refused), 10,
                   logging.getLogger("test"), run=booth, clock=clock)


def refuse(path: Path) -> None:
    path.write_text(json.dumps({"at": 1.0, "why": "Object Storage: 503"}))


def test_the_leader_is_read_from_booths_list() -> None:
    assert leader(NOWHERE, "fractal-service") is None
    assert leader(AT_A, "fractal-service") == "203.0.113.11"
    with pytest.raises(BoothError, match="not in booth's list"):
        leader("ticket: other, leader: NONE\n", "fractal-service")


def test_a_refused_ticket_held_nowhere_is_asked_for_after_the_settle_time(refused) -> None:
    booth, clock = FakeBooth(), Clock()
    refuse(refused)
    claim = claimer(booth, refused, clock)
    assert claim.round() == DONE and booth.grants == 0  # first seen held nowhere
    clock.now += 9
    assert claim.round() == DONE and booth.grants == 0
    clock.now += 1
    assert claim.round() == DONE and booth.grants == 1
    assert booth.calls[-1] == ["booth", "grant", "-c", "/etc/booth/site-b.conf",
                               "fractal-service"]
    clock.now += 1  # the next attempt waits another settle time
    assert claim.round() == DONE and booth.grants == 1


def test_a_grant_that_the_check_refuses_again_is_retried_later(refused) -> None:
    booth, clock = FakeBooth(grant_code=1), Clock()
    refuse(refused)
    claim = claimer(booth, refused, clock)
    claim.round()
    clock.now += 10
    assert claim.round() == FAILED and booth.grants == 1
    clock.now += 10
    assert claim.round() == FAILED and booth.grants == 2


def test_a_ticket_revoked_by_an_operator_is_left_alone(refused) -> None:
    booth, clock = FakeBooth(), Clock()
    claim = claimer(booth, refused, clock)  # no refusal recorded here
    for _ in range(5):
        assert claim.round() == DONE
        clock.now += 10
    assert booth.grants == 0


def test_a_held_ticket_is_never_claimed_and_the_old_refusal_is_forgotten(refused) -> None:
    booth, clock = FakeBooth(AT_A), Clock()
    refuse(refused)
    claim = claimer(booth, refused, clock)
    for _ in range(3):
        assert claim.round() == DONE
        clock.now += 10
    assert booth.grants == 0 and not refused.exists()
    booth.listing = NOWHERE  # a later loss without a refusal here: left alone
    clock.now += 60
    claim.round()
    assert booth.grants == 0


def test_a_refusal_outlives_the_listing_of_the_lease_this_site_gave_up(refused) -> None:
    """booth still lists the site that refused at a renewal as the holder until its lease
    runs out: the refusal is kept through that (a claimer that forgot it then never asked
    again: the rig's site stayed down, in two CI runs), and the ticket is asked for once held
    nowhere for the settle time."""
    booth, clock = FakeBooth(AT_A), Clock()
    refuse(refused)
    claim = claimer(booth, refused, clock)
    claim.lease_s = 15.0
    for _ in range(4):  # 12 s of the lingering listing
        assert claim.round() == DONE
        clock.now += 3
    assert refused.exists()
    booth.listing = NOWHERE
    claim.round()
    clock.now += 10
    assert claim.round() == DONE and booth.grants == 1
    booth.listing = AT_A  # another grant, held past a lease: the refusal is moot
    claim.round()
    clock.now += 16
    claim.round()
    assert not refused.exists()


def test_held_nowhere_counts_afresh_after_a_holder(refused) -> None:
    booth, clock = FakeBooth(), Clock()
    claim = claimer(booth, refused, clock)
    claim.round()
    booth.listing = AT_A
    clock.now += 30
    claim.round()
    booth.listing = NOWHERE
    refuse(refused)
    clock.now += 1
    claim.round()
    clock.now += 5
    assert claim.round() == DONE and booth.grants == 0  # 5 s held nowhere, not 36


@pytest.mark.parametrize("answer", [
    subprocess.CompletedProcess([], 1, "", "connect to 203.0.113.21: refused"),
    subprocess.CompletedProcess([], 0, "garbage\n", ""),
    subprocess.TimeoutExpired(["booth"], 20),
    FileNotFoundError("booth"),
])
def test_booth_not_answering_is_reported_and_nothing_granted(refused, answer, caplog) -> None:
    calls = []

    def run(argv):
        calls.append(argv)
        if isinstance(answer, Exception):
            raise answer
        return answer

    refuse(refused)
    claim = Claimer("fractal-service", "/etc/booth/site-b.conf", str(refused), 0,
                    logging.getLogger("test"), run=run, clock=Clock())
    with caplog.at_level(logging.WARNING):
        assert claim.round() == FAILED
    assert all(argv[1] == "list" for argv in calls)
    assert caplog.records


def test_a_corrupt_refusal_record_is_not_acted_on(refused, caplog) -> None:
    booth, clock = FakeBooth(), Clock()
    refused.write_text("{not json")
    claim = claimer(booth, refused, clock)
    with caplog.at_level(logging.WARNING):
        claim.round()
        clock.now += 20
        claim.round()
    assert booth.grants == 0
    assert "refusal record" in caplog.text and "ignored" in caplog.text


def test_bad_configuration_is_exit_2_with_the_reason(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HA_LOGFACILITY", "none")
    config = tmp_path / "api.toml"
    config.write_text("[region_check]\nclaim_after_seconds = -3\n")
    assert ticket_claim.main([str(config), "--once"]) == ticket_claim.BAD_CONFIG
    assert "claim_after_seconds" in capsys.readouterr().err


# -- the check's token, kept fresh ---------------------------------------------------------------
@pytest.fixture
def keeper(cloud, clouds: Path, tmp_path: Path, monkeypatch) -> ticket_claim.LoginKeeper:
    """The claimer's LoginKeeper for the fake cloud; logins counted in `keeper.logins`."""
    state = tmp_path / "region-check"
    state.mkdir(mode=0o700)
    if os.geteuid() == 0:  # as the claimer runs: root, writing for booth's user
        os.chown(state, 65534, 65534)
    settings = Settings(store=f"swift://fake/fractal?region=RegionOne&config={clouds}",
                        region_check=RegionCheck(state_dir=str(state)))
    found = ticket_claim.keeper(settings, logging.getLogger("test"))
    assert found is not None
    found.clock = Clock()
    logins: list[float] = []
    real = region_probe.login
    monkeypatch.setattr(region_probe, "login",
                        lambda *a: logins.append(found.clock()) or real(*a))
    found.logins = logins  # type: ignore[attr-defined]
    return found


def test_a_standby_sites_check_token_is_renewed_before_it_expires(keeper) -> None:
    """booth runs the check only to acquire and to renew: at a standby site, its token would
    lapse, and the first check after an election would need Keystone (ticket_claim's doc)."""
    record = Path(keeper.login_file)
    keeper.round()
    assert record.exists() and record.stat().st_mode & 0o777 == 0o600
    assert record.stat().st_uid == record.parent.stat().st_uid  # booth's user's, not root's
    keeper.round()
    keeper.clock.now += ticket_claim.LOGIN_EVERY_S
    keeper.round()  # looked at: fresh for far longer than LOGIN_AHEAD_S
    assert len(keeper.logins) == 1
    data = json.loads(record.read_text())
    data["expires_at"] = time.time() + ticket_claim.LOGIN_AHEAD_S - 60
    record.write_text(json.dumps(data))
    keeper.clock.now += ticket_claim.LOGIN_EVERY_S
    keeper.round()
    assert len(keeper.logins) == 2
    assert json.loads(record.read_text())["expires_at"] > data["expires_at"]


def test_keystone_down_is_tried_every_few_minutes_and_warned_once(keeper, cloud,
                                                                   caplog) -> None:
    cloud.failing = {"identity"}
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            keeper.round()
            keeper.clock.now += ticket_claim.LOGIN_EVERY_S / 2
        assert len(keeper.logins) == 2
        assert caplog.text.count("token not renewed") == 1
        cloud.failing.clear()
        keeper.clock.now += ticket_claim.LOGIN_EVERY_S
        keeper.round()
    assert "token renewed" in caplog.text and Path(keeper.login_file).exists()


def test_a_missing_state_directory_is_not_made_as_root(keeper, caplog) -> None:
    """booth's user makes it at its first run; one of root's would keep its state unwritten."""
    state = Path(keeper.login_file).parent
    state.rmdir()
    keeper.round()
    assert not state.exists() and "token not renewed" in caplog.text


def test_no_region_to_log_in_to_is_logged_and_no_keeper(tmp_path, caplog) -> None:
    assert ticket_claim.keeper(Settings(store=None), logging.getLogger("test")) is None
    assert "not kept fresh" in caplog.text
