"""Servers' power state and the transitions that run the lab's hooks.

Like Nova, an action is accepted (202) and carried out in the background: the server shows a
task_state (powering-off, ...) until the hook returns, then its new status (the API answers
when a quick hook is done, see app.ACCEPT_WAIT). The state is kept
in a file per server so a restarted compute service remembers which nodes are off.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from cluster.openstack.compute.registry import Server
from cluster.openstack.layout import Layout

log = logging.getLogger(__name__)
HOOK_TIMEOUT = 120.0


class Conflict(Exception):
    """The action is not allowed in the server's current state (HTTP 409, as Nova says)."""


@dataclass
class Power:
    on: bool = True
    task: str | None = None  # powering-off, powering-on, rebooting_hard

    @property
    def status(self) -> str:
        if self.task == "rebooting_hard":
            return "HARD_REBOOT"
        return "ACTIVE" if self.on else "SHUTOFF"


# action -> (allowed when on?, allowed when off?, task, hooks to run in order, on afterwards)
ACTIONS = {
    "os-stop": (True, False, "powering-off", ("stop",), False),
    "os-start": (False, True, "powering-on", ("start",), True),
    "reboot": (True, True, "rebooting_hard", ("stop", "start"), True),
}


class PowerStates:
    def __init__(self, layout: Layout) -> None:
        home = layout.dir(layout.regional("compute"))  # each region's compute its own
        self.dir = home / "power"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hook_log = home / "hooks.log"
        self.lock = threading.Lock()

    def _path(self, server_id: str) -> Path:
        return self.dir / f"{server_id}.json"

    def get(self, server_id: str) -> Power:
        path = self._path(server_id)
        return Power(**json.loads(path.read_text())) if path.exists() else Power()

    def _put(self, server_id: str, power: Power) -> None:
        tmp = self._path(server_id).with_suffix(".tmp")
        tmp.write_text(json.dumps({"on": power.on, "task": power.task}))
        os.replace(tmp, self._path(server_id))

    def set_on(self, server_id: str, on: bool) -> None:
        """The hypervisor's word: the lab booted (or lost) a node outside the API. Nova's
        power-state sync records the same, so the next fence sees the truth."""
        with self.lock:
            self._put(server_id, Power(on, None))

    def begin(self, server: Server, action: str) -> threading.Thread:
        """Check and mark the transition atomically, then run its hooks in the background."""
        when_on, when_off, task, hooks, on_after = ACTIONS[action]
        with self.lock:
            power = self.get(server.id)
            if power.task or not (when_on if power.on else when_off):
                raise Conflict(f"Cannot '{action.removeprefix('os-')}' instance {server.id} "
                               f"while it is in vm_state {'active' if power.on else 'stopped'}"
                               + (f", task_state {power.task}" if power.task else ""))
            self._put(server.id, Power(power.on, task))
        if not power.on:
            hooks = tuple(h for h in hooks if h != "stop")  # a hard reboot of a stopped node
        worker = threading.Thread(target=self._run, args=(server, hooks, on_after, power.on),
                                  daemon=True)
        worker.start()
        return worker

    def _run(self, server: Server, hooks: tuple[str, ...], on_after: bool, before: bool) -> None:
        ok = all(self._hook(server, name) for name in hooks)
        with self.lock:
            # A failed hook leaves the server as it was (Nova records a fault, state unchanged).
            self._put(server.id, Power(on_after if ok else before, None))

    def _hook(self, server: Server, name: str) -> bool:
        argv = server.hooks.get(name)
        if not argv:
            return True  # a server without hooks is a pure API object (still changes state)
        env = {**os.environ, "FRACTAL_SERVER_ID": server.id, "FRACTAL_SERVER_NAME": server.name}
        # Output to a file, not a pipe: a start hook leaves a node running, and that node
        # would hold a pipe open (and this wait) for as long as it lives.
        with open(self.hook_log, "ab") as out:
            try:
                done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=out, timeout=HOOK_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.error("%s hook of %s failed: %s", name, server.name, exc)
                return False
        if done.returncode != 0:
            log.error("%s hook of %s exited %d (output in %s)", name, server.name,
                      done.returncode, self.hook_log)
        return done.returncode == 0
