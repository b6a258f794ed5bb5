"""A small in-process OpenStack for the floating-IP agent's login and takeover: Keystone v3
(discovery, password tokens with a catalog, revocation), Neutron (floating IPs with revisions
and If-Match, networks, ports), Nova (servers by name) and an Object Storage account that
only checks tokens (the store's login), each request counted by service."""

from __future__ import annotations

import collections
import http.server
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

FIP_ADDRESS = "203.0.113.10"
OBJECT_PATH = "/object/v1/AUTH_p1"


class FakeCloud:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, region: str = "RegionOne") -> None:
        self.region = region
        self.tokens: set[str] = set()
        self.issued: set[str] = set()  # every token ever given, revoked ones too
        # Object Storage accepting any token it was ever shown, as Swift's proxy does from its
        # token cache (minutes) after a revocation
        self.object_caches_tokens = False
        self.failing: set[str] = set()  # services answering 503
        self.delays: dict[str, float] = {}  # service -> seconds before it answers
        self.calls: collections.Counter[str] = collections.Counter()  # by service
        self.log: list[str] = []
        self.networks = [{"id": "net-1", "name": "private"}, {"id": "net-2", "name": "other"}]
        self.servers = [{"id": f"srv-{n}", "name": n} for n in ("n1", "n2", "n10")]
        self.ports = [{"id": f"port-{n}", "device_id": f"srv-{n}", "network_id": "net-1"}
                      for n in ("n1", "n2", "n10")]
        self.ports.append({"id": "port-n1-other", "device_id": "srv-n1", "network_id": "net-2"})
        self.fip = {"id": "fip-1", "floating_ip_address": FIP_ADDRESS, "port_id": None,
                    "revision_number": 1}
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer((host, port), self._handler())
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def revoke(self) -> None:
        self.tokens.clear()

    def reset(self) -> None:
        self.calls.clear()
        self.log.clear()

    def catalog(self) -> list[dict]:
        def service(kind: str, path: str) -> dict:
            return {"type": kind, "endpoints": [
                {"interface": "public", "region_id": self.region, "url": self.url + path},
                {"interface": "internal", "region_id": self.region,
                 "url": self.url + "/nowhere"}]}

        return [service("identity", "/identity/v3"), service("network", "/network"),
                service("compute", "/compute/v2.1"), service("object-store", OBJECT_PATH)]

    # -- the three services ------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict, headers, body: dict | None):
        service = path.split("/")[1]
        if service == "_fake" and method == "PUT":  # faults set from another process
            self.failing = set(body.get("failing", ()))
            self.delays = dict(body.get("delays", {}))
            return 204, None, {}
        self.calls[service] += 1
        self.log.append(f"{method} {path}")
        time.sleep(self.delays.get(service, 0.0))
        if service in self.failing:
            return 503, {"error": "unavailable"}, {}
        if service == "identity":
            return self._identity(method, path, body)
        if path in ("/network", "/network/", "/compute/v2.1", "/compute/v2.1/"):
            return self._versions(service)
        token = headers.get("X-Auth-Token")
        cached = service == "object" and self.object_caches_tokens and token in self.issued
        if token not in self.tokens and not cached:
            return 401, {"error": {"code": 401}}, {}
        if service == "object":  # any container of the account: there, and empty
            return (200, [], {}) if method == "GET" else (204, None, {})
        if service == "network":
            return self._network(method, path, query, headers, body)
        if service == "compute" and path in ("/compute/v2.1/servers",
                                             "/compute/v2.1/servers/detail"):
            wanted = re.compile(query.get("name", [""])[0])
            return 200, {"servers": [s for s in self.servers if wanted.search(s["name"])]}, {}
        return 404, {"error": "not found"}, {}

    def _identity(self, method: str, path: str, body: dict | None):
        base = self.url + "/identity"
        v3 = {"id": "v3.14", "status": "stable", "updated": "2020-01-01T00:00:00Z",
              "links": [{"rel": "self", "href": base + "/v3/"}],
              "media-types": [{"base": "application/json",
                               "type": "application/vnd.openstack.identity-v3+json"}]}
        if method == "GET" and path.rstrip("/") == "/identity":
            return 300, {"versions": {"values": [v3]}}, {}
        if method == "GET" and path.rstrip("/") == "/identity/v3":
            return 200, {"version": v3}, {}
        if method != "POST" or path != "/identity/v3/auth/tokens":
            return 404, {"error": "not found"}, {}
        user = body["auth"]["identity"]["password"]["user"]
        if user.get("name") != "fractal" or user.get("password") != "secret":
            return 401, {"error": {"code": 401}}, {}
        token = uuid.uuid4().hex
        self.tokens.add(token)
        self.issued.add(token)
        now = datetime.now(UTC)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000000Z")  # noqa: E731
        answer = {"token": {
            "methods": ["password"], "expires_at": stamp(now + timedelta(hours=1)),
            "issued_at": stamp(now), "audit_ids": [token[:8]], "catalog": self.catalog(),
            "user": {"id": "u1", "name": "fractal", "domain": {"id": "default",
                                                              "name": "Default"}},
            "project": {"id": "p1", "name": "fractal", "domain": {"id": "default",
                                                                  "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}]}}
        return 201, answer, {"X-Subject-Token": token}

    def _versions(self, service: str):
        if service == "network":
            return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": self.url + "/network/v2.0/"}]}]}, {}
        return 200, {"version": {"id": "v2.1", "status": "CURRENT", "version": "2.90",
                                 "min_version": "2.1", "links": [
                                     {"rel": "self", "href": self.url + "/compute/v2.1/"}]}}, {}

    def _network(self, method: str, path: str, query: dict, headers, body: dict | None):
        rest = path.removeprefix("/network/v2.0/")
        pick = lambda rows: [r for r in rows if all(  # noqa: E731
            str(r.get(k)) in v for k, v in query.items() if k != "fields")]
        if rest == "networks":
            return 200, {"networks": pick(self.networks)}, {}
        if rest == "ports":
            return 200, {"ports": pick(self.ports)}, {}
        if rest == "floatingips":
            return 200, {"floatingips": pick([self.fip])}, {}
        if rest != f"floatingips/{self.fip['id']}":
            return 404, {"NeutronError": {"type": "NotFound"}}, {}
        with self.lock:
            if method == "PUT":
                match = headers.get("If-Match")
                if match and match != f"revision_number={self.fip['revision_number']}":
                    return 412, {"NeutronError": {"type": "RevisionNumberConstraintFailed"}}, {}
                self.fip["port_id"] = body["floatingip"]["port_id"]
                self.fip["revision_number"] += 1
            return 200, {"floatingip": dict(self.fip)}, {}

    def _handler(self):
        cloud = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                status, answer, extra = cloud.answer(self.command, parts.path,
                                                     parse_qs(parts.query), self.headers, body)
                raw = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_HEAD = _any

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def set_faults(url: str, failing: tuple[str, ...] = (), **delays: float) -> None:
    """Faults of a fake cloud served by another process (`main`), e.g. in a namespace."""
    import urllib.request

    body = json.dumps({"failing": list(failing), "delays": delays}).encode()
    request = urllib.request.Request(url + "/_fake/faults", body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.support.fake_cloud HOST PORT REGION`: serve until killed."""
    import sys

    host, port, region = (argv if argv is not None else sys.argv[1:])[:3]
    cloud = FakeCloud(host, int(port), region)
    print(f"fake cloud {region} at {cloud.url}", flush=True)
    threading.Event().wait()


def clouds_yaml(cloud: FakeCloud, **extra) -> dict:
    return {"clouds": {"fake": {
        "auth": {"auth_url": cloud.url + "/identity", "username": "fractal",
                 "password": "secret", "project_name": "fractal",
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionOne", "identity_api_version": 3, "interface": "public",
        **extra}}}


if __name__ == "__main__":
    main()
