"""fractal-region-check, booth's before-acquire handler (resource_agents/geo/), against a fake
cloud (tests/support/fake_cloud.py) failing, slow, or both: a site takes the ticket only if its
region serves; a holder lets go only after Object Storage failed for the grace, never for
Neutron alone, never because Keystone is gone; bad configuration refuses, with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from resource_agents.geo import region_check
from resource_agents.geo.region_check import (
    BAD_CONFIG,
    LOGIN_FILE,
    REFUSE,
    REFUSED_FILE,
    STATE_FILE,
    TAKE,
)
from tests.support.fake_cloud import FakeCloud, clouds_yaml


@pytest.fixture
def site(cloud: FakeCloud, clouds: Path, tmp_path: Path) -> Path:
    """The site API's settings: its store in RegionOne of the fake cloud, a 1 s grace."""
    config = tmp_path / "api.toml"
    config.write_text(f'store = "swift://fake/fractal?region=RegionOne&config={clouds}"\n'
                      "[region_check]\ngrace_seconds = 1\nbudget_seconds = 2\n"
                      f'state_dir = "{tmp_path / "data"}"\n')
    return config


@pytest.fixture(autouse=True)
def term(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ticket's last grant as the CIB would give it (a crm_ticket of our own on PATH):
    write another to this file for a new election."""
    current = tmp_path / "last-granted"
    current.write_text("1796282045\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "crm_ticket"
    granted = tmp_path / "granted"  # written by a test: the CIB's `granted` (else unknown)
    fake.write_text(f"#!/bin/sh\n[ \"$*\" = '--ticket fractal-service --get-attr last-granted' ] "
                    f"&& exec cat {current}\n"
                    f"[ \"$*\" = '--ticket fractal-service --get-attr granted' ] && "
                    f"{{ [ -f {granted} ] && exec cat {granted}; exit 1; }}\n"
                    f"echo \"crm_ticket $*\" >> {tmp_path / 'calls'}\n"
                    "case \"$3\" in --standby|--activate) exit 0;; esac; exit 1\n")
    fake.chmod(0o755)
    waits = bin_dir / "crm_resource"
    waits.write_text(f"#!/bin/sh\necho \"crm_resource $*\" >> {tmp_path / 'calls'}\n")
    waits.chmod(0o755)
    # The site's CIB and crm_mon, as a test writes them (cib.xml, status.xml); none: no cluster
    for tool, argv, answer in (("cibadmin", "--query --local --scope constraints", "cib.xml"),
                               ("crm_mon", "--output-as=xml", "status.xml")):
        (bin_dir / tool).write_text(f"#!/bin/sh\n[ \"$*\" = '{argv}' ] || exit 64\n"
                                    f"exec cat {tmp_path / answer}\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return current


def run(config: Path, monkeypatch: pytest.MonkeyPatch, *, holder: bool) -> int:
    monkeypatch.setenv("HA_LOGFACILITY", "none")  # the log on stderr, for capsys
    monkeypatch.setenv("BOOTH_TICKET", "fractal-service")
    monkeypatch.setenv("BOOTH_TICKET_EXPIRES", str(int(time.time()) + (10 if holder else -5)))
    return region_check.main([str(config)])


def test_a_site_whose_region_serves_takes_the_ticket(site, cloud, monkeypatch, capsys) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.log == ["POST /identity/v3/auth/tokens", "HEAD /object/v1/AUTH_p1/fractal",
                         "GET /network/v2.0/networks"]
    assert "taking the ticket" in capsys.readouterr().err
    cloud.reset()  # the token is kept between runs: booth asks at every renewal
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.calls["identity"] == 0
    login = site.parent / "data" / LOGIN_FILE
    assert login.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("broken", ["object", "network"])
def test_a_site_whose_region_fails_refuses_the_ticket(site, cloud, monkeypatch, capsys,
                                                      broken) -> None:
    cloud.failing.add(broken)
    assert run(site, monkeypatch, holder=False) == REFUSE
    err = capsys.readouterr().err
    assert "refusing the ticket" in err and "answered 503" in err


def test_a_refusal_is_recorded_for_the_claimer_and_forgotten_on_a_take(site, cloud,
                                                                        monkeypatch) -> None:
    """fractal-ticket-claim asks for the ticket again only where a check refused it."""
    refused = site.parent / "data" / REFUSED_FILE
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=False) == REFUSE
    record = json.loads(refused.read_text())
    assert "Object Storage" in record["why"] and record["at"] <= time.time()
    assert refused.stat().st_mode & 0o777 == 0o600
    cloud.failing.clear()
    assert run(site, monkeypatch, holder=False) == TAKE
    assert not refused.exists()


def held(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lease's first check, the region answering: later runs renew a checked lease."""
    assert run(site, monkeypatch, holder=True) == TAKE


def test_a_holder_lets_go_only_after_the_grace(site, cloud, monkeypatch, capsys) -> None:
    held(site, monkeypatch)
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE  # a blip moves nothing
    assert "of a 1 s grace" in capsys.readouterr().err
    time.sleep(1.1)
    assert run(site, monkeypatch, holder=True) == REFUSE
    assert "giving the ticket up" in capsys.readouterr().err
    cloud.failing.clear()  # answering again: the count starts afresh
    held(site, monkeypatch)
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE


def test_a_holder_letting_go_stops_its_site_before_booth_hands_the_ticket_over(
        site, cloud, monkeypatch, tmp_path) -> None:
    """booth 1.0 gives the ticket to the other site as soon as the handler fails at a renewal
    (no acquire-after): on the two-site lab the other site's address started while this one's
    still answered. The holder puts it on standby in its own CIB and waits for the stops
    first; a site refusing to acquire has nothing to stop."""
    calls = tmp_path / "calls"
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=False) == REFUSE
    assert not calls.exists()
    cloud.failing.clear()
    held(site, monkeypatch)
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE  # the grace begins
    assert not calls.exists()
    time.sleep(1.1)
    assert run(site, monkeypatch, holder=True) == REFUSE
    assert calls.read_text().splitlines() == [
        "crm_ticket --ticket fractal-service --standby",
        f"crm_resource --wait --timeout={region_check.STAND_DOWN_SECONDS}s"]
    marker = tmp_path / "data" / region_check.STOOD_DOWN_FILE
    assert marker.exists()
    # Taken again later: the check lifts the standby it set (an operator's stays).
    cloud.failing.clear()
    calls.unlink()
    assert run(site, monkeypatch, holder=False) == TAKE
    assert calls.read_text().splitlines() == ["crm_ticket --ticket fractal-service --activate"]
    assert not marker.exists()
    calls.unlink()
    assert run(site, monkeypatch, holder=True) == TAKE
    assert not calls.exists()


