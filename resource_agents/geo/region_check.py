"""fractal-region-check: booth's before-acquire-handler for the Fractal service's ticket.

boothd runs it before its site acquires the ticket and again at every renewal while the site
holds it (booth(8): before-acquire-handler); a non-zero exit refuses the ticket, or gives it
up. It asks the site's own region whether it can serve: Object Storage (a HEAD of the container
the site's API writes, named by the API's own settings) and Neutron (one GET: a site taking
over moves its floating IP). The rules keep the check from causing the outage it guards against:

- acquiring, or the first check of a lease won by election (booth 1.0 runs no handler before a
  site wins the election that follows a lost holder): take or keep the ticket only if both
  answer within the budget — not Neutron once the ticket's floating IP is already started
  here (guarded.py: the address in place forwards without Neutron's API, which with the
  site's Keystone down cannot validate a token); a lease granted after this site's own
  passing acquire check (`booth grant`, the claimer) is a holder's from its first renewal;
- renewing a lease it held after a check: give it up only once Object Storage has failed for
  `grace_seconds` in a row (a blip moves nothing: a move is an outage of its own), never for
  Neutron alone (the floating IP in place keeps forwarding without Neutron's API);
- Keystone unreachable and no cached token: nothing is known of the region, so take or keep,
  with a warning (one Keystone serves every region: its loss is not this region's); where the
  site's Keystone is its own (`own_keystone`: two clouds), its loss counts as Object Storage's;
- bad configuration: refuse, with the reason, when not holding; a holder keeps the ticket and
  logs the error (a typo in one file must not stop a serving site).

Exit codes: 0 take or keep the ticket, 1 this region cannot serve, 2 bad configuration.
Run by hand (no BOOTH_* environment) it answers as a site about to acquire — would it take it?
— and changes nothing booth's runs rely on (the failure's start, the grant, the refusal).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fractal_service import json_record
from fractal_service.config import Settings
from fractal_service.store import swift_url
from fractal_service.store.swift_url import Target
from resource_agents.geo import guarded, region_probe
from resource_agents.geo.region_probe import BadConfig, Login, NoLogin
from resource_agents.ocf import log
from resource_agents.openstack.neutron import CloudError, Unauthorized

TAKE, REFUSE, BAD_CONFIG = 0, 1, 2
DEFAULT_CONFIG = "/etc/fractal/api.toml"  # the API's settings, as the package installs them
STATE_FILE = "state.json"  # in [region_check] state_dir: when Object Storage began failing
LOGIN_FILE = "login.json"  # the cached token (a secret: 0600)
# This site's last refusal, for fractal-ticket-claim (booth never retries a refused acquire);
# removed when a check takes or keeps the ticket.
REFUSED_FILE = "refused.json"
REFUSED_TYPES = {"at": (int, float), "why": str}
STOOD_DOWN_FILE = "stood-down.json"  # this site's check set the ticket to standby (stand_down)
# A holder letting go waits this long at most for its site to stop what the ticket guards
# (stand_down): past the renewal period the lease lapses, and the other site then waits
# acquire-after as after any lost holder.
STAND_DOWN_SECONDS = 5
# booth.conf's defaults (booth(8)), for grant_window
BOOTH_EXPIRE_S, BOOTH_ACQUIRE_AFTER_S = 600.0, 0.0
_STATE_TYPES = {"store": str, "failing_since": (int, float, type(None)),
                "grant": (str, type(None)), "acquired_at": (int, float, type(None))}


@dataclass(frozen=True)
class Findings:
    """What the region answered. Each field: why it did not (None: it did, or was not asked)."""

    login: str | None = None  # no token: nothing else was asked
    object_store: str | None = None
    network: str | None = None


def verdict(holder: bool, found: Findings, failing_for: float, grace: float,
            own_keystone: bool = False) -> tuple[int, str]:
    """(exit code, one line why). `failing_for`: seconds Object Storage (or, `own_keystone`,
    the site's own Keystone) has failed in a row."""
    if found.login is not None and not own_keystone:
        return TAKE, (f"no token from Keystone ({found.login}): nothing is known of this "
                      f"region, {'keeping' if holder else 'taking'} the ticket")
    failing = found.object_store
    if found.login is not None:
        failing = f"no token from this site's own Keystone ({found.login})"
    if holder:
        if failing is None:
            return TAKE, "Object Storage answers: keeping the ticket"
        if failing_for >= grace:
            return REFUSE, (f"Object Storage failing for {failing_for:.0f} s (grace "
                            f"{grace:g} s): {failing}: giving the ticket up")
        return TAKE, (f"Object Storage failing for {failing_for:.0f} s of a {grace:g} s grace "
                      f"({failing}): keeping the ticket")
    problems = [f"{name}: {why}" for name, why in (("Object Storage", failing),
                                                   ("Neutron", found.network)) if why]
    if problems:
        return REFUSE, f"this region cannot serve ({'; '.join(problems)}): refusing the ticket"
    return TAKE, "Object Storage and Neutron answer: taking the ticket"


def site_target(settings: Settings) -> Target:
    """The container the site's API writes (its store URL, which must name a region), read
    with the check's own clouds.yaml if set; BadConfig, one line, if there is none."""
    if not settings.store or not settings.store.startswith("swift:"):
        raise BadConfig("the API's store is not Object Storage (swift://…): no region to check")
    try:
        target = swift_url.parse(settings.store)
    except ValueError as exc:
        raise BadConfig(str(exc)) from None
    if not target.region:
        raise BadConfig(f"store URL {target.url!r} names no region (…?region=NAME)")
    if settings.region_check.clouds_yaml:
        target = dataclasses.replace(target, config=settings.region_check.clouds_yaml)
    return target


def probe(target: Target, ask_neutron: bool, budget: float, login_file: str,
          logger: logging.Logger, by_hand: bool = False) -> Findings:
    """Ask the region, within `budget` seconds in all: Neutron only where its answer could
    change the verdict (not for a holder, nor where the address is already in place).
    `by_hand`: a new login is kept for booth's user (region_probe.save)."""
    deadline = time.monotonic() + budget

    def left(share: float) -> float:
        return max(0.1, (deadline - time.monotonic()) * share)

    _, _, key = region_probe.where(target)
    found, why = region_probe.cached(login_file, key)
    if why:
        logger.warning("login record %s discarded: %s", login_file, why)
        region_probe.forget(login_file)
    refused = None
    for _attempt in (1, 2):  # a cached token refused (by either service): one fresh login
        if found is None:
            try:
                found = region_probe.login(target, left(1 / 3))
            except NoLogin as exc:
                return Findings(login=str(exc))
            _save(login_file, found, logger, by_hand)
        try:
            return _ask(found, target.container, ask_neutron, left)
        except _TokenRefused as exc:
            region_probe.forget(login_file)
            found, refused = None, exc
    assert refused is not None
    return Findings(**{refused.service: f"a fresh token refused ({refused.why})"})


class _TokenRefused(Exception):
    def __init__(self, service: str, why: str) -> None:
        super().__init__(why)
        self.service, self.why = service, why  # service: a Findings field


def _ask(found: Login, container: str, ask_neutron: bool, left) -> Findings:
    """Object Storage, then Neutron if asked. _TokenRefused if either refused the token:
    Swift's proxy keeps validated tokens for minutes, so after a revocation Neutron may be
    the only one to refuse it."""
    object_store = network = None
    try:
        region_probe.head_container(found, container, left(1 / 2 if ask_neutron else 1))
    except Unauthorized as exc:
        raise _TokenRefused("object_store", str(exc)) from None
    except CloudError as exc:
        object_store = str(exc)
    if ask_neutron:
        try:
            region_probe.list_networks(found, left(1))
        except Unauthorized as exc:
            if object_store is None:  # else the verdict is known: no login to change it
                raise _TokenRefused("network", str(exc)) from None
            network = str(exc)
        except CloudError as exc:
            network = str(exc)
    return Findings(object_store=object_store, network=network)


def _save(path: str, found: Login, logger: logging.Logger, by_hand: bool) -> None:
    try:
        region_probe.save(path, found, for_directory_owner=by_hand)
    except OSError as exc:  # the next run logs in again
        logger.warning("login record %s not written: %s", path, exc)


@dataclass
class State:
    """What the last run saw, in `state_dir`: since when Object Storage has failed, and the
    grant (Pacemaker's `last-granted` of the ticket) whose lease this site renewed after a
    check."""

    store: str
    failing_since: float | None = None
    grant: str | None = None
    acquired_at: float | None = None  # this site's last passing acquire check (epoch s)

    @classmethod
    def load(cls, path: str, store: str, logger: logging.Logger) -> State:
        """A damaged or foreign file starts afresh: a grace begins again, never ends early."""
        data, why = json_record.load(path, _STATE_TYPES, "region check state",
                                     optional=("acquired_at",))  # an older version's record
        if why:
            logger.warning("state file %s discarded: %s", path, why)
        if data is None or data["store"] != store:
            return cls(store)
        return cls(**data)

    def save(self, path: str, logger: logging.Logger) -> None:
        try:
            json_record.save(path, dataclasses.asdict(self))
        except OSError as exc:
            logger.warning("state file %s not written: %s", path, exc)

    def failing_for(self, failing: bool, now: float) -> float:
        """Seconds Object Storage has failed in a row, this run included (0: it answered)."""
        since = self.failing_since
        self.failing_since = (since if since is not None and since <= now else now) \
            if failing else None
        return now - self.failing_since if self.failing_since is not None else 0.0

    def renewing(self, grant: str | None) -> bool:
        """A renewal of a lease this site already held after a check, within the same grant.
        booth 1.0 runs the handler before a grant and at every renewal, not before a site wins
        the election that follows a lost holder: a new grant's first check is as strict as an
        acquire's. (booth's own `term` attribute stays 0 in the CIB: no use here.)"""
        return grant is not None and self.grant == grant

    def checked_before(self, grant: str | None, window: float | None) -> bool:
        """A new grant that followed this site's own passing acquire check within `window`
        (grant_window): booth ran the handler for it, so its first renewal is a holder's, not
        as strict as an acquire's (a Neutron that could not validate tokens while Keystone
        was down made a site that had just taken the ticket give it away)."""
        try:
            granted = float(grant) if grant is not None else None
        except ValueError:
            return False
        return (granted is not None and self.acquired_at is not None and window is not None
                and -1.0 <= granted - self.acquired_at <= window)


def _remember_refusal(path: str, why: str | None, logger: logging.Logger) -> None:
    try:
        if why is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        else:
            json_record.save(path, {"at": time.time(), "why": why})
    except OSError as exc:  # the claimer then leaves the ticket to the operator
        logger.warning("refusal record %s not updated: %s", path, exc)


def granted_here(ticket: str) -> bool | None:
    """Whether this site's CIB says the ticket is granted here (None: it cannot tell)."""
    if not ticket:
        return None
    done = _crm_ticket("--ticket", ticket, "--get-attr", "granted", timeout=2)
    if isinstance(done, str) or done.returncode != 0:
        return None
    return done.stdout.strip() == "true"


def pacemaker_grant(ticket: str, lease: float | None) -> str | None:
    """When Pacemaker last granted the ticket to this site (constant while booth renews it),
    if this site holds a lease; None if not, or if the CIB cannot tell (then: strict)."""
    if lease is None or not ticket:
        return None
    done = _crm_ticket("--ticket", ticket, "--get-attr", "last-granted", timeout=2)
    if isinstance(done, str):
        return None
    grant = done.stdout.strip()
    return grant if done.returncode == 0 and grant else None


def _crm_ticket(*args: str, timeout: float = 5.0) -> subprocess.CompletedProcess | str:
    """crm_ticket's answer, or why it gave none (one line)."""
    try:
        return subprocess.run(["crm_ticket", *args], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)


def _failed(done: subprocess.CompletedProcess | str) -> str | None:
    """Why a _crm_ticket call did not succeed (one line), None if it did."""
    if isinstance(done, str):
        return done
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-200:]


