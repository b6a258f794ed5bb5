"""The cloud's server processes: started in a directory of their own, stopped by PID.

A daemon's working directory is its identity (see resource_agents.ocf.process.works_in):
a recycled PID is never mistaken for ours.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from resource_agents.ocf import process

# The project's own interpreter: our servers (compute, proxies, agent) import this package.
PROJECT_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Daemon:
    name: str
    home: Path  # working directory, logs and pidfile
    argv: list[str]
    health_url: str | None = None  # answered (any status below 500) once it serves
    # For a daemon without HTTP: a file it writes once ready (removed before each start, so
    # a stale one from a crashed run never counts).
    ready_file: Path | None = None
    env: dict[str, str] | None = field(default=None, compare=False)
    # For a daemon with another protocol (DNS): a check that it serves.
    probe: Callable[[], bool] | None = field(default=None, compare=False)

    @property
    def pidfile(self) -> str:
        return str(self.home / "server.pid")

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def pid(self) -> int | None:
        return process.owned_pid(self.pidfile, str(self.home))

    def start(self, timeout: float = 90.0) -> None:
        """Idempotent: a running daemon is left alone; returns once it answers."""
        self.launch()
        self.wait(timeout)

    def launch(self) -> None:
        """Spawn unless running; no wait (see start_together)."""
        if self.pid() is None:
            self.home.mkdir(parents=True, exist_ok=True)
            if self.ready_file is not None:
                self.ready_file.unlink(missing_ok=True)
            process.spawn(self.argv, self.pidfile, str(self.log), home=str(self.home),
                          env=self.env)

    def wait(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.pid() is None:
                raise RuntimeError(f"{self.name} exited while starting: "
                                   f"{process.last_lines(str(self.log), 5)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s "
                                   f"(log: {self.log})")
            time.sleep(0.1)

    def answers(self) -> bool:
        if self.probe is not None:
            return self.pid() is not None and self.probe()
        if self.health_url is None:
            ready = self.ready_file is None or self.ready_file.exists()
            return ready and self.pid() is not None
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None and process.terminate([pid], grace=10):
            raise RuntimeError(f"{self.name} (pid {pid}) survived SIGKILL")
        process.remove(self.pidfile)


def start_together(started: list[Daemon], timeout: float = 90.0) -> None:
    """Launch them all, then wait for each: their start-up times overlap instead of adding."""
    for daemon in started:
        daemon.launch()
    for daemon in started:
        daemon.wait(timeout)


def stop_together(stopped: list[Daemon], grace: float = 10.0) -> None:
    """SIGTERM them all at once, then wait: their graceful stops (gunicorn's takes its whole
    graceful timeout) overlap instead of adding."""
    running = [(d.name, pid) for d in stopped if (pid := d.pid()) is not None]
    survivors = process.terminate([pid for _, pid in running], grace=grace)
    if survivors:
        names = [name for name, pid in running if pid in survivors]
        raise RuntimeError(f"{', '.join(names)} survived SIGKILL (pids {survivors})")
    for daemon in stopped:
        process.remove(daemon.pidfile)


def write_wsgi_shim(home: Path, service: str, **environ: str) -> None:
    """home/SERVICE_wsgi.py, gunicorn's app module ("SERVICE_wsgi:application") for an
    OpenStack service. oslo.config parses the command line when the app is imported:
    gunicorn's flags must not reach it, so the shim clears sys.argv first, then points the
    service at its configuration directory (OS_SERVICE_CONFIG_DIR) and `environ`."""
    settings = {f"OS_{service.upper()}_CONFIG_DIR": str(home), **environ}
    lines = ["import os, sys", "sys.argv = sys.argv[:1]",
             *(f"os.environ[{k!r}] = {v!r}" for k, v in settings.items()),
             f"from {service}.wsgi.api import application  # noqa: E402,F401"]
    (home / f"{service}_wsgi.py").write_text("\n".join(lines) + "\n")


def gunicorn(gunicorn_bin: str, home: Path, port: int, app: str, *, workers: int = 1,
             threads: int = 1) -> list[str]:
    """argv for a gunicorn serving `app` on loopback, logging into `home`."""
    return [gunicorn_bin, "--chdir", str(home), "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "120",
            "--graceful-timeout", "5", "--access-logfile", str(home / "access.log"), app]
