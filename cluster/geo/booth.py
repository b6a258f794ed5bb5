"""booth (Debian's booth 1.0): the ticket that says which site runs the Fractal service.

Two sites and an arbitrator vote over UDP; a site runs what the ticket guards (rsc_ticket) only
while it holds it. One configuration, identical everywhere; each daemon finds its own role by
the address it has. Facts of Debian 12's booth this module works around
(/work/shared/notes/multisite-etcd.md): it hangs on this kernel unless IPv6 is off in its
network namespace; site-user/site-group are misparsed, so they are never written; the
booth-site agent finds its daemon by configuration name, so each site gets its own name.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster.lab.netns import disable_ipv6
from cluster.private_file import write_private
from resource_agents.ocf import process

TICKET = "fractal-service"
PORT = 9929  # booth's own default, UDP for votes and TCP for its client commands
# booth's parser refuses a longer value ("key/value too long in config file"), e.g. an authfile
# path under pytest's temporary directories.
MAX_VALUE = 63


@dataclass(frozen=True)
class TicketTimes:
    """The ticket's timings, in seconds (booth's defaults are for WANs: expire 600 s).

    The lab's: a lost site's ticket expires after `expire`; its holder renews every
    `renewal_freq` (booth's default: expire/2), resending after `timeout` up to `retries` times;
    the other site waits `acquire_after` more, long enough for the old site to have stopped
    its API (loss-policy=stop), so the two never serve at once.
    """

    expire: float = 10.0
    timeout: float = 1.0
    retries: int = 3
    renewal_freq: float | None = None
    acquire_after: float = 5.0

    @property
    def renewal(self) -> float:
        return self.renewal_freq if self.renewal_freq is not None else self.expire / 2

    def problems(self) -> list[str]:
        """Why booth would refuse these times at load (its own rules), one line each."""
        found = []
        if self.retries < 3:
            found.append(f"retries={self.retries}: booth needs at least 3")
        if self.timeout * (self.retries + 1) >= self.renewal:
            found.append(f"timeout*(retries+1) = {self.timeout * (self.retries + 1):g} s must "
                         f"be shorter than the renewal period ({self.renewal:g} s)")
        if self.renewal > self.expire:
            found.append(f"renewal-freq={self.renewal:g} s is longer than expire="
                         f"{self.expire:g} s: the ticket would lapse between renewals")
        if self.acquire_after < 0:
            found.append(f"acquire-after={self.acquire_after:g} s is negative")
        return found


@dataclass(frozen=True)
class BoothConfig:
    sites: tuple[str, ...]  # each site's booth address (its booth-site resource's IP)
    arbitrators: tuple[str, ...]
    authfile: Path
    times: TicketTimes = field(default_factory=TicketTimes)
    before_acquire_handler: str | None = None
    ticket: str = TICKET
    port: int = PORT

    def render(self) -> str:
        problems = self.times.problems()
        if len(str(self.authfile)) > MAX_VALUE:
            problems.append(f"authfile path {self.authfile} is longer than booth's "
                            f"{MAX_VALUE} characters")
        if len(self.sites) + len(self.arbitrators) < 3:
            problems.append("booth needs at least three members (sites and arbitrators)")
        if problems:
            raise ValueError("booth configuration: " + "; ".join(problems))
        lines = ["transport = UDP", f"port = {self.port}", f"authfile = {self.authfile}",
                 *(f"site = {a}" for a in self.sites),
                 *(f"arbitrator = {a}" for a in self.arbitrators),
                 f'ticket = "{self.ticket}"',
                 f"    expire = {self.times.expire:g}",
                 f"    timeout = {self.times.timeout:g}",
                 f"    retries = {self.times.retries}",
                 f"    renewal-freq = {self.times.renewal:g}",
                 f"    acquire-after = {self.times.acquire_after:g}"]
        if self.before_acquire_handler:
            lines.append(f"    before-acquire-handler = {self.before_acquire_handler}")
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render())
        return path


def make_authfile(path: Path) -> Path:
    """booth's shared key: 8 to 64 characters, readable by its owner only (booth checks)."""
    if not path.exists():
        write_private(path, base64.b64encode(secrets.token_bytes(36)).decode())  # 48 chars
    return path




@dataclass(frozen=True)
class Arbitrator:
    """A plain `boothd daemon` in the arbitrator's namespace (no cluster there), in the
    foreground so we own its PID. boothd leaves its working directory, so it is recognised by
    its configuration's path in its (rewritten) process title instead."""

    netns: str
    config: Path
    home: Path

    @property
    def _pidfile(self) -> str:
        return str(self.home / "boothd.pid")

    def pid(self) -> int | None:
        pid = process.read_pid(self._pidfile)
        if pid is None or not process.is_alive(pid):
            return None
        title = process.read_text(f"/proc/{pid}/cmdline") or ""
        return pid if str(self.config) in title else None

    def start(self, timeout: float = 15.0) -> None:
        """Idempotent; returns once it answers `booth list`."""
        if self.pid() is None:
            disable_ipv6(self.netns)
            process.spawn(["ip", "netns", "exec", self.netns, "boothd", "daemon", "-S", "-c",
                           str(self.config), "-l", str(self.home / "boothd.lock")],
                          self._pidfile, str(self.home / "boothd.log"), home=str(self.home))
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.list(timeout=5)
                return
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                if self.pid() is None:
                    raise RuntimeError("boothd exited while starting: " + process.last_lines(
                        str(self.home / "boothd.log"), 5)) from exc
                if time.monotonic() > deadline:
                    raise RuntimeError(f"boothd did not answer within {timeout:.0f} s: "
                                       f"{exc}") from exc
            time.sleep(0.2)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None and process.terminate([pid], grace=5):
            raise RuntimeError(f"boothd (pid {pid}) survived SIGKILL")
        process.remove(self._pidfile)

    def running(self) -> bool:
        return self.pid() is not None

    def list(self, timeout: float = 10.0) -> str:
        """`booth list` as the arbitrator sees it ("ticket: NAME, leader: ..." lines)."""
        done = subprocess.run(["ip", "netns", "exec", self.netns, "booth", "list", "-c",
                               str(self.config)], capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"booth list: {done.stderr.strip() or done.returncode}")
        return done.stdout
