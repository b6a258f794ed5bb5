"""ocf:fractal:floating-ip — an OpenStack floating IP that follows the service to this node.

start associates the floating IP with this node's port (one update when it is elsewhere,
verified by its answer); stop disassociates it only while it is still ours, conditionally on
the revision it read (If-Match), so a late stop never takes it from the node that now serves;
monitor is one GET with a cached token. Credentials come only from clouds.yaml.

The HA layer must never turn a cloud problem into an outage: the floating IP keeps forwarding
while the cloud's API is down, and nobody can move it meanwhile. Hence, per action and what the
cloud does ("no answer" = unreachable, 5xx/429, slow past the op's budget, TLS failure, or
Keystone failing a needed login; "held" = this node started the address and has not seen it
elsewhere since):

  action            cloud answers          no answer                 credentials refused,
                                                                     node-local problem
  probe             0 ours / 7             held: 0, else 7 (logged)  held: 0, else 7
  monitor (active)  0 ours / 7 elsewhere   0, logged as failing      0, logged as failing
  monitor (standby) renew the session,     7                         7
   role=Stopped     0 ours / 7
  start             associate: 0           retries, then 1 before    5 (this node; the
                    6: no such floating IP the op timeout            reason names it)
  stop              release if ours and    bounded attempt, then 0   0, logged
                    unchanged (412: read   (logged; a start
                    again): 0              elsewhere takes it)

Slow answers within the budget are answers; a cloud failing N % of calls is retried per call
within the op timeout (start, stop) or reported from the call that failed (monitor). A
refused token (401) means one new login, one Keystone call (the ids cached for the same
parameters still hold); a token near its expiry is renewed by the standby monitor, so that a
takeover needs no login. Each read records the address's port and revision (seen.json): a
takeover is then one update conditional on that revision (412: read, then update). A
standby's failed login is not tried again by its monitors for LOGIN_BACKOFF_S (a start does
not wait). The cache (session.json) is keyed by the parameters, the node and clouds.yaml; a
stale or damaged one is discarded, with a log line.
Every action ends before its op timeout minus a margin, whatever the cloud does.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from resource_agents.ocf.agent import SERVICE_ACTIONS, Action, Agent
from resource_agents.ocf.agent import main as run_agent
from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.params import Parameter
from resource_agents.openstack import neutron, session


def _port_map(value: str) -> str | None:
    for item in value.split():
        node, sep, port = item.partition(":")
        if not sep or not node or not port:
            return "must be space-separated NODE:PORT_ID pairs"
    return None


def _parse_port_map(value: str) -> dict[str, str]:
    return dict(item.split(":", 1) for item in value.split())


class _OutOfTime(BaseException):
    """An action's time budget ran out (raised from SIGALRM; not an Exception, so that no
    library on the way, openstacksdk's retries included, may swallow it)."""


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    """Raise _OutOfTime in the body after `seconds`: the hard deadline of an action, whatever
    the cloud (or a login's own retries) does."""
    def give_up(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.1))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# What the cloud can do to a call: every one of these means "the cloud cannot say".
_NO_ANSWER = (neutron.CloudError, neutron.Refused, _OutOfTime)
LOGIN_BACKOFF_S = 120  # between a standby's attempts to log in after a failed one