def stand_down(ticket: str, state_dir: str, logger: logging.Logger) -> None:
    """This site's share of giving the ticket up, before booth hands it over. booth 1.0 gives
    a ticket whose handler failed at a renewal to the other site at once (a vote for it, no
    acquire-after), so the other site's address started while this one's still answered (the
    two-site lab, RegionOne's Swift failing). So: the ticket to standby in this site's CIB
    (Pacemaker stops what it guards; booth never reads standby, so its own hand-over is
    unchanged) and a wait, at most STAND_DOWN_SECONDS, for the stops. `lift_standby` undoes
    the standby once the ticket has left (fractal-ticket-claim) or is taken again (a check)."""
    if why := _failed(_crm_ticket("--ticket", ticket, "--standby")):
        logger.warning("standing down: crm_ticket --standby: %s", why)
        return
    try:
        json_record.save(os.path.join(state_dir, STOOD_DOWN_FILE), {"at": time.time()})
    except OSError as exc:
        logger.warning("standing down: %s not written: %s", STOOD_DOWN_FILE, exc)
    try:
        waited = subprocess.run(["crm_resource", "--wait", f"--timeout={STAND_DOWN_SECONDS}s"],
                                capture_output=True, text=True, timeout=STAND_DOWN_SECONDS + 2)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("standing down: crm_resource --wait: %s", exc)
        return
    logger.info("stood down: the ticket on standby here, %s", "what it guards is stopped"
                if waited.returncode == 0 else f"stops still running after "
                f"{STAND_DOWN_SECONDS} s")