def test_the_first_check_of_a_grant_is_as_strict_as_an_acquire(site, cloud, monkeypatch,
                                                              term) -> None:
    """booth 1.0 runs no handler before a site wins the election after a lost holder: the
    new holder's first check (at its first renewal) refuses a region that cannot serve."""
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == REFUSE
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == REFUSE
    cloud.failing.clear()
    held(site, monkeypatch)
    term.write_text("1796282099\n")  # lost, then won again: a new grant
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == REFUSE


def test_a_grant_that_followed_its_own_passing_acquire_check_renews_as_a_holder(
        site, cloud, monkeypatch, term) -> None:
    """booth ran the handler before this grant (`booth grant`, the claimer): its first renewal
    keeps the ticket when Neutron alone fails, as a holder's would (in the two-cloud lab, the
    private cloud's Keystone went down right after site A was granted the ticket: Neutron
    could not validate tokens, A's first renewal refused, and booth gave the ticket to B
    while A served). A grant won by election long after any acquire check stays strict."""
    booth_conf(site, monkeypatch)  # a grant may follow the check by expire + acquire-after
    assert run(site, monkeypatch, holder=False) == TAKE  # the acquire check
    term.write_text(f"{int(time.time()) + 14}\n")  # booth's commit, a peer not answering
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == TAKE
    term.write_text(f"{int(time.time()) + 60}\n")  # lost, then won an election, unchecked
    assert run(site, monkeypatch, holder=True) == REFUSE


