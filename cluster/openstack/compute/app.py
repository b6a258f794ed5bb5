"""The compute WSGI app (Flask): version discovery, servers list/show, power actions.

Served by gunicorn from the project's virtualenv:
    FRACTAL_OPENSTACK_STATE=DIR [FRACTAL_OPENSTACK_REGION=RegionTwo] \
        gunicorn 'cluster.openstack.compute.app:create_app()'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Flask, Response, g, jsonify, request

from cluster.openstack import tokens
from cluster.openstack.compute import registry, versions, views
from cluster.openstack.compute.power import ACTIONS, Conflict, PowerStates
from cluster.openstack.layout import REGIONS, Layout

ACCEPT_WAIT = 2.0


def _fault(status: int, kind: str, message: str) -> Response:
    response = jsonify({kind: {"code": status, "message": message}})
    response.status_code = status
    return response


def create_app(state: str | None = None) -> Flask:
    layout = Layout(state=Path(state or os.environ["FRACTAL_OPENSTACK_STATE"]),
                    region=os.environ.get("FRACTAL_OPENSTACK_REGION", REGIONS[0]))
    keystone = layout.backend_url("keystone") + "/v3"
    nets = views.AddressCache(layout.backend_url(layout.regional("neutron")))
    power = PowerStates(layout)
    app = Flask(__name__)

    def root() -> str:
        return request.host_url.rstrip("/")

    @app.before_request
    def authenticate() -> Response | None:
        path = request.path.rstrip("/")
        if path in ("", "/v2.1", "/v2"):
            return None  # version discovery is public, as in Nova
        try:
            g.version = versions.negotiate(request.headers)
        except versions.VersionNotSupported as exc:
            return _fault(406, "computeFault", str(exc))
        g.caller = tokens.validate(keystone, request.headers.get("X-Auth-Token"))
        if g.caller is None:
            response = jsonify({"error": {"code": 401, "title": "Unauthorized", "message":
                                          "The request you have made requires authentication."}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = f'Keystone uri="{layout.keystone_url}"'
            return response
        return None

    @app.after_request
    def microversion(response: Response) -> Response:
        if "version" in g:
            value = versions.header_value(g.version)
            response.headers["OpenStack-API-Version"] = f"compute {value}"
            response.headers["X-OpenStack-Nova-API-Version"] = value
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return response

    @app.get("/")
    def all_versions():
        return jsonify(versions.all_versions(root()))

    @app.get("/v2.1")
    @app.get("/v2.1/")
    def version():
        return jsonify({"version": versions.document(root())})

    def visible() -> list[registry.Server]:
        return [s for s in registry.all_servers(layout) if g.caller.may_see(s.project_id)]

    def shown(servers: list[registry.Server]) -> list[dict]:
        found = nets.get(g.caller.token, [s.id for s in servers])
        return [views.detail(root(), s, power.get(s.id), found.get(s.id, {}), g.version)
                for s in servers]

    def find(server_id: str) -> registry.Server | None:
        server = registry.get(layout, server_id)
        return server if server and g.caller.may_see(server.project_id) else None

    @app.get("/v2.1/servers")
    @app.get("/v2.1/servers/detail")
    def servers():
        found = visible()
        if name := request.args.get("name"):
            try:
                pattern = re.compile(name)
            except re.error:
                return _fault(400, "badRequest", f"Invalid regular expression: {name!r}")
            found = [s for s in found if pattern.search(s.name)]
        if marker := request.args.get("marker"):
            ids = [s.id for s in found]
            if marker not in ids:
                return _fault(400, "badRequest", f"marker [{marker}] not found")
            found = found[ids.index(marker) + 1:]
        if status := request.args.get("status"):
            found = [s for s in found if power.get(s.id).status == status.upper()]
        if limit := request.args.get("limit"):
            if not limit.isdigit():
                return _fault(400, "badRequest", "limit must be a non-negative integer")
            found = found[:int(limit)]
        if request.path.endswith("/detail"):
            return jsonify({"servers": shown(found)})
        return jsonify({"servers": [views.brief(root(), s) for s in found]})

    @app.get("/v2.1/servers/<server_id>")
    def server(server_id: str):
        found = find(server_id)
        if found is None:
            return _fault(404, "itemNotFound", f"Instance {server_id} could not be found.")
        return jsonify({"server": shown([found])[0]})

    @app.post("/v2.1/servers/<server_id>/action")
    def action(server_id: str):
        found = find(server_id)
        if found is None:
            return _fault(404, "itemNotFound", f"Instance {server_id} could not be found.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or len(body) != 1:
            return _fault(400, "badRequest", "The action body must be one JSON object key, "
                          f"one of: {', '.join(ACTIONS)}")
        (name, args), = body.items()
        if name not in ACTIONS:
            return _fault(400, "badRequest", f"Unsupported server action {name!r} "
                          f"(this lab supports: {', '.join(ACTIONS)})")
        if name == "reboot":
            kind = (args or {}).get("type") if isinstance(args, dict) else None
            if kind not in ("HARD", "SOFT"):
                return _fault(400, "badRequest", "reboot needs {'type': 'HARD' or 'SOFT'}")
            if kind == "SOFT" and not power.get(found.id).on:
                return _fault(409, "conflictingRequest", f"Cannot 'reboot' instance "
                              f"{found.id} while it is in vm_state stopped")
        try:
            worker = power.begin(found, name)
        except Conflict as exc:
            return _fault(409, "conflictingRequest", str(exc))
        # Accepted once the hypervisor is done or after ACCEPT_WAIT s, whichever comes first.
        # A lab node powers off in ~0.2 s; a fence agent polls the status every whole second
        # (fence_openstack: stonith_status_sleep=1), so a 202 sent before the power-off would
        # cost each fencing a second of downtime that no real hypervisor's API adds.
        worker.join(ACCEPT_WAIT)
        return Response(status=202)

    @app.errorhandler(404)
    def not_found(_exc):
        return _fault(404, "itemNotFound", f"No such resource: {request.path}")

    @app.errorhandler(405)
    def not_allowed(_exc):
        return _fault(405, "badMethod", f"{request.method} is not allowed on {request.path}")

    return app
