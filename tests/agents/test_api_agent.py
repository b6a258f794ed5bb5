"""ocf:fractal:api: every exit-code path, with the real server."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from resource_agents.ocf import http, process
from tests.support import netns
from tests.support.netns import private_network
from tests.support.processes import wait_until

OK, GENERIC, UNIMPLEMENTED, ARGS, INSTALLED, CONFIGURED, NOT_RUNNING = 0, 1, 3, 2, 5, 6, 7


def api_pid(agent) -> int:
    return process.read_pid(agent.rsctmp / "fractal-api-fractal-api" / "api.pid")


def test_lifecycle(api_agent) -> None:
    assert api_agent("monitor").rc == NOT_RUNNING
    assert api_agent("stop").rc == OK  # stopping a stopped resource succeeds
    assert api_agent("start").rc == OK
    assert api_agent("start").rc == OK  # already running: success, no second server
    pid = api_pid(api_agent)
    for depth in ("0", "10", "20"):
        assert api_agent("monitor", OCF_CHECK_LEVEL=depth).rc == OK
    assert api_agent("stop").rc == OK
    assert not process.is_alive(pid)
    assert api_agent("monitor").rc == NOT_RUNNING


def test_a_killed_server_is_reported_not_running(api_agent) -> None:
    assert api_agent("start").rc == OK
    os.killpg(api_pid(api_agent), signal.SIGKILL)
    wait_until(lambda: not process.is_alive(api_pid(api_agent)), 5, "the server to die")
    result = api_agent("monitor")
    assert result.rc == NOT_RUNNING
    assert "gone" in result.reason


def test_a_hung_server_fails_the_monitor_with_a_reason(api_agent) -> None:
    assert api_agent("start").rc == OK
    api_agent.params["health_timeout"] = "0.5"
    pid = api_pid(api_agent)
    os.killpg(pid, signal.SIGSTOP)
    try:
        result = api_agent("monitor")
    finally:
        os.killpg(pid, signal.SIGCONT)
    assert result.rc == GENERIC
    assert "timed out" in result.reason and "\n" not in result.reason


def test_bad_parameters_are_configuration_errors(api_agent) -> None:
    for name, value, words in [("port", "70000", "port '70000' must be <= 65535"),
                               ("port", "http", "port 'http' must be an integer"),
                               ("bind_address", "localhost", "must be an IP address"),
                               ("data_dir", "relative/dir", "absolute path")]:
        api_agent.params[name] = value
        result = api_agent("validate-all")
        assert result.rc == CONFIGURED, (name, result)
        assert words in result.reason
        assert api_agent("start").rc == CONFIGURED
        api_agent.params.pop(name)


def test_a_user_missing_on_this_node_is_not_installed(api_agent) -> None:
    """True of this node only: 5 keeps the service off it; 6 would stop it everywhere."""
    api_agent.params["user"] = "no-such-user-here"
    result = api_agent("start", OCF_RESKEY_CRM_meta_on_node="n2")
    assert result.rc == INSTALLED
    assert "no-such-user-here" in result.reason and "node n2" in result.reason


def test_bad_config_never_fails_stop_or_probe(api_agent) -> None:
    api_agent.params["port"] = "not-a-port"
    assert api_agent("stop").rc == OK  # a failed stop would get the node fenced
    assert api_agent("monitor").rc == NOT_RUNNING


def test_missing_program_is_not_installed(api_agent, tmp_path: Path) -> None:
    api_agent.params["program"] = str(tmp_path / "nowhere" / "fractal-api")
    result = api_agent("start")
    assert result.rc == INSTALLED
    assert "not installed" in result.reason


def test_start_honours_the_op_timeout(api_agent, tmp_path: Path) -> None:
    never_healthy = tmp_path / "sleeper"
    never_healthy.write_text("#!/bin/sh\nsleep 600\n")  # runs, keeps its argv, never listens
    never_healthy.chmod(0o755)
    api_agent.params["program"] = str(never_healthy)
    started = time.monotonic()
    result = api_agent("start", OCF_RESKEY_CRM_meta_timeout="4000")
    assert time.monotonic() - started < 4
    assert result.rc == GENERIC
    assert "did not become healthy" in result.reason
    pid = api_pid(api_agent)
    assert process.is_alive(pid)
    # the stop that Pacemaker then sends leaves nothing behind, children included
    assert api_agent("stop").rc == OK
    assert not process.is_alive(pid)


def test_a_server_that_exits_at_start_reports_its_last_words(api_agent, tmp_path: Path) -> None:
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'cannot open store: disk on fire' >&2\nexit 1\n")
    failing.chmod(0o755)
    api_agent.params["program"] = str(failing)
    result = api_agent("start")
    assert result.rc == GENERIC
    assert "disk on fire" in result.reason


def test_usage_and_unknown_actions(api_agent) -> None:
    assert api_agent("usage").rc == OK
    assert api_agent("promote").rc == UNIMPLEMENTED
    assert api_agent("reload-agent").rc == OK


def test_stop_after_a_crash_leaves_the_worker_to_end_as_a_lame_duck(api_agent) -> None:
    """A killed master's worker is not killed by the stop (it may be all that serves while the
    address moves); with no request reaching it, it ends by itself after drain_quiet."""
    assert api_agent("start").rc == OK
    master = api_pid(api_agent)
    home = str(api_agent.rsctmp / "fractal-api-fractal-api")
    children = [p for p in process.working_in(home) if p != master]
    assert children  # gunicorn's worker
    os.kill(master, signal.SIGKILL)  # the master only, as a crash would
    wait_until(lambda: not process.is_alive(master), 5, "the master to die")
    assert api_agent("stop").rc == OK
    assert api_agent("monitor").rc == NOT_RUNNING
    wait_until(lambda: not any(process.is_alive(p) for p in children), 10,
               "the idle lame duck to end by itself")


def test_a_killed_server_is_replaced_with_no_failed_request(api_agent) -> None:
    """Pacemaker's recovery of a SIGKILLed API (monitor, stop, start) while a client asks
    20 times a second on new connections: the killed server's worker serves until the new
    server answers beside it on the shared port, then is retired. Before, the stop killed the
    worker and every request failed until the new server was up (~1 s here).

    With net.ipv4.tcp_migrate_req as the package ships it (60-fractal-api.conf), in a network
    namespace of the test's own: at the host's default (0) a connection queued on the retired
    worker's socket when it closes is reset (seen once in CI, 1 of 31 requests)."""
    with private_network({"ipv4/tcp_migrate_req": "1"}) as ns:
        _replace_a_killed_server(api_agent, ns)