class FloatingIpAgent(Agent):
    name = "floating-ip"
    version = "1.1"
    shortdesc = "OpenStack floating IP on this node"
    longdesc = __doc__ or ""
    parameters = (
        Parameter("cloud", "clouds.yaml entry", required=True,
                  longdesc="Name of the cloud in clouds.yaml holding the credentials; nothing "
                           "secret is ever a parameter."),
        Parameter("clouds_yaml", "Path of clouds.yaml", default="",
                  longdesc="Explicit clouds.yaml; empty = the first of "
                           + ", ".join(session.SEARCH_PATH) + " (never the current "
                           "directory, never OS_* variables)."),
        Parameter("region_name", "Region", default=""),
        Parameter("floating_ip", "The floating IP (address or id)", required=True,
                  unique_group="address"),
        Parameter("network", "Network of the nodes' ports", default="",
                  longdesc="Where to look for this node's port on the server named like the "
                           "cluster node."),
        Parameter("port_map", "Explicit NODE:PORT_ID pairs", default="", check=_port_map,
                  longdesc="Overrides the server lookup, e.g. 'n1:3f0c… n2:9ab1…'."),
        Parameter("api_timeout", "Seconds per cloud API call", type=float, default=5.0,
                  minimum=0.5, maximum=60, reloadable=True),
        Parameter("api_grace", "Seconds of cloud API failures before the monitor logs errors",
                  type=float, default=30.0, minimum=0, maximum=86400, reloadable=True,
                  longdesc="The monitor keeps the address running while the cloud's API "
                           "fails (it cannot say otherwise, and the address still forwards); "
                           "it logs warnings, then errors after this long."),
    )
    actions = (
        Action("start", timeout=60),
        Action("stop", timeout=60),
        Action("monitor", timeout=20, interval=10),
        Action("migrate_to", timeout=20),
        Action("migrate_from", timeout=60),
        *SERVICE_ACTIONS,
    )

    def __init__(self, environ=None) -> None:
        super().__init__(environ)
        self._session: session.Session | None = None
        # Doubled after each call that timed out: a cloud slower than api_timeout (a slow
        # Keystone makes Neutron slow too: it validates tokens there) still answers in time.
        self._slow = 1.0
        self._standby = False  # a role=Stopped monitor: its logins back off after a failure

    # -- state -------------------------------------------------------------------------
    @property
    def home(self) -> str:
        return self.ocf.state_dir(self.name)

    def _path(self, name: str) -> str:
        return os.path.join(self.home, name)

    def _flag(self, name: str, on: bool) -> None:
        """A marker file: `held` (started here, not seen elsewhere since), `failing` (the
        cloud's API has not answered since the file's mtime)."""
        if on and not os.path.exists(self._path(name)):
            os.makedirs(self.home, mode=0o700, exist_ok=True)
            with open(self._path(name), "w"):
                pass
        elif not on:
            try:
                os.unlink(self._path(name))
            except FileNotFoundError:
                pass

    def _left(self) -> float:
        """Seconds this action may still spend: its op timeout minus a margin to report."""
        return self.remaining(margin=min(5.0, max(1.0, 0.1 * self.ocf.timeout)))

    def _call_timeout(self) -> float:
        return max(0.1, min(self.params["api_timeout"] * self._slow, self._left()))

    def _key(self) -> list:
        p = self.params
        return session.cache_key(
            node=self.ocf.node, cloud=p["cloud"],
            clouds_yaml=session.find_clouds_yaml(p["clouds_yaml"]), region=p["region_name"],
            floating_ip=p["floating_ip"], network=p["network"],
            port=_parse_port_map(p["port_map"]).get(self.ocf.node, ""))

    def session(self, renew: bool = False, within: float = 0.0) -> session.Session:
        """The cached session if valid for `within` s more, else a new login."""
        if not renew:
            if self._session is None:
                self._session, problem = session.load(self._path("session.json"), self._key())
                if problem:
                    self.log.warning("session cache discarded: %s", problem)
            if self._session is not None and self._session.fresh(within):
                return self._session
        if self._standby and self._backing_off():
            raise neutron.CloudError(f"no login: the last one failed less than {LOGIN_BACKOFF_S}"
                                     " s ago")
        p = self.params
        # A refused token (revoked) changes nothing the ids were resolved from: one Keystone
        # call. A token near its expiry is renewed off the takeover path (the standby
        # monitor): the ids are looked up again there, so a replaced port is found.
        try:
            self._session = session.login(
                cloud=p["cloud"], clouds_yaml=session.find_clouds_yaml(p["clouds_yaml"]),
                region=p["region_name"], floating_ip=p["floating_ip"], node=self.ocf.node,
                port_map=_parse_port_map(p["port_map"]), network=p["network"],
                timeout=self._call_timeout(), key=self._key(),
                previous=self._session if renew else None)
        except (*_NO_ANSWER, OcfError):
            self._flag("login_failed", True)
            os.utime(self._path("login_failed"))  # the back-off runs from the latest failure
            raise
        self._flag("login_failed", False)
        session.save(self._path("session.json"), self._session)
        self.log.info("logged in to cloud %r", p["cloud"])
        return self._session

    def _backing_off(self) -> bool:
        """A standby's login failed lately: a cloud that refuses or cannot answer gets one
        attempt per LOGIN_BACKOFF_S from each standby, not one per monitor. A start never
        waits for it (a takeover logs in whatever happened before)."""
        try:
            return time.time() - os.path.getmtime(self._path("login_failed")) < LOGIN_BACKOFF_S
        except OSError:
            return False

    def _call(self, method: str, body: dict | None = None,
              if_revision: int | None = None) -> dict:
        """One Neutron call on the floating IP, logging in again once if the token is refused."""
        current = self.session()
        for renewed in (False, True):
            url = neutron.floating_ip_url(current.endpoint, current.fip_id)
            try:
                return neutron.call(method, url, current.token, self._call_timeout(), body,
                                    current.tls, if_revision)
            except neutron.Unauthorized:
                if renewed:
                    raise
                current = self.session(renew=True)
        raise AssertionError("unreachable")

    def _read(self) -> tuple[str | None, int | None]:
        """(the port the address points at, the floating IP's revision_number)."""
        fip = self._call("GET")["floatingip"]
        self._saw(fip)
        return fip.get("port_id"), fip.get("revision_number")

    def _saw(self, fip: dict) -> None:
        """Record where the address pointed, at which revision: a takeover then needs one
        conditional update, not a read and an update (each a token check in Keystone)."""
        seen = {"fip": self.session().fip_id, "port": fip.get("port_id"),
                "revision": fip.get("revision_number")}
        if isinstance(seen["revision"], int) and self._seen(raw=True) != seen:
            os.makedirs(self.home, mode=0o700, exist_ok=True)
            with open(self._path("seen.json.tmp"), "w") as fh:
                json.dump(seen, fh)
            os.replace(self._path("seen.json.tmp"), self._path("seen.json"))

    def _seen(self, raw: bool = False):
        """(port, revision) last read here for this floating IP, or None."""
        try:
            with open(self._path("seen.json")) as fh:
                seen = json.load(fh)
        except (OSError, ValueError):
            return None
        if raw:
            return seen
        if (not isinstance(seen, dict) or seen.get("fip") != self.session().fip_id
                or not isinstance(seen.get("revision"), int)
                or not isinstance(seen.get("port"), (str, type(None)))):
            return None
        return seen["port"], seen["revision"]

    def _retrying(self, what: str, attempt):
        """Run `attempt` until it succeeds, retrying transient cloud errors with backoff; a
        retry starts only with its whole call timeout still ahead of the deadline."""
        delay, last = 0.25, ""
        while True:
            try:
                return attempt()
            except neutron.CloudError as exc:
                last = str(exc)
                if "timed out" in last.lower():
                    self._slow *= 2
            except neutron.Refused as exc:
                raise OcfError(Exit.ERR_GENERIC, f"{what}: {exc}") from None
            if self._left() < delay + self.params["api_timeout"]:
                raise OcfError(Exit.ERR_GENERIC, f"{what}: cloud API failing: {last}")
            self.log.warning("%s: %s; retrying in %.1f s", what, last, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- actions -----------------------------------------------------------------------
    def start(self) -> Exit:
        started = time.monotonic()
        try:
            with _within(self._left()):
                found, mine = self._associate()
        except _OutOfTime:
            raise OcfError(Exit.ERR_GENERIC, "start: the cloud did not answer within the op "
                           f"timeout ({self.ocf.timeout:g} s)") from None
        self._answered(ours=True)
        took = time.monotonic() - started
        # For the exporter: a takeover is a start that found the address on another node's
        # port (its holder could not release it: crashed or cut off).
        self.facts.update(associated=("g", 1), association_duration_seconds=("o", took),
                          takeovers=("a", float(found not in (None, mine))))
        self.log.info("%s associated with port %s in %.2f s", self.session().fip_address, mine,
                      took)
        return Exit.SUCCESS

    def _associate(self) -> tuple[str | None, str]:
        # Each call is retried on its own: a cloud failing every other request would never
        # let a whole GET-PUT sequence through if the sequence were retried as one.
        mine = self._retrying("log in", lambda: self.session().port_id)
        seen = self._seen()
        if seen is not None and seen[0] != mine:
            # A takeover as this node last saw the address: one update, conditional on the
            # revision read then. Done, it also says where the address was (nothing changed
            # it since); 412: it moved meanwhile, read it.
            try:
                updated = self._retrying("associate", lambda: self._call(
                    "PUT", {"floatingip": {"port_id": mine}}, if_revision=seen[1]))
                if updated.get("floatingip", {}).get("port_id") == mine:
                    self._saw(updated["floatingip"])
                    return seen[0], mine
            except neutron.Conflict:
                self.log.info("start: the floating IP changed since this node read it; "
                              "reading it again")
        found, _ = self._retrying("read the association", self._read)
        if found != mine:
            # Neutron answers an update with the resource as stored: that is the check that
            # the association took (one GET fewer on the takeover path, ~0.2 s in the lab).
            updated = self._retrying("associate", lambda: self._call(
                "PUT", {"floatingip": {"port_id": mine}}))
            if updated.get("floatingip", {}).get("port_id") != mine:
                raise OcfError(Exit.ERR_GENERIC, "the association did not take (another "
                                                 "node took the address meanwhile?)")
        return found, mine

    def more_actions(self) -> dict[str, Callable[[], Exit]]:
        # A planned move (allow-migrate=true): the source releases nothing and the target
        # takes the address in one update, so the NAT flips from one node's API straight to
        # the other's, never through "associated with nobody" (a stop then a start would
        # refuse every request in between). The stop Pacemaker runs on the source afterwards
        # finds the address elsewhere and leaves it (see _release).
        return {"migrate_to": lambda: Exit.SUCCESS, "migrate_from": self.start}

    def stop(self) -> Exit:
        if os.path.exists(self._path("session.json")):  # else never probed nor started here
            try:
                with _within(self._left()):
                    self._release()
            except (*_NO_ANSWER, OcfError) as exc:
                # A failed stop gets this node fenced, through the same cloud: succeed after
                # a bounded attempt. A later start anywhere takes the address with one update.
                self.log.error("stop: could not confirm the release of the floating IP (%s); "
                               "stopped anyway: a start elsewhere takes it over",
                               getattr(exc, "reason", str(exc)) or "no answer in time")
                self.facts["stops_unconfirmed"] = ("a", 1.0)
        # The session stays: a later start here (a fail-back) needs no new login.
        self._flag("held", False)
        self.facts["associated"] = ("g", 0)
        return Exit.SUCCESS

    def _release(self) -> None:
        mine = self._retrying("log in", lambda: self.session().port_id)
        while True:
            found, revision = self._retrying("read the association", self._read)
            if found != mine:
                return  # never take it from the node that holds it now
            try:
                # Only the revision just read: another node's association in between makes
                # Neutron answer 412, and the loop reads again.
                self._retrying("disassociate", lambda read=revision: self._call(
                    "PUT", {"floatingip": {"port_id": None}}, if_revision=read))
                return
            except neutron.Conflict:
                self.log.info("stop: the floating IP changed while being released; reading "
                              "it again")

    def monitor(self) -> Exit:
        probe = not self.ocf.interval
        # A recurring monitor where the address is not held: `op monitor role=Stopped`, which
        # Pacemaker runs on the nodes where it is stopped. Known by our record rather than by
        # the role Pacemaker passes: an answer "running" from a standby would be taken as
        # the address active on two nodes.
        standby = not probe and (not os.path.exists(self._path("held")) or self.environ.get(
            "OCF_RESKEY_CRM_meta_role", "").lower() == "stopped")
        self._standby = standby
        try:
            with _within(self._left()):
                if standby:  # valid until well after the next standby monitor
                    self.session(within=2 * self.ocf.interval)
                ours = self._read()[0] == self.session().port_id
        except (*_NO_ANSWER, OcfError) as exc:
            if isinstance(exc, OcfError) and exc.code == Exit.ERR_CONFIGURED and not probe:
                raise  # the cloud did answer: e.g. the floating IP no longer exists
            why = getattr(exc, "reason", str(exc)) or "no answer within the op timeout"
            return self._cannot_tell(why, probe, standby)
        self._answered(ours)
        self.facts["associated"] = ("g", 1 if ours else 0)
        return Exit.SUCCESS if ours else Exit.NOT_RUNNING

    def _cannot_tell(self, why: str, probe: bool, standby: bool) -> Exit:
        """The cloud cannot say where the address is: keep the last truth known here."""
        held = os.path.exists(self._path("held"))
        if probe or standby:
            answer = Exit.SUCCESS if held and probe else Exit.NOT_RUNNING
            self.log.warning("%s: the cloud cannot say (%s); answering from this node's "
                             "record: %s", "probe" if probe else "standby monitor", why,
                             "running" if answer == Exit.SUCCESS else "not running")
            return answer
        # The active monitor: the address still forwards and nobody can move it while the
        # API is down, so it stays "running" (a restart would need the same API).
        self._flag("failing", True)
        failing_for = time.time() - os.path.getmtime(self._path("failing"))
        log = self.log.error if failing_for >= self.params["api_grace"] else self.log.warning
        log("cloud API failing for %.0f s (%s); the address stays as it was", failing_for, why)
        self.facts["cloud_api_failing_seconds"] = ("g", failing_for)
        return Exit.SUCCESS

    def _answered(self, ours: bool) -> None:
        """The cloud answered: record the truth for a probe or monitor that cannot ask."""
        self._flag("held", ours)
        self._flag("failing", False)
        self.facts["cloud_api_failing_seconds"] = ("g", 0.0)


def main() -> int:
    return run_agent(FloatingIpAgent)


if __name__ == "__main__":
    raise SystemExit(main())
