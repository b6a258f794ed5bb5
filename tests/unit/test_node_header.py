"""Every API answer names the node that gave it (X-Fractal-Node): errors and health included."""

from __future__ import annotations

import socket
from pathlib import Path

from fractal_service.api.app import NODE_HEADER, create_app
from fractal_service.config import Settings


def test_answers_name_their_node(tmp_path: Path) -> None:
    client = create_app(Settings(data_dir=tmp_path)).test_client()
    for path, status in (("/healthz", 200), ("/v1/fractals", 200), ("/v1/fractals/nope", 404)):
        answer = client.get(path)
        assert answer.status_code == status
        assert answer.headers[NODE_HEADER] == socket.gethostname()
