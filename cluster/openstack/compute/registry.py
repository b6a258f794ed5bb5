"""The servers compute knows: one JSON file each, written by the lab (definitions and power
hooks) and read by the compute app on every request, so a new hook needs no restart."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cluster.openstack.layout import Layout


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    # argv run on os-stop / os-start (reboot runs both); env has FRACTAL_SERVER_ID/_NAME.
    hooks: dict[str, list[str]] = field(default_factory=dict)


def _dir(layout: Layout) -> Path:
    return layout.dir(layout.regional("compute")) / "servers"  # each region's compute its own


def _write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)  # the app never reads half a file


def register(layout: Layout, server: Server) -> None:
    for action in server.hooks:
        if action not in ("stop", "start"):
            raise ValueError(f"unknown hook {action!r}: use 'stop' and 'start'")
    _write(_dir(layout) / f"{server.id}.json", asdict(server))


def set_hooks(layout: Layout, server_id: str, hooks: dict[str, list[str]]) -> None:
    server = get(layout, server_id)
    if server is None:
        raise KeyError(f"no server {server_id}")
    server.hooks = hooks
    register(layout, server)


def get(layout: Layout, server_id: str) -> Server | None:
    path = _dir(layout) / f"{server_id}.json"
    if "/" in server_id or not path.exists():
        return None
    return Server(**json.loads(path.read_text()))


def all_servers(layout: Layout) -> list[Server]:
    folder = _dir(layout)
    if not folder.exists():
        return []
    return sorted((Server(**json.loads(p.read_text())) for p in folder.glob("*.json")),
                  key=lambda s: (s.name, s.id))