CONSTRAINTS = """<constraints>
  <rsc_ticket id="ip-needs-ticket" ticket="fractal-service" loss-policy="stop" rsc="fractal-ip"/>
  <rsc_ticket id="other" ticket="other-ticket" rsc="other-ip"/>
</constraints>"""


def crm_mon(role: str = "Started", failed: str = "false", agent: str = "floating-ip") -> str:
    active = "true" if role == "Started" else "false"
    return f"""<pacemaker-result><resources>
  <resource id="fractal-ip" resource_agent="ocf:fractal:{agent}" role="{role}" active="{active}"
   failed="{failed}" nodes_running_on="{1 if active == 'true' else 0}">
   {'<node name="n1" id="1"/>' if active == "true" else ""}</resource>
  <resource id="other-ip" resource_agent="ocf:fractal:floating-ip" role="Stopped"
   active="false" failed="false" nodes_running_on="0"/>
</resources></pacemaker-result>"""


def test_a_grant_won_by_election_with_its_address_started_keeps_it_without_neutron(
        site, cloud, monkeypatch, term, tmp_path, capsys) -> None:
    """The first check of a grant won by election: once the ticket's floating IP is started
    here, Neutron is not asked (the address forwards without its API; with the site's
    Keystone down it could not validate a token: on the two-cloud lab, site A elected after
    B's crash gave the ticket up at its first renewal, and nobody held it). Object Storage is
    asked as strictly as before; an address not started, failed or not known: Neutron too."""
    cloud.failing = {"network"}
    (tmp_path / "cib.xml").write_text(CONSTRAINTS)
    for status in (None, crm_mon(role="Stopped"), crm_mon(failed="true"),
                   crm_mon(agent="other"), "<garbled"):
        if status is not None:
            (tmp_path / "status.xml").write_text(status)
        assert run(site, monkeypatch, holder=True) == REFUSE, status
    (tmp_path / "status.xml").write_text(crm_mon())
    assert run(site, monkeypatch, holder=True) == TAKE
    assert "floating IP is already started here (Neutron not asked)" in capsys.readouterr().err
    term.write_text("1796282099\n")  # lost, then won again: a new grant
    cloud.failing = {"object"}
    assert run(site, monkeypatch, holder=True) == REFUSE


def test_a_check_by_hand_changes_nothing_booths_runs_rely_on(site, cloud, monkeypatch,
                                                              term) -> None:
    """Run by hand on a holding site (an operator's question, the lab's tests), a refusing
    check must neither turn the next renewal into an acquire's nor record a refusal for the
    claimer (on the two-cloud lab, a run by hand made site A's next renewal strict)."""
    held(site, monkeypatch)
    state = (site.parent / "data" / STATE_FILE).read_text()
    cloud.failing = {"network"}
    monkeypatch.delenv("BOOTH_TICKET", raising=False)
    monkeypatch.delenv("BOOTH_TICKET_EXPIRES", raising=False)
    assert region_check.main([str(site)]) == REFUSE  # would it take it? not now
    assert (site.parent / "data" / STATE_FILE).read_text() == state
    assert not (site.parent / "data" / REFUSED_FILE).exists()
    assert run(site, monkeypatch, holder=True) == TAKE  # still a holder's renewal