def lift_standby(ticket: str, state_dir: str, logger: logging.Logger, *,
                 when_granted: bool) -> None:
    """The standby `stand_down` set, lifted: by a check taking or keeping the ticket
    (`when_granted`), or by the claimer once booth has revoked the ticket here (lifted while
    still granted here, it would start the service again). Never an operator's standby."""
    marker = os.path.join(state_dir, STOOD_DOWN_FILE)
    if not os.path.exists(marker):
        return
    if not when_granted:
        granted = _crm_ticket("--ticket", ticket, "--get-attr", "granted")
        if isinstance(granted, str) or granted.stdout.strip() == "true":
            return
    if why := _failed(_crm_ticket("--ticket", ticket, "--activate")):
        logger.warning("the standby this site's check set is still on: %s", why)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker)
    logger.info("lifted the standby this site's check set when it gave the ticket up")


def grant_window(booth_conf: str, ticket: str) -> float | None:
    """How long after this site's handler passed booth may grant the ticket here: a grant's
    commit waits for every peer's answer or, at most, the ticket's expire + acquire-after
    (booth's do_grant_ticket: the other site down, as in a takeover). Read from booth's
    configuration (BOOTH_CONF_PATH, booth(8)'s defaults for what it does not set); None when
    it cannot be read: every new grant's first check is then an acquire's."""
    if not booth_conf:
        return None
    settings: dict[str | None, dict[str, str]] = {None: {}}
    section: str | None = None
    try:
        with open(booth_conf) as fh:
            for line in fh:
                key, sep, value = line.split("#", 1)[0].partition("=")
                if not sep:
                    continue
                key, value = key.strip(), value.strip().strip('"')
                if key == "ticket":
                    section = value
                    settings.setdefault(section, {})
                else:
                    settings.setdefault(section, {})[key] = value
        times = {**settings[None], **settings.get(ticket, {})}
        return (float(times.get("expire", BOOTH_EXPIRE_S))
                + float(times.get("acquire-after", BOOTH_ACQUIRE_AFTER_S)))
    except (OSError, ValueError):
        return None


