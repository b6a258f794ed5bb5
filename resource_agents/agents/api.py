"""ocf:fractal:api — the Fractal API server, with HTTP health checks at three depths.

Health means service: the monitor fails for what a restart cures, never for the store alone
(fractal_service/api/health.py). Condition → answer → monitor exit → what Pacemaker does:

- process gone → (none) → 7 → recovers it (stop, start here).
- no /healthz answer within health_timeout (every request thread busy or hung) → 1 → restarts
  it, and moves it once its fail count reaches migration-threshold.
- store slots held a whole deadline past their requests' deadline while the store answers a
  probe (a wedge) → /healthz 503 "wedged" → 1 → restarts it.
- the same, but the store's probe fails too (or takes over 1 s) → /healthz 200 "degraded" → 0
  → nothing.
- store slow or down, at depth 10 or 20 → /readyz or /v1/selftest 503 with field "store",
  in time → 0, a warning logged → nothing (fractal_store_up = 0 and the alerts tell).
- no /readyz or self-test answer within ready_timeout / selftest_timeout → 1 → restarts it.
- the self-test's render fails → 500 → 1 → restarts it.
- every store slot busy (requests shed with 503) → /healthz 200 → 0 → nothing
  (alert FractalHAApiShedding).
"""

from __future__ import annotations

import _socket
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
from resource_agents.ocf import http, process
from resource_agents.ocf.agent import SERVICE_ACTIONS, Action, Agent
from resource_agents.ocf.agent import main as run_agent
from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.params import Parameter

# How /readyz and /v1/selftest name the store as the cause (fractal_service/api/health.py).
STORE_FIELD = b'"field":"store"'
# A stop of an instance that fails /healthz: SIGTERM, this long for in-flight requests, SIGKILL.
UNHEALTHY_STOP_GRACE_S = 2.0
# A killed server's workers, retired once the new server answers: this long to finish their
# requests (the new server already serves), then SIGKILL.
RETIRE_GRACE_S = 2.0
# The node setting that hands a retiring socket's queued connections on (60-fractal-api.conf).
MIGRATE_SYSCTL = "/proc/sys/net/ipv4/tcp_migrate_req"
SYSCTL_FILE = os.path.join(os.path.dirname(__file__), "60-fractal-api.conf")
# The transient node attribute saying whether this node's instance serves (1) or not (0):
# cluster/config/fractal.crm keeps the service address on nodes where it is 1.
HEALTH_ATTRIBUTE = "fractal-api-healthy"


def _address(value: str) -> str | None:
    for family in (_socket.AF_INET, _socket.AF_INET6):  # loaded for the checks anyway
        try:
            _socket.inet_pton(family, value)
            return None
        except OSError:
            continue
    return "must be an IP address"


def _absolute(value: str) -> str | None:
    return None if value.startswith("/") else "must be an absolute path"


def _answered_by(answer: bytes, server: int) -> bool:
    """/healthz's answer names the server that gave it (fractal_service/api/health.py)."""
    import json

    try:
        return json.loads(answer).get("server") == server
    except (ValueError, AttributeError):
        return False


def _under_cluster(environ: dict[str, str]) -> bool:
    """Run by Pacemaker: its executor passes every operation CRM_meta_* (timeout at least);
    an administrator running the agent by hand (ocf-tester, validate-all) does not."""
    return any(key.startswith("OCF_RESKEY_CRM_meta_") for key in environ)


def _check_service_settings(overrides: dict[str, object], environ: dict[str, str]) -> None:
    """The service's own rules (fractal_service/config.py), as fractal-api will apply them to
    the same flags and environment: a value it would refuse is refused here, with its message,
    rather than becoming a failed start on every node in turn."""
    from fractal_service.config import Settings  # validate only: ~40 ms of imports

    try:
        Settings.load(None, overrides, environ)
    except (OSError, ValueError) as exc:
        raise OcfError(Exit.ERR_CONFIGURED, f"fractal-api would refuse this: {exc}") from None