def booth_conf(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = site.parent / "booth.conf"
    conf.write_text('transport = UDP\nexpire = 600\nticket = "other"\n    expire = 1\n'
                    'ticket = "fractal-service"\n    expire = 10\n    acquire-after = 5 # s\n')
    monkeypatch.setenv("BOOTH_CONF_PATH", str(conf))


def test_taking_the_ticket_back_before_the_old_lease_ran_out_is_an_acquire(
        site, cloud, monkeypatch, term, tmp_path) -> None:
    """booth's lease from this site's last holding may still be ahead when it takes the
    ticket back (a switchover there and back): the CIB says not granted here, so the check is
    an acquire's, strict, and the grant that follows renews as a holder's (on the two-cloud
    lab such a check counted as a renewal of the old grant, and the new grant's first renewal,
    with Keystone down, refused)."""
    booth_conf(site, monkeypatch)
    held(site, monkeypatch)  # an earlier holding
    (tmp_path / "granted").write_text("false\n")
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == REFUSE  # an acquire: Neutron counts
    cloud.failing.clear()
    assert run(site, monkeypatch, holder=True) == TAKE
    (tmp_path / "granted").write_text("true\n")
    term.write_text(f"{int(time.time())}\n")  # the new grant
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == TAKE


def test_the_grant_window_is_the_tickets_expire_and_acquire_after(site, monkeypatch) -> None:
    booth_conf(site, monkeypatch)
    conf = str(site.parent / "booth.conf")
    assert region_check.grant_window(conf, "fractal-service") == 15.0
    assert region_check.grant_window(conf, "unknown") == 600.0  # the global, booth's default
    assert region_check.grant_window(str(site.parent / "missing.conf"), "x") is None


def test_a_grant_long_after_the_acquire_check_is_an_election_won(site, cloud, monkeypatch,
                                                                 term) -> None:
    booth_conf(site, monkeypatch)
    assert run(site, monkeypatch, holder=False) == TAKE
    term.write_text(f"{int(time.time()) + 15 + 2 + 5}\n")  # past the window and the budget
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == REFUSE


def test_no_acquire_check_passed_by_hand_or_without_a_token(site, cloud, monkeypatch,
                                                             term) -> None:
    """Only a check booth ran that asked the region counts: not one run by hand, not a take
    for want of a token (nothing was known)."""
    booth_conf(site, monkeypatch)
    monkeypatch.delenv("BOOTH_TICKET", raising=False)
    monkeypatch.setenv("HA_LOGFACILITY", "none")
    assert region_check.main([str(site)]) == TAKE  # by hand
    term.write_text(f"{int(time.time())}\n")
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == REFUSE
    cloud.failing = {"identity"}
    (site.parent / "data" / LOGIN_FILE).unlink(missing_ok=True)
    assert run(site, monkeypatch, holder=False) == TAKE  # no token: nothing is known
    term.write_text(f"{int(time.time())}\n")
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == REFUSE


def test_a_state_an_older_version_wrote_keeps_its_grant(site, cloud, monkeypatch,
                                                         term) -> None:
    """state.json without `acquired_at` (written before it existed): read, not discarded, so
    a renewal of its grant stays a holder's."""
    held(site, monkeypatch)
    path = site.parent / "data" / STATE_FILE
    record = json.loads(path.read_text())
    del record["acquired_at"]
    path.write_text(json.dumps(record))
    cloud.failing = {"network"}
    assert run(site, monkeypatch, holder=True) == TAKE


def test_swift_failing_and_neutron_refusing_the_token_refuse_without_a_new_login(
        site, cloud, monkeypatch) -> None:
    """Object Storage fails: the verdict is known whatever Neutron says of the token, and no
    login through a Keystone that is gone turns it into "nothing is known"."""
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.revoke()
    cloud.failing = {"object", "identity"}
    assert run(site, monkeypatch, holder=False) == REFUSE


def test_a_sites_own_keystone_lost_counts_as_its_region_failing(site, cloud, monkeypatch,
                                                                capsys) -> None:
    """Two clouds: the site's Keystone is its own. Gone with no usable token, an acquirer
    refuses and a holder keeps the ticket for the grace only."""
    site.write_text(site.read_text() + "own_keystone = true\n")
    cloud.failing = {"identity"}
    assert run(site, monkeypatch, holder=False) == REFUSE
    assert "own Keystone" in capsys.readouterr().err
    cloud.failing.clear()
    held(site, monkeypatch)
    cloud.revoke()  # the cached token refused: a login is needed, and Keystone is gone
    cloud.failing = {"identity"}
    assert run(site, monkeypatch, holder=True) == TAKE
    time.sleep(1.1)  # the grace (1 s)
    assert run(site, monkeypatch, holder=True) == REFUSE


def test_a_holder_never_lets_go_for_neutron_alone(site, cloud, monkeypatch) -> None:
    held(site, monkeypatch)
    cloud.reset()
    cloud.failing.add("network")
    for _ in range(2):
        assert run(site, monkeypatch, holder=True) == TAKE
        time.sleep(0.6)
    assert cloud.calls["network"] == 0  # not even asked: it could not change the verdict


def test_keystone_gone_is_no_evidence_against_the_region(site, cloud, monkeypatch,
                                                         capsys) -> None:
    cloud.failing.add("identity")
    assert run(site, monkeypatch, holder=False) == TAKE
    assert "nothing is known of this region" in capsys.readouterr().err
    assert run(site, monkeypatch, holder=True) == TAKE


def test_with_a_cached_token_keystone_gone_still_lets_the_region_answer(site, cloud,
                                                                        monkeypatch) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.failing.update({"identity", "object"})
    assert run(site, monkeypatch, holder=False) == REFUSE


def test_a_refused_token_is_replaced_once(site, cloud, monkeypatch) -> None:
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.revoke()
    cloud.reset()
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.log == ["HEAD /object/v1/AUTH_p1/fractal", "POST /identity/v3/auth/tokens",
                         "HEAD /object/v1/AUTH_p1/fractal", "GET /network/v2.0/networks"]


def test_a_token_neutron_refuses_is_replaced_though_swift_still_takes_it(site, cloud,
                                                                         monkeypatch) -> None:
    """Swift's proxy keeps validated tokens for minutes (memcached; the lab's 300 s): after a
    revocation the cached token passes the HEAD and Neutron alone refuses it. One fresh login
    then, as for Object Storage, not a refused ticket (in the two-cloud lab, a site whose
    cloud had disabled and restored its account refused a takeover for two minutes)."""
    assert run(site, monkeypatch, holder=False) == TAKE
    cloud.object_caches_tokens = True
    cloud.revoke()
    cloud.reset()
    assert run(site, monkeypatch, holder=False) == TAKE
    assert cloud.log == ["HEAD /object/v1/AUTH_p1/fractal", "GET /network/v2.0/networks",
                         "POST /identity/v3/auth/tokens", "HEAD /object/v1/AUTH_p1/fractal",
                         "GET /network/v2.0/networks"]


def test_a_region_slow_and_failing_is_judged_within_the_budget(site, cloud,
                                                               monkeypatch) -> None:
    """Swift answering 503 after 5 s: the check ends within its 2 s budget (booth renews
    every few seconds), the token's login included."""
    cloud.failing.add("object")
    cloud.delays.update({"object": 5.0, "identity": 0.3})
    started = time.monotonic()
    assert run(site, monkeypatch, holder=False) == REFUSE
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"store": 1, "failing_since": null}'])
def test_damaged_records_are_discarded_never_trusted(site, cloud, monkeypatch, capsys,
                                                     damage) -> None:
    data = site.parent / "data"
    data.mkdir()
    for name in (LOGIN_FILE, STATE_FILE):
        (data / name).write_text(damage)
    assert run(site, monkeypatch, holder=True) == TAKE  # checked afresh: the region serves
    err = capsys.readouterr().err
    assert "login record" in err and "state file" in err and "discarded" in err
    assert json.loads((data / STATE_FILE).read_text())["grant"] == "1796282045"
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE  # the grace begins now, not before


