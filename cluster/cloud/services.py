"""The cloud's WSGI servers: gunicorn from the cloud's virtualenv, started and stopped by PID."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from cluster.cloud.layout import Layout
from resource_agents.ocf import process


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    shim: str  # a WSGI module: must clear sys.argv before the app's oslo.config parses it
    workers: int = 2

    def dir(self, layout: Layout) -> str:
        return str(layout.state / self.name)

    def pidfile(self, layout: Layout) -> str:
        return f"{self.dir(layout)}/server.pid"

    def url(self, layout: Layout) -> str:
        return f"http://{layout.host}:{self.port}/"

    def pid(self, layout: Layout) -> int | None:
        return process.owned_pid(self.pidfile(layout), self.dir(layout))

    def start(self, layout: Layout, timeout: float = 60.0) -> None:
        if self.pid(layout) is None:
            with open(f"{self.dir(layout)}/{self.name}_wsgi.py", "w") as fh:
                fh.write(self.shim)
            argv = [layout.bin("gunicorn"), "--chdir", self.dir(layout), "--bind",
                    f"{layout.host}:{self.port}", "--workers", str(self.workers),
                    "--timeout", "120", "--graceful-timeout", "10",
                    "--access-logfile", f"{self.dir(layout)}/access.log",
                    f"{self.name}_wsgi:application"]
            process.spawn(argv, self.pidfile(layout), f"{self.dir(layout)}/server.log",
                          home=self.dir(layout))
        deadline = time.monotonic() + timeout
        while not self.answers(layout):
            if self.pid(layout) is None:
                tail = process.last_lines(f"{self.dir(layout)}/server.log", 5)
                raise RuntimeError(f"{self.name} exited while starting: {tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer on {self.url(layout)}")
            time.sleep(0.2)

    def answers(self, layout: Layout) -> bool:
        try:
            with urllib.request.urlopen(self.url(layout), timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def stop(self, layout: Layout) -> None:
        pid = self.pid(layout)
        if pid is not None and process.terminate([pid], grace=15):
            raise RuntimeError(f"{self.name} (pid {pid}) survived SIGKILL")
        process.remove(self.pidfile(layout))
