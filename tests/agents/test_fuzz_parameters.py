"""Fuzzed parameters: always an OCF code and a one-line reason, never a traceback."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resource_agents.agents.api import ApiAgent
from resource_agents.agents.worker import WorkerAgent
from resource_agents.ocf.agent import Agent
from resource_agents.ocf.params import Parameter

ALLOWED = {0, 5, 6}  # success, not installed, not configured

values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "-1", "0", "1e309", "nan", "inf", "0x1F", "true", "yes",
                     "99999999999999999999999", "/", "../../etc", "127.0.0.1", "::",
                     "http://", "\n", "a\x00b"]),
)


def run_validate(agent_class, params: dict[str, str]) -> tuple[int, str]:
    environ = {f"OCF_RESKEY_{k}": v for k, v in params.items()}
    environ["HA_RSCTMP"] = "/tmp/fractal-ha-fuzz"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = agent_class(environ).run(["agent", "validate-all"])
    return rc, err.getvalue()


@pytest.mark.parametrize("agent_class", [ApiAgent, WorkerAgent])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_parameter_value_gets_a_code_and_a_reason(agent_class, data) -> None:
    names = [p.name for p in agent_class.parameters]
    chosen = data.draw(st.dictionaries(st.sampled_from(names), values, max_size=4))
    if agent_class is WorkerAgent:
        chosen.setdefault("api_url", "http://127.0.0.1:8080")
    rc, err = run_validate(agent_class, chosen)
    assert rc in ALLOWED, (chosen, rc, err)
    assert "Traceback" not in err
    reasons = [ln for ln in err.splitlines() if ln.startswith("ocf-exit-reason:")]
    if rc:
        assert len(reasons) == 1 and len(reasons[0]) < 300
    else:
        assert not reasons


class SecretiveAgent(Agent):
    """The toolkit's handling of a secret (say, a store password) in every parsing path."""

    name = "secretive"
    shortdesc = longdesc = "an agent with a secret parameter"
    actions = ()
    parameters = (Parameter("password", "Store password", required=True, secret=True,
                            check=lambda v: None if v.isalnum() else "must be alphanumeric"),)


@settings(max_examples=100, deadline=None)
@given(suffix=values, action=st.sampled_from(["validate-all", "start", "monitor", "stop"]))
def test_a_secret_value_is_never_printed(suffix: str, action: str) -> None:
    secret = "S3cr3tMarker" + suffix
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        rc = SecretiveAgent({"OCF_RESKEY_password": secret}).run(["agent", action])
    assert "S3cr3tMarker" not in err.getvalue()
    assert "Traceback" not in err.getvalue()
    if not secret.isalnum() and action in ("validate-all", "start"):
        assert rc == 6 and "ocf-exit-reason:parameter password must be " in err.getvalue()
