"""ocf:fractal:api refuses a configuration the service would refuse, or that would lose data on
a failover, before starting anything: OCF 6 (not configured) with one line saying why."""

from __future__ import annotations

OK, CONFIGURED = 0, 6
PACEMAKER = {"OCF_RESKEY_CRM_meta_timeout": "20000"}  # what Pacemaker passes every op


def test_threads_the_service_refuses_are_refused_with_its_message(api_agent) -> None:
    for threads in ("1", "8"):
        api_agent.params["threads"] = threads
        result = api_agent("validate-all")
        assert result.rc == CONFIGURED, result
        # fractal_service/config.py's own words, not a copy of its rule
        assert f"setting 'spare_threads' (8) must be below 'threads' ({threads})" in result.reason
        assert "\n" not in result.reason
        assert api_agent("start").rc == CONFIGURED
    api_agent.params["threads"] = "9"
    assert api_agent("validate-all").rc == OK


def test_the_service_environment_is_honoured(api_agent) -> None:
    api_agent.params["threads"] = "8"
    assert api_agent("validate-all", FRACTAL_SPARE_THREADS="4").rc == OK


def test_under_pacemaker_a_node_local_store_needs_to_be_asked_for(api_agent) -> None:
    api_agent.params.pop("allow_local_store")
    result = api_agent("start", **PACEMAKER)
    assert result.rc == CONFIGURED
    assert "store_url is empty" in result.reason and "node-local" in result.reason
    assert "\n" not in result.reason
    assert api_agent("validate-all", **PACEMAKER).rc == CONFIGURED
    assert api_agent("validate-all").rc == OK  # by hand, outside a cluster: the default is fine
    assert api_agent("monitor", **PACEMAKER).rc == 7  # a probe still answers "not running"
    api_agent.params["allow_local_store"] = "true"
    assert api_agent("validate-all", **PACEMAKER).rc == OK


def test_an_explicit_store_url_is_accepted_under_pacemaker(api_agent, tmp_path) -> None:
    api_agent.params.pop("allow_local_store")
    api_agent.params["store_url"] = f"sqlite:///{tmp_path}/shared/fractals.db"
    assert api_agent("validate-all", **PACEMAKER).rc == OK
