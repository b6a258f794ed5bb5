"""ocf:fractal:worker — N Fractal workers on this node (run it as a clone on every node).

A worker that is alive but hung is a failure too: each worker rewrites a heartbeat file from
its main loop (also while it waits for an unreachable API), and monitor fails a worker whose
heartbeat is older than heartbeat_timeout, so Pacemaker restarts it.
"""

from __future__ import annotations

import json
import os
import time

from fractal_service import lease
from resource_agents.agents.common import (
    ETCD_PARAMETERS,
    USER,
    etcd_argv,
    log_parameter,
    program,
    require_executable,
)
from resource_agents.ocf import process
from resource_agents.ocf.agent import SERVICE_ACTIONS, Action, Agent
from resource_agents.ocf.agent import main as run_agent
from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.params import Parameter


def _url(value: str) -> str | None:
    return None if value.startswith(("http://", "https://")) else "must be an http(s) URL"


class WorkerAgent(Agent):
    name = "worker"
    version = "1.0"
    shortdesc = "Fractal workers"
    longdesc = """
Runs `workers` fractal-worker processes that pull jobs from the Fractal API (normally through
its floating IP) and render them. monitor fails when a worker died or its heartbeat went stale.
"""
    parameters = (
        Parameter("api_url", "Fractal API URL", required=True, check=_url,
                  longdesc="Base URL of the API, e.g. http://203.0.113.10:8080 (the floating IP)."),
        Parameter("workers", "Worker processes on this node", type=int, default=2, minimum=1,
                  maximum=64),
        Parameter("lease_seconds", "Job lease length in seconds", type=int,
                  default=lease.DEFAULT_SECONDS, minimum=lease.MIN_SECONDS,
                  maximum=lease.MAX_SECONDS),
        Parameter("heartbeat_timeout", "Seconds without a heartbeat before a worker is hung",
                  type=float, default=60.0, minimum=2, maximum=3600, reloadable=True),
        # Credentials by file only (never the CIB): the API's bearer token, or a clouds.yaml
        # entry whose Keystone user has the API's worker role.
        Parameter("token_file", "The API's bearer token file", default="",
                  check=lambda v: None if not v or v.startswith("/") else "must be absolute"),
        Parameter("os_cloud", "clouds.yaml entry to log in with", default=""),
        Parameter("clouds_yaml", "clouds.yaml path", default="",
                  check=lambda v: None if not v or v.startswith("/") else "must be absolute"),
        *ETCD_PARAMETERS,
        USER,
        program("fractal-worker"),
        log_parameter("worker"),
    )
    actions = (
        Action("start", timeout=30),
        Action("stop", timeout=60),
        Action("monitor", timeout=10, interval=10),
        *SERVICE_ACTIONS,
    )

    @property
    def state_dir(self) -> str:
        """Root's alone: the pidfiles (written as root)."""
        return self.ocf.state_dir(self.name)

    @property
    def home(self) -> str:
        """The workers' own directory (their heartbeats; their working directory, which is
        their identity: process.works_in), inside state_dir."""
        return os.path.join(self.state_dir, "home")

    def _files(self, index: int) -> tuple[str, str]:
        name = f"worker-{index}"
        return os.path.join(self.state_dir, name + ".pid"), os.path.join(self.home, name + ".hb")

    def _pids(self) -> dict[int, int | None]:
        """index → our live PID (or None) for every worker that has a pidfile."""
        found = {}
        try:
            names = os.listdir(self.state_dir)
        except FileNotFoundError:
            names = []
        for name in sorted(names):
            index = name[len("worker-"):-len(".pid")]
            # Anything else is not ours (a stray or planted file): never a reason to fail.
            if name.startswith("worker-") and name.endswith(".pid") and index.isdigit():
                pidfile = self._files(int(index))[0]
                # (or in state_dir: a worker started by a release before `home`)
                found[int(index)] = (process.owned_pid(pidfile, self.home)
                                     or process.owned_pid(pidfile, self.state_dir))
        return found

    def validate(self) -> None:
        require_executable(self.params["program"])

    def start(self) -> Exit:
        p = self.params
        wanted = range(p["workers"])
        running = self._pids()
        for index in wanted:
            if running.get(index) is None:
                pidfile, heartbeat = self._files(index)
                process.remove(heartbeat)
                argv = [p["program"], "--api", p["api_url"], "--name",
                        f"{self.ocf.node}-{index}", "--heartbeat-file", str(heartbeat)]
                # With etcd, the lease is etcd's (a flag would pin it against live changes).
                argv += etcd_argv(p, os.path.join(self.home, f"worker-{index}.settings.json")) \
                    or ["--lease-seconds", str(p["lease_seconds"])]
                for name in ("token_file", "os_cloud", "clouds_yaml"):
                    if p[name]:
                        argv += [f"--{name.replace('_', '-')}", p[name]]
                process.private_dir(self.state_dir)
                process.service_dir(self.home, p["user"])
                process.spawn(argv, pidfile, p["log_file"], home=self.home, user=p["user"])
        self._stop_indexes([i for i in running if i not in wanted])
        # Started = every worker's loop has beaten once (it runs, whether or not the API answers).
        while self.remaining() > 0:
            problems = self._problems(wanted)
            if not problems:
                self.log.info("%d workers running against %s", p["workers"], p["api_url"])
                return Exit.SUCCESS
            time.sleep(0.1)
        raise OcfError(Exit.ERR_GENERIC, f"workers did not start: {problems[0]}")

    def stop(self) -> Exit:
        self._stop_indexes(list(self._pids()))
        return Exit.SUCCESS

    def _stop_indexes(self, indexes: list[int]) -> None:
        pids = self._pids()
        targets = [pid for index in indexes if (pid := pids.get(index)) is not None]
        survivors = process.terminate(targets, max(self.remaining(margin=7.0), 1.0))
        if survivors:
            raise OcfError(Exit.ERR_GENERIC, f"worker pids {survivors} survived SIGKILL")
        for index in indexes:
            for path in self._files(index):
                process.remove(path)

    def monitor(self) -> Exit:
        pids = self._pids()
        if not any(pid is not None for pid in pids.values()):
            if pids:
                raise OcfError(Exit.NOT_RUNNING, "all workers are gone")
            return Exit.NOT_RUNNING
        problems = self._problems(range(self.params["workers"]))
        if problems:
            raise OcfError(Exit.ERR_GENERIC, "; ".join(problems))
        return Exit.SUCCESS

    def _problems(self, indexes: range) -> list[str]:
        pids = self._pids()
        problems = []
        limit = self.params["heartbeat_timeout"]
        for index in indexes:
            pid = pids.get(index)
            if pid is None:
                problems.append(f"worker {index} is not running")
                continue
            age = self._heartbeat_age(index)
            if age is None:
                started = os.path.getmtime(self._files(index)[0])
                if time.time() - started > limit:
                    problems.append(f"worker {index} (pid {pid}) never sent a heartbeat")
                else:
                    problems.append(f"worker {index} (pid {pid}) has not beaten yet")
            elif age > limit:
                problems.append(f"worker {index} (pid {pid}) hung: no heartbeat for {age:.0f} s")
        return problems

    def _heartbeat_age(self, index: int) -> float | None:
        # The worker's file, read as root: process.read_text never follows a link or blocks.
        try:
            beat = json.loads(process.read_text(self._files(index)[1]) or "")
            return time.time() - float(beat["time"])
        except (ValueError, KeyError, TypeError):
            return None


def main() -> int:
    return run_agent(WorkerAgent)


if __name__ == "__main__":
    raise SystemExit(main())