def lease_end(environ: dict[str, str] | os._Environ[str]) -> float | None:
    """booth's BOOTH_TICKET_EXPIRES when still ahead (this site holds the ticket), else None
    (a site acquires only once the previous lease has lapsed; 0 when none)."""
    try:
        end = float(environ.get("BOOTH_TICKET_EXPIRES", "0"))
    except ValueError:
        return None
    return end if end > time.time() else None


def check(config: str, lease: float | None, logger: logging.Logger, ticket: str = "",
          window: float | None = None) -> int:
    """`window`: how long after a passing acquire check booth may grant (grant_window)."""
    state: State | None = None
    acquiring = lease is None
    try:
        settings = Settings.load(Path(config))
        target = site_target(settings)
        data = settings.region_check.state_dir
        state = State.load(os.path.join(data, STATE_FILE), target.url, logger)
        # Acquiring: no lease, or one booth still dates from before while this site's CIB
        # says the ticket is not granted here (a site taking the ticket back soon after
        # losing it: its old lease's expiry may still be ahead).
        acquiring = lease is None or granted_here(ticket) is False
        grant = None if acquiring else pacemaker_grant(ticket, lease)
        budget = settings.region_check.budget_seconds
        after_acquire = not state.renewing(grant) and state.checked_before(
            grant, None if window is None else window + budget)
        holder = state.renewing(grant) or after_acquire
        # A grant won by election, its floating IP already started here: Neutron's API is
        # no longer needed to serve (the rest of the check stays an acquire's).
        in_place = not acquiring and not holder and guarded.address_in_place(ticket)
        found = probe(target, not (holder or in_place), budget,
                      os.path.join(data, LOGIN_FILE), logger, by_hand=not ticket)
    except (OSError, ValueError, BadConfig) as exc:  # TOMLDecodeError is a ValueError
        reason = f"bad configuration ({config}): {exc}"
        if state is not None and acquiring and ticket:  # no passing acquire check to follow
            state.acquired_at = None
            state.save(os.path.join(data, STATE_FILE), logger)
        if lease is not None:
            logger.error("%s: keeping the ticket", reason)
            return TAKE
        logger.error("%s: refusing the ticket", reason)
        return BAD_CONFIG
    own_keystone = settings.region_check.own_keystone
    seconds = 0.0
    if found.login is None or own_keystone:
        failing = found.object_store is not None or found.login is not None
        seconds = state.failing_for(failing, time.time())
    code, why = verdict(holder, found, seconds, settings.region_check.grace_seconds,
                        own_keystone)
    if in_place and code == TAKE and found.login is None:
        why = ("Object Storage answers and the ticket's floating IP is already started here "
               "(Neutron not asked): keeping the ticket")
    if ticket:  # by hand: a dry run, which must not turn booth's next renewal into an acquire
        # booth's grant that follows a passing acquire check is this check's; the first
        # renewal after it has used it: later grants are elections or new acquires.
        passed = (code == TAKE and found.login is None) if acquiring else \
            (False if after_acquire else None)
        _record(state, data, logger, code=code, why=why, grant=grant, passed=passed)
    (logger.warning if code != TAKE or found.login or found.object_store else logger.info)(
        "region %s: %s", target.region, why)
    # A holder letting go after the grace: the other site may be waiting to take over. Not
    # at the first check of a grant won by election (the other site is the one just lost;
    # and the stand-down's time there kept booth from letting go: its lease ran out first
    # and booth re-elected this site, again and again: the claimer never saw it free).
    if code == REFUSE and holder and ticket:
        stand_down(ticket, data, logger)
    elif code == TAKE and ticket:
        lift_standby(ticket, data, logger, when_granted=True)
    return code


