"""The WSGI application: routes, JSON errors and metrics wired around one store."""

from __future__ import annotations

import logging
import socket

from flask import Flask, Response

from fractal_service.api import auth, bodies, errors, fractals, health, jobs, openapi, web
from fractal_service.api.admission import StoreAdmission
from fractal_service.api.metrics import ApiMetrics
from fractal_service.config import Settings
from fractal_service.settings.source import EtcdSettingsSource
from fractal_service.store import Store, open_store

log = logging.getLogger("fractal.api")


def create_app(settings: Settings, store: Store | None = None,
               settings_source: EtcdSettingsSource | None = None) -> Flask:
    app = Flask("fractal_service")
    store = store or open_store(settings.store, settings.data_dir,
                                max_attempts=settings.max_attempts)
    metrics = ApiMetrics(store)
    app.config.update(
        FRACTAL_SETTINGS=settings,
        FRACTAL_STORE=store,
        FRACTAL_METRICS=metrics,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    for blueprint in (fractals.bp, jobs.bp, health.bp, openapi.bp, web.bp):
        app.register_blueprint(blueprint)
    errors.install(app)
    metrics.install(app)
    # Who asks before what they send, and bodies before store slots: neither an anonymous
    # caller nor a slow sender may hold a store slot.
    auth.install(app, settings)
    bodies.install(app, settings.max_json_bytes)
    admission = StoreAdmission(settings.store_slots, metrics, settings.request_deadline)
    admission.install(app)
    app.after_request(_answered_by(socket.gethostname()))
    if settings_source is not None:
        _follow(app, admission, metrics, settings_source)
    return app


def _follow(app: Flask, admission: StoreAdmission, metrics: ApiMetrics,
            source: EtcdSettingsSource) -> None:
    """Settings from etcd, applied while serving (server.LIVE says which)."""
    from fractal_service.settings.metrics import SettingsCollector

    def apply(new: Settings) -> None:
        if new.store_slots >= 1:
            admission.resize(new.store_slots)
        else:  # spare_threads at or above the running threads: not until a restart
            log.warning("spare_threads=%d leaves no store slot with %d threads: ignored",
                        new.spare_threads, new.threads)
        logging.getLogger().setLevel(new.log_level.upper())
        app.config["FRACTAL_SETTINGS"] = new  # one reference swap: requests see old or new

    source.live.apply = apply
    metrics.registry.register(SettingsCollector(source))
    app.extensions["fractal_settings_source"] = source
    source.start()


def _answered_by(node: str):
    """Every answer names the node that gave it: behind a moving address, a client (and a
    failover test) sees which node served it."""

    def stamp(response: Response) -> Response:
        response.headers[NODE_HEADER] = node
        return response

    return stamp


NODE_HEADER = "X-Fractal-Node"
