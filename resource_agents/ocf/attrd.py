"""A transient node attribute kept by an agent (pacemaker-attrd, through attrd_updater).

Location rules read such attributes (`rule -inf: not_defined NAME`), so an agent can tell the
scheduler something its exit codes cannot, e.g. that the instance on this node serves. Kept
cheap for a monitor that runs every second: attrd_updater runs only when the value differs
from the one last sent from this node (a local record), or when that record is older than
`reassert_s` (an attribute purged with a membership change comes back). A failed update is a
warning, never a failed action: outside a cluster (ocf-tester, a package's test run) there is
no attrd, and the action's own result is what the cluster must get.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PROGRAM = "attrd_updater"


class NodeAttribute:
    def __init__(self, name: str, record: str, warn: Callable[..., None], *,
                 reassert_s: float = 60.0, program: str = PROGRAM) -> None:
        self.name = name
        self.record = record  # a file in the agent's state directory (tmpfs: gone at boot)
        self.warn = warn  # logging.warning-like; called only on trouble (logging is not free)
        self.reassert_s = reassert_s
        self.program = program

    def set(self, value: str, timeout: float, force: bool = False) -> bool:
        """Make this node's attribute `value`; True when attrd has it (or had it already).
        `force`: send even if the record says it was sent (a start, a stop, a probe)."""
        if not force and self._recorded() == value:
            return True
        if not self._update(value, timeout):
            return False
        self._remember(value)
        return True

    def _recorded(self) -> str | None:
        """The value last sent, unless it is older than reassert_s."""
        try:
            with open(self.record, encoding="ascii") as f:
                value, sent = f.read().split()
            if time.time() - float(sent) < self.reassert_s:
                return value
        except (OSError, ValueError):
            pass
        return None

    def _remember(self, value: str) -> None:
        temporary = f"{self.record}.tmp"
        try:
            os.makedirs(os.path.dirname(self.record), mode=0o700, exist_ok=True)
            with open(temporary, "w", encoding="ascii") as f:
                f.write(f"{value} {time.time():.3f}\n")
            os.replace(temporary, self.record)
        except OSError as exc:  # only costs an attrd_updater run at the next monitor
            self.warn("node attribute %s: cannot record the value sent: %s", self.name, exc)

    def _update(self, value: str, timeout: float) -> bool:
        import subprocess  # only when the value changes: not on a steady monitor's path

        argv = [self.program, "--name", self.name, "--update", value]
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=max(timeout, 0.5), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.warn("node attribute %s=%s not set (%s): %s", self.name, value, self.program,
                      exc)
            return False
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            self.warn("node attribute %s=%s not set: %s exited %d: %s", self.name, value,
                      self.program, done.returncode, why[-1] if why else "")
            return False
        return True
