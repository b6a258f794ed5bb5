"""ocf:fractal:exporter — `fractal-ha exporter` on this node, for a clone on every node.

Why an agent and not systemd: the lab's nodes have no systemd, and under Pacemaker the
exporter's life follows the node's membership (a node that rejoins gets it back) with the
same logs and failure handling as the rest. monitor = the process is ours + GET /healthz
(which never runs crm_mon: a monitor must stay cheap).
"""

from __future__ import annotations

import os
import time

from resource_agents.agents.common import (
    ETCD_PARAMETERS,
    etcd_argv,
    log_parameter,
    program,
    require_executable,
)
from resource_agents.ocf import http, process
from resource_agents.ocf.agent import SERVICE_ACTIONS, Action, Agent
from resource_agents.ocf.agent import main as run_agent
from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.params import Parameter


class ExporterAgent(Agent):
    name = "exporter"
    version = "1.0"
    shortdesc = "fractal-ha Prometheus exporter"
    longdesc = __doc__ or ""
    parameters = (
        Parameter("listen_address", "Address to listen on", default="0.0.0.0",
                  unique_group="listen"),
        Parameter("port", "TCP port", type=int, default=9664, minimum=1, maximum=65535,
                  unique_group="listen",
                  longdesc="9664 is ha_cluster_exporter's port: the two report the same facts."),
        Parameter("cache_seconds", "Seconds scrapes share one crm_mon run", type=float,
                  default=1.0, minimum=0, maximum=60),
        Parameter("health_timeout", "Seconds /healthz may take", type=float, default=2.0,
                  minimum=0.1, maximum=30, reloadable=True),
        # etcd's members (the settings' store): each one's health is reported too.
        Parameter("etcd_urls", "etcd members whose health to report", default="",
                  longdesc="Comma-separated etcd client URLs: fractal_ha_etcd_member_healthy "
                           "and fractal_ha_etcd_quorate. Empty: no etcd metrics."),
        *ETCD_PARAMETERS[1:],  # etcd_ca, etcd_cert, etcd_key: files
        program("fractal-ha"),
        log_parameter("exporter"),
    )
    actions = (
        Action("start", timeout=20),
        Action("stop", timeout=20),
        Action("monitor", timeout=10, interval=10),
        *SERVICE_ACTIONS,
    )

    @property
    def home(self) -> str:
        return self.ocf.state_dir(self.name)

    @property
    def pidfile(self) -> str:
        return os.path.join(self.home, "exporter.pid")

    @property
    def probe_host(self) -> str:
        address = self.params["listen_address"]
        return "127.0.0.1" if address in ("0.0.0.0", "") else address

    def validate(self) -> None:
        require_executable(self.params["program"])

    def _healthy(self, timeout: float) -> str:
        try:
            http.expect_ok(self.probe_host, self.params["port"], "GET", "/healthz", timeout)
        except http.CheckFailed as exc:
            return str(exc)
        return ""

    def start(self) -> Exit:
        p = self.params
        if process.owned_pid(self.pidfile, self.home) is None:
            os.makedirs(self.home, exist_ok=True)
            argv = [p["program"], "exporter", "--listen", f"{p['listen_address']}:{p['port']}",
                    "--cache-seconds", str(p["cache_seconds"]), "--rsctmp", self.ocf.rsctmp,
                    *etcd_argv(p, None)]
            process.spawn(argv, self.pidfile, p["log_file"], home=self.home)
        problem = "no answer yet"
        while self.remaining() > 0:
            if process.owned_pid(self.pidfile, self.home) is None:
                raise OcfError(Exit.ERR_GENERIC, "exporter exited during start: "
                               + process.last_lines(p["log_file"]))
            problem = self._healthy(min(p["health_timeout"], max(self.remaining(), 0.1)))
            if not problem:
                return Exit.SUCCESS
            time.sleep(0.1)
        raise OcfError(Exit.ERR_GENERIC, f"exporter not answering: {problem}")

    def stop(self) -> Exit:
        pid = process.owned_pid(self.pidfile, self.home)
        if pid is not None and process.terminate([pid], max(self.remaining(margin=7.0), 1.0)):
            raise OcfError(Exit.ERR_GENERIC, f"exporter pid {pid} survived SIGKILL")
        process.remove(self.pidfile)
        return Exit.SUCCESS

    def monitor(self) -> Exit:
        pid = process.owned_pid(self.pidfile, self.home)
        if pid is None:
            if process.read_pid(self.pidfile) is not None:
                raise OcfError(Exit.NOT_RUNNING, "exporter process is gone")
            return Exit.NOT_RUNNING
        problem = self._healthy(self.params["health_timeout"])
        if problem:
            raise OcfError(Exit.ERR_GENERIC, f"exporter pid {pid} unhealthy: {problem}")
        return Exit.SUCCESS


def main() -> int:
    return run_agent(ExporterAgent)


if __name__ == "__main__":
    raise SystemExit(main())
