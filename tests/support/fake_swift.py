"""An in-memory Object Storage endpoint with Swift's semantics where SwiftStore relies on them,
for light tests of what would need a real cloud to reproduce: the adapter SwiftStore is given
(`request(path, method, ...)`), one container, and hooks to make writes overlap or calls slow.

What it keeps of Swift: `If-None-Match: *` is checked when a PUT arrives and the object is
stored when the PUT ends, the newer timestamp (its arrival) winning, so a PUT started inside
`on_put` of another one to the same name overlaps it as on a real object server; a JSON
listing in name order with prefix, marker, limit and reverse; metadata headers back on HEAD/GET.
A request can also be carried out and its answer lost (`lose_answers`): what a caller sees when
its timeout (or its request's deadline) fires while a slow Swift still completes the write.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote


@dataclass
class FakeResponse:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass
class _Object:
    headers: dict[str, str]
    body: bytes
    stamp: int
    modified: str


class FakeSwift:
    def __init__(self) -> None:
        self.objects: dict[str, _Object] = {}
        self.container = False
        self.calls: list[tuple[str, str | None]] = []  # (method, object name or None)
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0  # seconds every request takes
        # Called as on_put(name, headers) once a PUT passed If-None-Match, before it lands.
        self.on_put: Callable[[str, dict[str, str]], None] | None = None
        # lose_answers(method, name): True = the request is carried out, then the caller gets
        # a timeout instead of its answer.
        self.lose_answers: Callable[[str, str | None], bool] | None = None
        self.answers_lost = 0
        self.stored: list[tuple[str, str]] = []  # (name, Content-Type) of every PUT that landed
        self._stamps = itertools.count()
        self._lock = threading.Lock()

    def listings(self) -> int:
        return sum(1 for method, name in self.calls if method == "GET" and name is None)

    def request(self, path: str, method: str, *, headers: dict[str, str], data: bytes | None,
                params: dict[str, str] | None, timeout: float, raise_exc: bool) -> FakeResponse:
        _, _container, *rest = path.split("/", 2)
        name = unquote(rest[0]) if rest else None
        with self._lock:
            self.calls.append((method, name))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if name is None:
                response = self._container(method, params or {})
            elif not self.container:
                response = FakeResponse(404)
            else:
                response = self._object(method, name, headers, data or b"")
            if self.lose_answers is not None and self.lose_answers(method, name):
                with self._lock:
                    self.answers_lost += 1
                raise TimeoutError(f"Request to {path} timed out")  # as keystoneauth words it
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    def _container(self, method: str, params: dict[str, str]) -> FakeResponse:
        if method == "PUT":
            created, self.container = not self.container, True
            return FakeResponse(201 if created else 202)
        if not self.container:
            return FakeResponse(404)
        if method == "HEAD":
            return FakeResponse(204)
        prefix, marker = params.get("prefix", ""), params.get("marker")
        reverse = params.get("reverse") == "true"
        names = sorted((n for n in list(self.objects) if n.startswith(prefix)), reverse=reverse)
        if marker is not None:
            names = [n for n in names if (n < marker if reverse else n > marker)]
        items = []
        for n in names[:int(params.get("limit", "10000"))]:
            obj = self.objects.get(n)
            if obj is not None:
                items.append({"name": n, "content_type": obj.headers.get("Content-Type", ""),
                              "last_modified": obj.modified, "bytes": len(obj.body)})
        return FakeResponse(200, {}, json.dumps(items).encode())

    def _object(self, method: str, name: str, headers: dict[str, str],
                data: bytes) -> FakeResponse:
        if method == "PUT":
            if headers.get("If-None-Match") == "*" and name in self.objects:
                return FakeResponse(412)
            stamp = next(self._stamps)  # the proxy's X-Timestamp: when the request arrived
            if self.on_put is not None:
                self.on_put(name, headers)
            current = self.objects.get(name)
            if current is None or current.stamp < stamp:  # the newer timestamp wins
                self.objects[name] = _Object(
                    {k: v for k, v in headers.items() if k.startswith(("Content-Type",
                                                                       "X-Object-Meta-"))},
                    data, stamp, datetime.now(UTC).replace(tzinfo=None).isoformat())
                self.stored.append((name, headers.get("Content-Type", "")))
            return FakeResponse(201)
        obj = self.objects.get(name)
        if obj is None:
            return FakeResponse(404)
        if method == "DELETE":
            del self.objects[name]
            return FakeResponse(204)
        return FakeResponse(200, dict(obj.headers), obj.body if method == "GET" else b"")
