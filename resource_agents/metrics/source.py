"""The cluster's tools, run at most once per cache period however many scrapes arrive.

One refresh runs crm_mon and corosync-quorumtool concurrently (~20 ms together on the lab);
cibadmin only when crm_mon reports a newer configuration change, or every `cib_every`
seconds (crm_mon's last-change has one-second resolution). A tool that fails or times out is
counted and logged, and its part of the snapshot is an error: the scrape still answers.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field

from resource_agents.metrics import cib, corosync, crm_mon
from resource_agents.metrics.failovers import FailoverTracker

log = logging.getLogger("fractal-ha.exporter")

# --fence-history=3: every fencing action (the default shows failures and pending only).
CRM_MON = ["crm_mon", "--output-as=xml", "--inactive", "--fence-history=3"]
CIBADMIN = ["cibadmin", "--query", "--local"]
QUORUMTOOL = ["corosync-quorumtool", "-p"]
# Only where crm_mon lists a ticket (a booth site): booth's lease, which changes at every renewal.
TICKETS = ["cibadmin", "--query", "--local", "--xpath", "//status/tickets"]


@dataclass
class Part:
    """One tool's contribution to a snapshot: a parsed value or an error."""

    value: object = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class Snapshot:
    taken_at: float = 0.0  # time.time()
    pacemaker: Part = field(default_factory=Part)  # crm_mon.ClusterState
    constraints: Part = field(default_factory=Part)  # list[cib.Location]
    corosync: Part = field(default_factory=Part)  # corosync.Quorum
    tickets: Part = field(default_factory=Part)  # list[cib.TicketLease]


class Source:
    def __init__(self, ttl: float = 1.0, timeout: float = 5.0, cib_every: float = 30.0,
                 crm_mon_argv: list[str] | None = None, cibadmin_argv: list[str] | None = None,
                 quorumtool_argv: list[str] | None = None,
                 tickets_argv: list[str] | None = None) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self.cib_every = cib_every
        self.argv = {"crm_mon": crm_mon_argv or CRM_MON, "cibadmin": cibadmin_argv or CIBADMIN,
                     "corosync-quorumtool": quorumtool_argv or QUORUMTOOL,
                     "cibadmin-tickets": tickets_argv or TICKETS}
        self.runs = dict.fromkeys(self.argv, 0)
        self.failures = dict.fromkeys(self.argv, 0)
        self.failovers = FailoverTracker()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._refreshed = 0.0  # time.monotonic() of the last refresh
        self._cib: tuple[float | None, float, Part] = (None, 0.0, Part())
        self._last_error: dict[str, str] = {}

    def snapshot(self) -> Snapshot:
        # Concurrent scrapes wait for the one refresh in flight and share its result.
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._refreshed >= self.ttl:
                self._snapshot = self._refresh()
                self._refreshed = time.monotonic()
            return self._snapshot

    def _refresh(self) -> Snapshot:
        snap = Snapshot(taken_at=time.time())
        started = time.monotonic()
        procs = {name: self._spawn(name) for name in ("crm_mon", "corosync-quorumtool")}
        out = {name: self._finish(name, proc, started) for name, proc in procs.items()}
        snap.pacemaker = self._parse("crm_mon", out["crm_mon"], crm_mon.parse)
        # corosync-quorumtool exits non-zero when not quorate: its output still says so.
        snap.corosync = self._parse("corosync-quorumtool", out["corosync-quorumtool"],
                                    corosync.parse, any_exit=True)
        state = snap.pacemaker.value
        if isinstance(state, crm_mon.ClusterState):
            for event in self.failovers.observe(state, snap.taken_at):
                log.warning("failover: %s moved from %s to %s (%s) in at most %.1f s",
                            event.resource, event.source, event.target, event.cause,
                            event.seconds)
        snap.constraints = self._constraints(state)
        if isinstance(state, crm_mon.ClusterState) and state.tickets:
            started = time.monotonic()
            result = self._finish("cibadmin-tickets", self._spawn("cibadmin-tickets"), started)
            snap.tickets = self._parse("cibadmin-tickets", result, cib.ticket_leases)
        return snap

    def _constraints(self, state: object) -> Part:
        change = state.last_change if isinstance(state, crm_mon.ClusterState) else None
        seen_change, fetched_at, part = self._cib
        fresh = time.monotonic() - fetched_at < self.cib_every
        if part.error == "" and part.value is not None and fresh and change == seen_change:
            return part
        started = time.monotonic()
        result = self._finish("cibadmin", self._spawn("cibadmin"), started)
        part = self._parse("cibadmin", result, cib.locations)
        if not part.error:
            self._cib = (change, time.monotonic(), part)
        return part

    # -- running the tools -------------------------------------------------------------
    def _spawn(self, name: str) -> subprocess.Popen | str:
        self.runs[name] += 1
        try:
            return subprocess.Popen(self.argv[name], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            return f"{self.argv[name][0]}: {exc.strerror or exc}"

    def _finish(self, name: str, proc: subprocess.Popen | str, started: float
                ) -> tuple[int, str, str, float]:
        if isinstance(proc, str):
            return -1, "", proc, time.monotonic() - started
        left = max(self.timeout - (time.monotonic() - started), 0.01)
        try:
            stdout, stderr = proc.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return -1, "", f"timed out after {self.timeout:g} s", time.monotonic() - started
        return (proc.returncode, stdout.decode(errors="replace"),
                stderr.decode(errors="replace"), time.monotonic() - started)

    def _parse(self, name: str, result: tuple[int, str, str, float], parser,
               any_exit: bool = False) -> Part:
        rc, stdout, stderr, seconds = result
        error = ""
        value = None
        if rc != 0 and not (any_exit and rc > 0 and stdout.strip()):
            detail = " ".join((stderr or stdout).split())[:300] or "no output"
            error = f"exit {rc}: {detail}" if rc >= 0 else detail
        else:
            try:
                value = parser(stdout)
            except Exception as exc:  # a tool's unexpected output must not break the scrape
                error = f"unparsable output: {type(exc).__name__}: {exc}"
        self._note(name, error)
        return Part(value, error, seconds)

    def _note(self, name: str, error: str) -> None:
        """A log line per failure, and one when the tool works again (not one per scrape of
        the same failure)."""
        previous = self._last_error.get(name, "")
        if error:
            self.failures[name] += 1
            if error != previous:
                log.warning("%s failed: %s", name, error)
        elif previous:
            log.warning("%s works again", name)
        self._last_error[name] = error