def test_a_failure_dated_in_the_future_starts_the_grace_now(site, cloud, monkeypatch) -> None:
    """A clock stepped back must not make the grace end early (or never)."""
    held(site, monkeypatch)
    state = site.parent / "data" / STATE_FILE
    record = json.loads(state.read_text())
    state.write_text(json.dumps({**record, "failing_since": time.time() + 600}))
    cloud.failing.add("object")
    assert run(site, monkeypatch, holder=True) == TAKE
    assert abs(json.loads(state.read_text())["failing_since"] - time.time()) < 5


@pytest.mark.parametrize(("settings", "reason"), [
    ('store = "sqlite:///var/lib/fractal/fractals.db"\n', "is not Object Storage"),
    ('store = "swift://fake/fractal"\n', "names no region"),
    ('store = "swift://fake/fractal?region=RegionOne&config=/nonexistent.yaml"\n',
     "no clouds.yaml"),
    ("[region_check]\ngrace_seconds = -1\n", "must be positive"),
    ("store = \n", "bad configuration"),
])
def test_bad_configuration_refuses_with_one_line_why(tmp_path, monkeypatch, capsys, settings,
                                                     reason) -> None:
    config = tmp_path / "api.toml"
    config.write_text(f'{settings}[region_check]\nstate_dir = "{tmp_path}"\n'
                      if "[region_check]" not in settings else settings)
    assert run(config, monkeypatch, holder=False) == BAD_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0] and "refusing the ticket" in err[0]
    # A holder keeps the ticket: a typo in one file must not stop a serving site.
    assert run(config, monkeypatch, holder=True) == TAKE
    assert "keeping the ticket" in capsys.readouterr().err


