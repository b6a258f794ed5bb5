"""`crm resource trace`: our agents write trace files where and as the shell agents do."""

from __future__ import annotations

import io
import re
from pathlib import Path

from resource_agents.ocf import trace

OK, NOT_RUNNING = 0, 7
NAME = re.compile(r"^fractal-api\.monitor\.\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d$")


def test_no_trace_unless_asked(api_agent, tmp_path: Path) -> None:
    assert api_agent("monitor", HA_VARLIB=str(tmp_path)).rc == NOT_RUNNING
    assert not (tmp_path / "trace_ra").exists()


def test_trace_ra_writes_a_file_named_like_the_shell_agents(api_agent, tmp_path: Path) -> None:
    # crmsh sets the op attribute trace_ra=1, which Pacemaker passes as OCF_RESKEY_trace_ra
    result = api_agent("monitor", OCF_RESKEY_trace_ra="1", HA_VARLIB=str(tmp_path),
                       OCF_RESOURCE_TYPE="api")
    assert result.rc == NOT_RUNNING
    files = list((tmp_path / "trace_ra" / "api").iterdir())
    assert len(files) == 1 and NAME.match(files[0].name), files
    text = files[0].read_text()
    assert "ocf:api 1.0 monitor" in text.splitlines()[0]
    assert "env OCF_RESKEY_port=" in text
    assert re.search(r"call agents\.api\.ApiAgent\.monitor\n", text)
    assert re.search(r"return agents\.api\.ApiAgent\.monitor after \d+\.\d ms", text)
    assert text.rstrip().endswith("exit 7")


def test_trace_file_and_exit_reason(api_agent, tmp_path: Path) -> None:
    target = tmp_path / "traces" / "one"
    api_agent.params["port"] = "not-a-port"
    result = api_agent("start", OCF_TRACE_RA="yes", OCF_TRACE_FILE=str(target))
    assert result.rc == 6
    last = target.read_text().rstrip().splitlines()[-1]
    assert re.search(r"s exit 6: parameter port .* must be an integer$", last), last


def test_an_unwritable_trace_never_fails_the_action(api_agent, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = api_agent("monitor", OCF_TRACE_RA="1", OCF_TRACE_FILE=str(blocker / "x"))
    assert result.rc == NOT_RUNNING


def test_secrets_are_masked_everywhere() -> None:
    out = io.StringIO()
    tracer = trace.Tracer(out, secrets=["hunter2"])
    env = {"OCF_RESKEY_password": "hunter2", "OCF_RESKEY_auth_token": "tok-123",
           "OCF_RESKEY_cloud": "lab", "HA_LOGFILE": "/var/log/x"}
    tracer.begin("demo", "1.0", "start", env, secret_params=["password"])
    trace.secret("gAAAA-cached-token")
    trace.event("logged in with gAAAA-cached-token, password hunter2")
    trace.cloud_call("PUT", "/v2.0/floatingips/abc", 200, 0.0123)
    tracer.end(0, "")
    text = out.getvalue()
    for leaked in ("hunter2", "tok-123", "gAAAA-cached-token"):
        assert leaked not in text
    assert "env OCF_RESKEY_cloud=lab" in text
    assert "cloud PUT /v2.0/floatingips/abc -> 200 in 12.3 ms" in text
    trace.event("after the end")  # no tracer left behind: a no-op
    assert "after the end" not in out.getvalue()