def _replace_a_killed_server(api_agent, ns: int) -> None:
    assert api_agent("start").rc == OK
    master = api_pid(api_agent)
    home = str(api_agent.rsctmp / "fractal-api-fractal-api")
    children = [p for p in process.working_in(home) if p != master]
    port = int(api_agent.params["port"])
    with Prober("127.0.0.1", port, ns) as seen:
        time.sleep(0.5)
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: not process.is_alive(master), 5, "the master to die")
        assert api_agent("monitor").rc == NOT_RUNNING
        assert api_agent("stop").rc == OK
        result = api_agent("start")
        assert result.rc == OK, result.reason
        time.sleep(0.5)
    print(f"{seen.answered} answered, failed: {seen.failed}")
    assert seen.answered > 20 and not seen.failed
    assert not any(process.is_alive(p) for p in children)  # retired by the start
    assert api_agent("monitor").rc == OK


def test_start_after_a_crash_retires_the_workers_holding_the_port(api_agent) -> None:
    # An operator's restart by hand (`crm_resource --force-start` in maintenance mode) comes
    # with no stop before it: the dead master's worker still holds the port; the new server
    # binds beside it (SO_REUSEPORT) and the start retires it once the new one answers.
    assert api_agent("start").rc == OK
    master = api_pid(api_agent)
    home = str(api_agent.rsctmp / "fractal-api-fractal-api")
    children = [p for p in process.working_in(home) if p != master]
    os.kill(master, signal.SIGKILL)
    wait_until(lambda: not process.is_alive(master), 5, "the master to die")
    result = api_agent("start")
    assert result.rc == OK, result.reason
    assert not any(process.is_alive(p) for p in children)
    assert api_agent("monitor").rc == OK
    assert api_agent("stop").rc == OK


class Prober:
    """/healthz on a new connection every 50 ms (0.5 s timeout) in a thread, counting; in the
    network namespace `ns` if given."""

    def __init__(self, host: str, port: int, ns: int | None = None) -> None:
        self.host, self.port, self.ns = host, port, ns
        self.answered, self.failed = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.ns is not None:
            netns.join(self.ns)
        started = time.monotonic()
        while not self._stop.wait(0.05):
            try:
                http.expect_ok(self.host, self.port, "GET", "/healthz", 0.5)
                self.answered += 1
            except http.CheckFailed as exc:
                self.failed.append(f"{time.monotonic() - started:.2f} s: {exc}")

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