def _record(state: State, data: str, logger: logging.Logger, *, code: int, why: str,
            grant: str | None, passed: bool | None) -> None:
    """What booth's next runs and the claimer rely on: the grant kept (renewed as a holder's
    from then on), whether an acquire check passed (None: no news of one) and the refusal."""
    state.grant = grant if code == TAKE else None
    if passed is not None:
        state.acquired_at = time.time() if passed else None
    state.save(os.path.join(data, STATE_FILE), logger)
    _remember_refusal(os.path.join(data, REFUSED_FILE), None if code == TAKE else why, logger)


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The site's commands (this check, fractal-ticket-claim) read the site API's settings."""
    p = argparse.ArgumentParser(prog=prog, description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?",
                   default=os.environ.get("FRACTAL_CONFIG") or DEFAULT_CONFIG,
                   help=f"the site API's settings (TOML; default FRACTAL_CONFIG, else "
                        f"{DEFAULT_CONFIG})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser("fractal-region-check", __doc__).parse_args(argv)
    environ = dict(os.environ)
    environ.setdefault("HA_LOGFACILITY", "daemon")  # booth's handlers: the cluster's syslog
    ticket = environ.get("BOOTH_TICKET", "")
    logger = log.setup("fractal-region-check", ticket or "by-hand", environ)
    window = grant_window(environ.get("BOOTH_CONF_PATH", ""), ticket) if ticket else None
    # By hand (no ticket): always as a site about to acquire, whatever else is set.
    return check(args.config, lease_end(os.environ) if ticket else None, logger, ticket,
                 window)


if __name__ == "__main__":
    sys.exit(main())
