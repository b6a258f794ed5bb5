"""Which requests take a store slot (api/admission.py) is decided by a mark on the view, not by
the blueprint it sits in: a health route that touches the store must never be shed, and a new
store route must not escape admission because of where it was registered."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, jsonify

from fractal_service.api import health
from fractal_service.api.admission import is_store_bound, store_bound
from fractal_service.api.app import create_app
from fractal_service.config import Settings

# Health checks touch the store with a short bound of their own (api/health.py): they must
# answer while every slot is busy, so they take none.
PROBES = {health.healthz, health.readyz, health.selftest}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(Settings(data_dir=tmp_path))


def _calls_the_store(view: Callable, seen: set | None = None) -> bool:
    """True if the view, or a function of its module it calls, calls deps.store()."""
    seen = seen if seen is not None else set()
    if view in seen:
        return False
    seen.add(view)
    names = view.__code__.co_names
    if "store" in names:
        return True
    module = inspect.getmodule(view)
    return any(_calls_the_store(called, seen) for name in names
               if inspect.isfunction(called := getattr(module, name, None))
               and called.__module__ == view.__module__)


def test_every_view_that_calls_the_store_is_marked_and_only_those(app: Flask) -> None:
    views = {endpoint: view for endpoint, view in app.view_functions.items()
             if endpoint != "static"}
    for endpoint, view in views.items():
        if view in PROBES:
            assert not is_store_bound(view), endpoint
        else:
            assert is_store_bound(view) == _calls_the_store(view), endpoint
    assert sum(map(is_store_bound, views.values())) == 10  # 5 fractal and 5 job routes


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/"])
def test_service_routes_are_not_marked_and_answer_with_every_slot_busy(app: Flask,
                                                                      path: str) -> None:
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(path)
    assert not is_store_bound(app.view_functions[endpoint])
    app.extensions["fractal_admission"].resize(0)  # every slot busy
    assert app.test_client().get(path).status_code == 200


def test_the_mark_not_the_blueprint_decides(app: Flask) -> None:
    # An endpoint named "fractals.…" is in the fractals blueprint as far as Flask knows
    # (request.blueprint == "fractals"), as a route added to it would be.
    app.add_url_rule("/v1/fractals/-/version", endpoint="fractals.version",
                     view_func=lambda: jsonify(version=1))
    app.add_url_rule("/v1/elsewhere", endpoint="elsewhere",
                     view_func=store_bound(lambda: jsonify(ok=True)))
    app.extensions["fractal_admission"].resize(0)
    client = app.test_client()
    assert client.get("/v1/fractals/-/version").status_code == 200
    shed = client.get("/v1/elsewhere")
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    assert client.get("/v1/fractals").status_code == 503
