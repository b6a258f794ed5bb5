"""fractal-ticket-claim: asks booth for the Fractal service's ticket again once this site's
region can serve, after its check (fractal-region-check) refused the ticket.

booth 1.0 never retries an acquire that its before-acquire-handler refused, nor a ticket that a
holder gave up: the ticket then stays held nowhere — the service down in every site — until an
operator runs `booth grant`. This daemon, run beside the site's boothd (Pacemaker starts it with
booth-site, e.g. through ocf:heartbeat:anything), does what that operator would:

- the ticket held by any site: nothing to do (this site's old refusal is forgotten);
- held nowhere and this site's check refused it: once it has been held nowhere for
  `[region_check] claim_after_seconds`, `booth grant` at this site; booth runs the check again
  before granting, so a region that still cannot serve is refused again (and tried later), and
  booth still waits out the last lease and acquire-after before the site acts on the ticket;
- held nowhere with no refusal here (an operator's revoke, or the ticket never granted):
  left alone — a ticket an operator took away is not given back by a daemon;
- this site's check put the ticket on standby while giving it up (region_check.stand_down):
  lifted once booth has revoked it here;
- the check's cached token (its login record) renewed before it expires, held or not
  (LoginKeeper): booth runs the check only to acquire and to renew, so a standby site's
  token would lapse, and a site elected later would have to log in at its first renewal —
  with its own Keystone down then (two clouds), that counts against the site.

Every round is one `booth list`, so it stays cheap. Exit codes of `--once`: 0 done (or nothing
to do), 1 booth did not answer or refused the grant, 2 bad configuration.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fractal_service import json_record
from fractal_service.config import Settings
from fractal_service.store.swift_url import Target
from resource_agents.geo import region_check, region_probe
from resource_agents.geo.region_check import REFUSED_FILE, REFUSED_TYPES
from resource_agents.geo.region_probe import BadConfig, NoLogin
from resource_agents.ocf import log

DONE, FAILED, BAD_CONFIG = 0, 1, 2
DEFAULT_TICKET = "fractal-service"  # cluster/config's rsc_ticket names this one
DEFAULT_BOOTH_CONFIG = "/etc/booth/booth.conf"
ROUND_SECONDS = 2.0
BOOTH_TIMEOUT_S = 20.0  # a grant waits for the handler (its budget is a few seconds)
# The check's token renewed once it expires within LOGIN_AHEAD_S, its record looked at every
# LOGIN_EVERY_S at most (a Keystone that is down gets one login attempt that often).
LOGIN_AHEAD_S, LOGIN_EVERY_S = 900.0, 300.0

# booth list: "ticket: NAME, leader: NONE" or "ticket: NAME, leader: ADDRESS, expires: ..."
_LIST_LINE = re.compile(r"ticket:\s*(?P<ticket>[^,\s]+),\s*leader:\s*(?P<leader>[^,\s]+)")

Run = Callable[[Sequence[str]], subprocess.CompletedProcess]


class BoothError(Exception):
    """booth did not answer, or answered something unexpected."""


def leader(listing: str, ticket: str) -> str | None:
    """The site or arbitrator address that holds `ticket` in `booth list` output, None when it
    is held nowhere; BoothError when the ticket is not listed."""
    for match in _LIST_LINE.finditer(listing):
        if match["ticket"] == ticket:
            return None if match["leader"].upper() == "NONE" else match["leader"]
    raise BoothError(f"ticket {ticket!r} not in booth's list: {listing.strip()[:200]!r}")


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=BOOTH_TIMEOUT_S)


@dataclass
class Claimer:
    ticket: str
    booth_config: str
    refused_file: str
    claim_after: float
    logger: logging.Logger
    run: Run = _run
    clock: Callable[[], float] = time.monotonic
    nowhere_since: float | None = None
    # booth may list this site as the holder until the lease it just gave up runs out: a
    # holder seen for longer than this (the ticket's expire + acquire-after) is another
    # grant, whose start makes an older refusal here moot; None: forgotten at once.
    lease_s: float | None = None
    held_since: float | None = None

    def _booth(self, *args: str) -> subprocess.CompletedProcess:
        argv = ["booth", *args[:1], "-c", self.booth_config, *args[1:]]
        try:
            return self.run(argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BoothError(f"{' '.join(argv)}: {exc}") from None

    def round(self) -> int:
        # The standby this site's check set when it gave the ticket up, once booth took it.
        region_check.lift_standby(self.ticket, os.path.dirname(self.refused_file), self.logger,
                                  when_granted=False)
        try:
            listed = self._booth("list")
            if listed.returncode != 0:
                raise BoothError(f"booth list exited {listed.returncode}: "
                                 f"{(listed.stderr or listed.stdout).strip()[:200]}")
            holder = leader(listed.stdout, self.ticket)
        except BoothError as exc:
            self.logger.warning("%s", exc)
            return FAILED
        now = self.clock()
        if holder is not None:
            self.nowhere_since = None
            self.held_since = now if self.held_since is None else self.held_since
            if self.lease_s is None or now - self.held_since > self.lease_s:
                self._forget()
            return DONE
        self.held_since = None
        if self.nowhere_since is None:
            self.nowhere_since = now
        refusal = self._refusal()
        if refusal is None or now - self.nowhere_since < self.claim_after:
            return DONE
        self.nowhere_since = now  # the next attempt, if any, after another claim_after
        self.logger.warning("ticket %s held nowhere for %.0f s since this site refused it "
                            "(%s): asking booth to grant it here", self.ticket,
                            self.claim_after, refusal["why"])
        try:
            done = self._booth("grant", self.ticket)
        except BoothError as exc:
            self.logger.warning("%s", exc)
            return FAILED
        if done.returncode != 0:
            self.logger.warning("booth refused the grant (exit %d): %s", done.returncode,
                                (done.stderr or done.stdout).strip()[:200])
            return FAILED
        self.logger.info("booth granted ticket %s here", self.ticket)
        return DONE

    def _refusal(self) -> dict | None:
        found, why = json_record.load(self.refused_file, REFUSED_TYPES, "refusal record")
        if why:
            self.logger.warning("refusal record %s ignored: %s", self.refused_file, why)
        return found

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.refused_file)


@dataclass
class LoginKeeper:
    """Keeps the region check's login record fresh at this site (the module's last rule)."""

    target: Target
    login_file: str
    timeout: float
    logger: logging.Logger
    clock: Callable[[], float] = time.monotonic
    looked_at: float | None = None
    failing: bool = False  # warned once per failure, not every attempt

    def round(self) -> None:
        now = self.clock()
        if self.looked_at is not None and now - self.looked_at < LOGIN_EVERY_S:
            return
        self.looked_at = now
        try:
            renewed = region_probe.renew(self.login_file, self.target, LOGIN_AHEAD_S,
                                         self.timeout)
        except (NoLogin, BadConfig, OSError) as exc:
            if not self.failing:
                self.logger.warning("the region check's token not renewed (next try in "
                                    "%.0f s): %s", LOGIN_EVERY_S, exc)
            self.failing = True
            return
        if renewed or self.failing:
            self.logger.info("the region check's token renewed")
        self.failing = False


def keeper(settings: Settings, logger: logging.Logger) -> LoginKeeper | None:
    """None (logged) when the check's configuration names no region to log in to: the
    check refuses the ticket there anyway, with the reason."""
    try:
        target = region_check.site_target(settings)
    except BadConfig as exc:
        logger.error("the region check's token is not kept fresh: %s", exc)
        return None
    checks = settings.region_check
    return LoginKeeper(target, os.path.join(checks.state_dir, region_check.LOGIN_FILE),
                       float(checks.budget_seconds), logger)


def main(argv: list[str] | None = None) -> int:
    p = region_check.parser("fractal-ticket-claim", __doc__)
    p.add_argument("--booth-config", default=DEFAULT_BOOTH_CONFIG,
                   help=f"this site's booth configuration (default {DEFAULT_BOOTH_CONFIG})")
    p.add_argument("--ticket", default=DEFAULT_TICKET, help=f"default {DEFAULT_TICKET}")
    p.add_argument("--once", action="store_true", help="one round, then exit with its code")
    args = p.parse_args(argv)
    logger = log.setup("fractal-ticket-claim", args.ticket,
                       {"HA_LOGFACILITY": "daemon", **os.environ})
    try:
        settings = Settings.load(Path(args.config))
    except (OSError, ValueError) as exc:
        logger.error("bad configuration (%s): %s", args.config, exc)
        return BAD_CONFIG
    checks = settings.region_check
    claimer = Claimer(args.ticket, args.booth_config,
                      os.path.join(checks.state_dir, REFUSED_FILE),
                      checks.claim_after_seconds, logger,
                      lease_s=region_check.grant_window(args.booth_config, args.ticket))
    if args.once:
        return claimer.round()
    tokens = keeper(settings, logger)
    while True:
        claimer.round()
        if tokens is not None:
            tokens.round()
        time.sleep(ROUND_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
