"""ocf:fractal:floating-ip — an OpenStack floating IP that follows the service to this node.

start associates the floating IP with this node's port (one update call when it is elsewhere,
verified by its answer); stop disassociates it only while it is still ours, so a late stop
never takes it from the node that now serves; monitor is one GET with a cached token: ours →
running, anywhere else → not running. A cloud API that fails for less than `api_grace` seconds
does not fail the monitor (a blip must not move the service); a real loss of the association
is seen at the next monitor. Credentials come only from clouds.yaml.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
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
    """A monitor's time budget ran out (raised from SIGALRM; not an Exception, so that no
    library on the way may swallow it)."""


@contextmanager
def _within(seconds: float) -> Iterator[None]:
    """Raise _OutOfTime in the body after `seconds`: a check stuck in a slow login must answer
    before Pacemaker's op timeout, which would count as a failure of the address."""
    def give_up(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.1))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class FloatingIpAgent(Agent):
    name = "floating-ip"
    version = "1.0"
    shortdesc = "OpenStack floating IP on this node"
    longdesc = __doc__ or ""
    parameters = (
        Parameter("cloud", "clouds.yaml entry", required=True,
                  longdesc="Name of the cloud in clouds.yaml holding the credentials; nothing "
                           "secret is ever a parameter."),
        Parameter("clouds_yaml", "Path of clouds.yaml", default="",
                  longdesc="Explicit clouds.yaml; empty = openstacksdk's search path "
                           "(/etc/openstack/clouds.yaml, ~/.config/openstack/...)."),
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
        Parameter("api_grace", "Seconds of cloud API failures a monitor tolerates", type=float,
                  default=30.0, minimum=0, maximum=600, reloadable=True),
    )
    actions = (
        Action("start", timeout=60),
        Action("stop", timeout=60),
        Action("monitor", timeout=20, interval=10),
        *SERVICE_ACTIONS,
    )

    # -- state -------------------------------------------------------------------------
    @property
    def home(self) -> str:
        return self.ocf.state_dir(self.name)

    def _path(self, name: str) -> str:
        return os.path.join(self.home, name)

    def session(self, renew: bool = False) -> session.Session:
        cached = None if renew else session.load(self._path("session.json"))
        if cached is not None and cached.fresh:
            return cached
        p = self.params
        fresh = session.login(cloud=p["cloud"], clouds_yaml=p["clouds_yaml"],
                              region=p["region_name"], floating_ip=p["floating_ip"],
                              node=self.ocf.node, port_map=_parse_port_map(p["port_map"]),
                              network=p["network"], timeout=p["api_timeout"])
        session.save(self._path("session.json"), fresh)
        return fresh

    def _call(self, method: str, body: dict | None = None) -> dict:
        """One Neutron call on the floating IP, logging in again once if the token is refused."""
        current = self.session()
        url = neutron.floating_ip_url(current.endpoint, current.fip_id)
        try:
            return neutron.call(method, url, current.token, self.params["api_timeout"], body)
        except neutron.Unauthorized:
            current = self.session(renew=True)
            return neutron.call(method, url, current.token, self.params["api_timeout"], body)

    def _port_now(self) -> str | None:
        return self._call("GET")["floatingip"].get("port_id")

    def _is_ours(self) -> bool:
        """Whether the address points at this node's port, answered before the op timeout
        (else _OutOfTime): a check stuck in a slow login must not outlive the op."""
        with _within(self.remaining(margin=3.0)):
            return self._port_now() == self.session().port_id

    def _retrying(self, what: str, attempt):
        """Run `attempt` until it succeeds, retrying transient cloud errors with backoff
        within the op timeout."""
        delay, last = 0.25, ""
        while True:
            try:
                return attempt()
            except neutron.CloudError as exc:
                last = str(exc)
            except neutron.Refused as exc:
                raise OcfError(Exit.ERR_GENERIC, f"{what}: {exc}") from None
            if self.remaining(margin=2.0) < delay:
                raise OcfError(Exit.ERR_GENERIC, f"{what}: cloud API failing: {last}")
            self.log.warning("%s: %s; retrying in %.1f s", what, last, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- actions -----------------------------------------------------------------------
    def start(self) -> Exit:
        # Each call is retried on its own: a cloud failing every other request would never
        # let a whole GET-PUT-GET sequence through if the sequence were retried as one.
        started = time.monotonic()
        mine = self._retrying("log in", lambda: self.session().port_id)
        found = self._retrying("read the association", self._port_now)
        if found != mine:
            # Neutron answers an update with the resource as stored: that is the check that
            # the association took (one GET fewer on the takeover path, ~0.2 s in the lab).
            updated = self._retrying("associate", lambda: self._call(
                "PUT", {"floatingip": {"port_id": mine}}))
            if updated.get("floatingip", {}).get("port_id") != mine:
                raise OcfError(Exit.ERR_GENERIC, "the association did not take (another "
                                                 "node took the address meanwhile?)")
        self._record_ok()
        current = self.session()
        took = time.monotonic() - started
        # For the exporter: a takeover is a start that found the address on another node's
        # port (its holder could not release it: crashed or cut off).
        self.facts.update(associated=("g", 1), association_duration_seconds=("o", took),
                          takeovers=("a", float(found not in (None, mine))))
        self.log.info("%s associated with port %s in %.2f s", current.fip_address, mine, took)
        return Exit.SUCCESS

    def stop(self) -> Exit:
        if not os.path.exists(self._path("session.json")):
            return Exit.SUCCESS  # never probed nor started here: it cannot be ours
        mine = self._retrying("log in", lambda: self.session().port_id)
        if self._retrying("read the association", self._port_now) == mine:
            # never take it from the node that now holds it
            self._retrying("disassociate", lambda: self._call(
                "PUT", {"floatingip": {"port_id": None}}))
        # The session stays: a later start here (a fail-back) needs no new login.
        self.facts["associated"] = ("g", 0)
        return Exit.SUCCESS

    def monitor(self) -> Exit:
        if not os.path.exists(self._path("session.json")):
            if self.ocf.interval:
                return Exit.NOT_RUNNING  # a recurring monitor where we never started
            return self._probe()
        try:
            ours = self._is_ours()
        except neutron.CloudError as exc:
            return self._tolerate(str(exc))
        except _OutOfTime:
            return self._tolerate("no answer within the op timeout")
        except neutron.Refused as exc:
            raise OcfError(Exit.ERR_GENERIC, f"floating IP check refused: {exc}") from None
        self._record_ok()
        self.facts["associated"] = ("g", 1 if ours else 0)
        return Exit.SUCCESS if ours else Exit.NOT_RUNNING

    def _probe(self) -> Exit:
        """The probe Pacemaker runs on every node before any start: log in now, which answers
        truthfully (after a reboot the address may still point here) and leaves a warm
        session, so that a failover start to this node is two calls, not a login. Within a
        budget: a probe that times out is a failed resource, while "not here" is always safe
        for a floating IP (whichever node starts it takes it, wherever it pointed)."""
        try:
            ours = self._is_ours()
        except (neutron.CloudError, _OutOfTime) as exc:
            self.log.warning("probe: cloud %s; assuming not here",
                             f"unreachable ({exc})" if str(exc) else "too slow")
            return Exit.NOT_RUNNING
        except neutron.Refused as exc:
            raise OcfError(Exit.ERR_GENERIC, f"floating IP check refused: {exc}") from None
        except OcfError as exc:
            if exc.code != Exit.ERR_INSTALLED:
                raise
            # This node cannot ask the cloud (its clouds.yaml): it cannot have started the
            # address either; a start here fails with the reason and bans this node only.
            self.log.warning("probe: %s; assuming not here", exc)
            return Exit.NOT_RUNNING
        self._record_ok()
        return Exit.SUCCESS if ours else Exit.NOT_RUNNING

    def _tolerate(self, problem: str) -> Exit:
        """A failing cloud API: not a failover reason until it has failed for api_grace s."""
        try:
            last_ok = os.path.getmtime(self._path("last-ok"))
        except OSError:
            last_ok = 0.0
        failing_for = time.time() - last_ok
        if self.ocf.interval and failing_for < self.params["api_grace"]:
            self.log.warning("cloud API failing (%s); last good answer %.0f s ago, tolerated",
                             problem, failing_for)
            return Exit.SUCCESS
        raise OcfError(Exit.ERR_GENERIC, f"cloud API failing for {failing_for:.0f} s: {problem}")

    def _record_ok(self) -> None:
        os.makedirs(self.home, exist_ok=True)
        with open(self._path("last-ok"), "w"):
            pass  # its mtime is the time of the last good answer


def main() -> int:
    return run_agent(FloatingIpAgent)


if __name__ == "__main__":
    raise SystemExit(main())
