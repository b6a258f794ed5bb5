"""The worker's heartbeat file: proof for the OCF agent that the worker's loop still turns."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class HeartbeatFile:
    """Atomically replaced JSON {"time", "state", "jobs_done", "pid"}; writes are throttled."""

    def __init__(self, path: Path | None, min_interval: float = 0.5) -> None:
        self.path = path
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_state = ""

    def beat(self, state: str, jobs_done: int, *, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.time()
        if not force and state == self._last_state and now - self._last_write < self.min_interval:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = {"time": now, "state": state, "jobs_done": jobs_done, "pid": os.getpid()}
        try:
            tmp.write_text(json.dumps(body))
            os.replace(tmp, self.path)  # readers never see a half-written file
        except OSError:
            return  # a full disk must not kill the worker; the agent will see a stale beat
        self._last_write, self._last_state = now, state