class ApiAgent(Agent):
    name = "api"
    version = "1.0"
    shortdesc = "Fractal API server"
    longdesc = """
Runs the Fractal REST API (fractal-api: gunicorn, threads in one process) and watches it.
monitor depth 0: the process is ours and GET /healthz answers; depth 10: GET /readyz (the
store is reachable); depth 20: POST /v1/selftest (a real tiny render and a store write).
The monitor fails only for what a restart cures: a slow or failing store is logged, not
failed (a restarted or moved API would meet the same store).
A monitor with role=Stopped (on the nodes without the API) keeps this node's Object Storage
login cached in data_dir, so that an API started by a takeover asks Keystone nothing; it
always answers 7.
"""
    parameters = (
        Parameter("bind_address", "Address to listen on", default="0.0.0.0", check=_address,
                  unique_group="listen",
                  longdesc="IP address the API listens on; 0.0.0.0 serves the floating IP too."),
        Parameter("port", "TCP port", type=int, default=8080, minimum=1, maximum=65535,
                  unique_group="listen"),
        Parameter("data_dir", "Data directory", default="/var/lib/fractal", check=_absolute,
                  longdesc="Where the embedded SQLite store lives (ignored with store_url)."),
        Parameter("store_url", "Store URL", default="",
                  longdesc="Store backend URL: swift://CLOUD/CONTAINER (Object Storage, shared "
                           "by every node), or sqlite:///path/fractals.db; empty = SQLite in "
                           "data_dir, which under Pacemaker needs allow_local_store=true."),
        Parameter("allow_local_store", "Allow SQLite in data_dir under a cluster", type=bool,
                  default=False,
                  longdesc="With an empty store_url the fractals live in data_dir on the node "
                           "the API runs on, and a failover starts with an empty store. Under "
                           "Pacemaker that is refused (not configured) unless this is true: a "
                           "one-node cluster, or a data_dir every node mounts."),
        # Requests wait on the store (Object Storage: tens of ms each, seconds when the cloud
        # is slow): too few threads and /healthz queues behind them until the monitor fails.
        Parameter("threads", "Concurrent requests", type=int, default=32, minimum=1,
                  maximum=256),
        Parameter("lease_seconds", "Job lease length in seconds", type=int,
                  default=lease.DEFAULT_SECONDS, minimum=lease.MIN_SECONDS,
                  maximum=lease.MAX_SECONDS),
        Parameter("health_timeout", "Seconds a health check may take", type=float, default=2.0,
                  minimum=0.1, maximum=60, reloadable=True,
                  longdesc="A /healthz answer slower than this is a failure."),
        Parameter("ready_timeout", "Seconds the depth-10 store check may take", type=float,
                  default=10.0, minimum=0.1, maximum=60, reloadable=True,
                  longdesc="A /readyz answer slower than this is a failure. It waits on the "
                           "store: Object Storage may need a Keystone login first."),
        Parameter("selftest_timeout", "Seconds the depth-20 self-test may take", type=float,
                  default=10.0, minimum=0.5, maximum=120, reloadable=True),
        # Credentials by file only: the CIB (and crm_mon, and every log) shows these paths,
        # never a secret.
        Parameter("auth", "Who may write", default="token",
                  longdesc="token: a bearer token read from token_file (one secret for every "
                           "role); keystone: Keystone tokens, checked with keystonemiddleware "
                           "as keystone_config's [keystone_authtoken] says; none: anyone."),
        Parameter("token_file", "Bearer token file (auth=token)", default="",
                  check=lambda v: _absolute(v) if v else None,
                  longdesc="Mode 0600, the same file on every node (workers send its token); "
                           "empty = data_dir/api-token, made on first start."),
        Parameter("keystone_config", "keystonemiddleware settings file (auth=keystone)",
                  default="", check=lambda v: _absolute(v) if v else None),
        Parameter("health_attribute", "Node attribute: does this node's instance serve",
                  default=HEALTH_ATTRIBUTE,
                  longdesc="A transient node attribute (attrd_updater) set to 1 after a "
                           "successful start or monitor and to 0 when a monitor fails and on "
                           "stop. A location rule on it moves the service address off a node "
                           "whose instance failed, to one whose instance serves, while the "
                           "failed one restarts in place. Only under a cluster; a failed "
                           "update is logged, never a failed action."),
        *ETCD_PARAMETERS,
        USER,
        program("fractal-api"),
        log_parameter("api"),
    )
    actions = (
        Action("start", timeout=60),
        Action("stop", timeout=60),
        Action("monitor", timeout=10, interval=10),
        Action("monitor", timeout=20, interval=60, depth=10),
        *SERVICE_ACTIONS,
    )

    # -- derived -------------------------------------------------------------------------
    @property
    def listen(self) -> str:
        return f"{self.params['bind_address']}:{self.params['port']}"

    @property
    def probe_host(self) -> str:
        address = self.params["bind_address"]
        if address in ("0.0.0.0", ""):
            return "127.0.0.1"
        return "::1" if address == "::" else address

    @property
    def pidfile(self) -> str:
        return os.path.join(self.home, "api.pid")

    @property
    def home(self) -> str:
        return self.ocf.state_dir(self.name)

    def pid(self) -> int | None:
        return process.owned_pid(self.pidfile, self.home)

    # -- actions -------------------------------------------------------------------------
    def validate(self) -> None:
        # start and validate-all only: never on the monitor's path.
        require_executable(self.params["program"])
        p = self.params
        if not p["store_url"] and not p["allow_local_store"] and _under_cluster(self.environ):
            # Within Pacemaker's 127 characters of exit reason (crm_mon cuts the rest off).
            raise OcfError(Exit.ERR_CONFIGURED, "store_url is empty: node-local SQLite loses all "
                           "on failover; set store_url=swift://CLOUD/CONTAINER or "
                           "allow_local_store=true")
        _check_service_settings(self._service_overrides(), self.environ)

    def _service_overrides(self) -> dict[str, object]:
        """What _spawn passes fractal-api on its command line, as its settings' names."""
        p = self.params
        return {"bind": self.listen, "data_dir": p["data_dir"], "store": p["store_url"] or None,
                "threads": p["threads"], "lease_seconds": p["lease_seconds"],
                "auth": p["auth"], "token_file": p["token_file"] or None,
                "keystone_config": p["keystone_config"] or None}

    def start(self) -> Exit:
        strays: list[int] = []
        if self.pid() is None:
            # A killed server's worker still serves, as a lame duck (api/worker_class.py), on
            # the port the new server shares (SO_REUSEPORT): retired once the new one answers.
            strays = process.working_in(self.home)
            self._spawn()
        last = "no answer yet"
        while self.remaining() > 0:
            pid = self.pid()
            if pid is None:
                tail = process.last_lines(self.params["log_file"])
                raise OcfError(Exit.ERR_GENERIC, f"fractal-api exited during start: {tail}")
            try:
                answer = http.expect_ok(self.probe_host, self.params["port"], "GET", "/healthz",
                                        min(self.params["health_timeout"],
                                            max(self.remaining(), 0.1)))
            except http.CheckFailed as exc:
                last = str(exc)
                time.sleep(0.1)
                continue
            if strays and not _answered_by(answer, pid):
                last = "answered by the killed server's worker"
                time.sleep(0.02)
                continue  # the port is shared: ask until the new server answers
            self.log.info("started (pid %d) on %s", pid, self.listen)
            self._serving(True, force=True)
            self._retire(strays)
            return Exit.SUCCESS
        raise OcfError(Exit.ERR_GENERIC, f"fractal-api did not become healthy before the start "
                                         f"timeout ({self.ocf.timeout:g} s): {last}")

    def _retire(self, strays: list[int]) -> None:
        """SIGTERM to a killed server's workers: they stop accepting and finish their requests
        (connections queued on their socket pass to the new server with tcp_migrate_req)."""
        if not strays:
            return
        if process.read_text(MIGRATE_SYSCTL).strip() == "0":
            self.log.warning("net.ipv4.tcp_migrate_req is 0: connections queued on the retired "
                             "workers' socket are reset (install 60-fractal-api.conf)")
        survivors = process.terminate(strays, grace=min(RETIRE_GRACE_S,
                                                        max(self.remaining(margin=2.0), 0.1)))
        self.log.info("retired the killed server's workers %s%s", strays,
                      f" ({survivors} survived SIGKILL)" if survivors else "")

    def _spawn(self) -> None:
        p = self.params
        argv = [p["program"], "--bind", self.listen, "--data-dir", p["data_dir"],
                "--threads", str(p["threads"])]
        # With etcd, the lease is etcd's (a flag would pin it against live changes).
        argv += etcd_argv(p, os.path.join(p["data_dir"], "settings-cache-api.json")) \
            or ["--lease-seconds", str(p["lease_seconds"])]
        if p["store_url"]:
            argv += ["--store", p["store_url"]]
        argv += ["--auth", p["auth"]]
        for name in ("token_file", "keystone_config"):
            if p[name]:
                argv += [f"--{name.replace('_', '-')}", p[name]]
        os.makedirs(p["data_dir"], exist_ok=True)
        if p["user"] != "root":
            process.chown(p["data_dir"], p["user"])
        # Root's alone: the pidfile is written there as root (process.write_pid). The server
        # works in it (its identity, process.works_in) but writes nothing there.
        process.private_dir(self.home)
        pid = process.spawn(argv, self.pidfile, p["log_file"], home=self.home, user=p["user"])
        self.log.info("spawned fractal-api pid %d on %s", pid, self.listen)

    def stop(self) -> Exit:
        pid = self.pid()
        if pid is None:
            # Killed: its worker serves on as a lame duck until the next start retires it, or
            # for as long as requests still reach it (drain_quiet after the last, drain_max
            # at most: the address may be moving away). Killing it here was the outage.
            if self._killed_server_serves():
                # Still serving here: the address need not move for the restart that follows
                # (if none does, the colocation with an active instance moves it anyway).
                self.log.info("the killed server's workers serve on as lame ducks")
            else:
                self._serving(False, force=True)
            process.remove(self.pidfile)
            return Exit.SUCCESS
        # Graceful first (in-flight requests finish), leaving time to SIGKILL and confirm. A
        # healthy instance gets all of it: it serves as a lame duck while the address may still
        # be moving away (fractal_service/api/drain.py). One that fails its depth-0 check is
        # being recovered in place: draining it would only delay its restart (up to drain_max).
        grace = max(self.remaining(margin=7.0), 1.0)
        if not self._answers_health():
            grace = min(grace, UNHEALTHY_STOP_GRACE_S)
        if process.terminate([pid], grace, kill_wait=5.0):
            raise OcfError(Exit.ERR_GENERIC, f"fractal-api pid {pid} survived SIGKILL")
        process.remove(self.pidfile)
        self.log.info("stopped pid %d", pid)
        # After the process is gone, not before: the change makes the DC plan again, and in a
        # standby the address's handover is still running beside this (lame-duck) stop.
        self._serving(False, force=True)
        return Exit.SUCCESS

    def _killed_server_serves(self) -> bool:
        """No server of ours, yet a worker of a killed one still answers /healthz."""
        return bool(process.working_in(self.home)) and self._answers_health()

    def _answers_health(self) -> bool:
        try:
            http.expect_ok(self.probe_host, self.params["port"], "GET", "/healthz",
                           min(self.params["health_timeout"], 1.0))
        except http.CheckFailed:
            return False
        return True

    def _serving(self, healthy: bool, force: bool = False) -> None:
        """This node's health attribute (HEALTH_ATTRIBUTE). `force`: send it even if this node
        sent the same value lately (start, stop, probe); a recurring monitor sends only a
        change. Outside a cluster there is no attrd to tell."""
        name = self.params["health_attribute"]
        if not _under_cluster(self.environ):
            return
        from resource_agents.ocf.attrd import NodeAttribute

        NodeAttribute(name, os.path.join(self.home, "health-attribute"),
                      self.log.warning).set(
            "1" if healthy else "0", timeout=min(5.0, max(self.remaining(), 0.5)), force=force)

    def monitor(self) -> Exit:
        """The checks below, and this node's health attribute set from their outcome: 0 before
        a failure reaches the cluster, so the DC moves the address as it plans the recovery."""
        try:
            code = self._check()
        except OcfError as exc:
            # Killed, but its worker still answers: this node serves on while Pacemaker
            # restarts it in place; moving the address would be the only gap.
            self._serving(exc.code == Exit.NOT_RUNNING and self._killed_server_serves())
            raise
        except Exception:
            self._serving(False)
            raise
        self._serving(code == Exit.SUCCESS, force=not self.ocf.interval)
        return code

    def _check(self) -> Exit:
        pid = self.pid()
        if pid is None:
            if process.read_pid(self.pidfile) is not None:
                raise OcfError(Exit.NOT_RUNNING, "fractal-api process is gone")
            if self.ocf.interval and self.environ.get(
                    "OCF_RESKEY_CRM_meta_role", "").lower() == "stopped":
                self._keep_store_login_warm()
            return Exit.NOT_RUNNING
        p, level = self.params, self.ocf.check_level
        try:
            http.expect_ok(self.probe_host, p["port"], "GET", "/healthz", p["health_timeout"])
            if level >= 10:
                self._store_check("GET", "/readyz", p["ready_timeout"])
            if level >= 20:
                self._store_check("POST", "/v1/selftest", p["selftest_timeout"])
        except http.CheckFailed as exc:
            raise OcfError(Exit.ERR_GENERIC, f"fractal-api pid {pid} unhealthy: {exc}") from None
        return Exit.SUCCESS

    def _keep_store_login_warm(self) -> None:
        """`op monitor role=Stopped` where the API is not running: keep this node's Object
        Storage login (fractal_service/store/token_cache.py) ready, so that an API started
        here by a takeover asks Keystone nothing. A stat and a small read while the token is
        fresh; a login (keystoneauth, ~0.5 s of imports) when it is missing, stale or made for
        other settings. Never fails the monitor: an API started here logs in itself."""
        url = self.params["store_url"]
        if not url.startswith("swift:"):
            return
        from fractal_service.store import token_cache

        path = os.path.join(self.params["data_dir"], token_cache.FILE)
        entry, why = token_cache.load(path, store_url=url)
        if entry is not None and entry.fresh(within=2 * self.ocf.interval):
            return
        try:
            from fractal_service.store import swift_auth, swift_url

            swift_auth.refresh(swift_url.parse(url), path, max(min(10.0, self.remaining()), 1.0),
                               owner=process.owner(self.params["user"]))
        except Exception as exc:  # keystoneauth's, openstacksdk's and OS errors alike
            self.log.warning("standby: Object Storage login for a takeover failed (an API "
                             "started here logs in itself): %s", str(exc)[:200])
            return
        self.log.info("standby: Object Storage login cached for a takeover%s",
                      f" (the cache was {why})" if why else "")

    def _store_check(self, method: str, path: str, timeout: float) -> None:
        """A check that involves the store: the store's own trouble (a 503 naming the "store"
        field, answered in time) is logged, not failed: a restart or a move would meet the
        same store. No answer in time, or any other error, is this process's failure."""
        status, payload = http.call(self.probe_host, self.params["port"], method, path, timeout,
                                    b"{}" if method == "POST" else b"")
        if status == 200:
            return
        detail = payload.decode(errors="replace").strip()[:200]
        if status == 503 and STORE_FIELD in payload.replace(b" ", b""):
            self.log.warning("%s %s: the store is slow or failing (not a reason to restart): %s",
                             method, path, detail)
            return
        raise http.CheckFailed(f"{method} {path} answered {status}: {detail}")


def main() -> int:
    return run_agent(ApiAgent)


if __name__ == "__main__":
    raise SystemExit(main())