def test_credentials_refused_are_bad_configuration(site, cloud, clouds, monkeypatch) -> None:
    entry = clouds_yaml(cloud)
    entry["clouds"]["fake"]["auth"]["password"] = "wrong"
    clouds.write_text(yaml.safe_dump(entry))
    assert run(site, monkeypatch, holder=False) == BAD_CONFIG


def test_the_command_never_prints_a_secret(site, cloud, tmp_path) -> None:
    """As booth runs it: the installed entry point, its environment only."""
    env = {**os.environ, "HA_LOGFACILITY": "none", "BOOTH_TICKET": "fractal-service"}
    env.pop("BOOTH_TICKET_EXPIRES", None)
    done = subprocess.run([sys.executable, "-m", "resource_agents.geo.region_check",
                           str(site)], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == TAKE, done.stderr
    token = json.loads((tmp_path / "data" / LOGIN_FILE).read_text())["token"]
    assert token not in done.stderr + done.stdout and "secret" not in done.stderr
    assert "fractal-region-check(fractal-service)" in done.stderr


def test_its_own_clouds_yaml_overrides_the_store_urls(clouds, tmp_path, monkeypatch) -> None:
    """booth's user (hacluster) may not read the API's clouds.yaml: [region_check] names one."""
    config = tmp_path / "api.toml"
    config.write_text('store = "swift://fake/fractal?region=RegionOne&config=/nonexistent"\n'
                      f'[region_check]\nclouds_yaml = "{clouds}"\nstate_dir = "{tmp_path}"\n')
    assert run(config, monkeypatch, holder=False) == TAKE


def test_an_unwritable_state_dir_is_a_warning_not_a_verdict(site, cloud, monkeypatch,
                                                            capsys) -> None:
    blocked = site.parent / "blocked"
    blocked.write_text("a file where the directory should be")
    site.write_text(site.read_text().replace(str(site.parent / "data"), str(blocked / "x")))
    assert run(site, monkeypatch, holder=False) == TAKE
    assert "not written" in capsys.readouterr().err


@pytest.mark.parametrize("granted_here", [True, False])
def test_the_claimer_lifts_the_checks_standby_once_booth_took_the_ticket(
        tmp_path, monkeypatch, granted_here: bool) -> None:
    """Lifted while still granted here, the standby would start the service again beside the
    new holder; left on, this site would never serve again."""
    asked: list[tuple[str, ...]] = []

    def crm_ticket(*args: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
        asked.append(args)
        out = ("true" if granted_here else "false") if "granted" in args else ""
        return subprocess.CompletedProcess(args, 0, out + "\n", "")

    monkeypatch.setattr(region_check, "_crm_ticket", crm_ticket)
    logger = region_check.log.setup("test", "t", {"HA_LOGFACILITY": "none"})
    region_check.lift_standby("fractal-service", str(tmp_path), logger, when_granted=False)
    assert asked == []  # no standby of ours: nothing asked
    (tmp_path / region_check.STOOD_DOWN_FILE).write_text('{"at": 1}')
    region_check.lift_standby("fractal-service", str(tmp_path), logger, when_granted=False)
    activated = ("--ticket", "fractal-service", "--activate") in asked
    assert activated is not granted_here
    assert (tmp_path / region_check.STOOD_DOWN_FILE).exists() is granted_here


def test_a_check_by_hand_makes_no_state_directory(site, cloud, monkeypatch) -> None:
    """Run by hand as root on a fresh node, it must not make booth's user's state directory
    as root's (booth's runs could not write their state there)."""
    monkeypatch.delenv("BOOTH_TICKET", raising=False)
    monkeypatch.delenv("BOOTH_TICKET_EXPIRES", raising=False)
    monkeypatch.setenv("HA_LOGFACILITY", "none")
    assert region_check.main([str(site)]) == TAKE
    assert not (site.parent / "data").exists()
