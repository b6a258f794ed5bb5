"""SIGTERM lets in-flight requests finish (a failover or `crm resource stop` loses no upload)."""

from __future__ import annotations

import hashlib
import http.client
import signal

from fractal_service.client import FractalClient

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200_000)


def test_an_upload_in_flight_completes_after_sigterm(spawn, backend) -> None:
    api = spawn.api()
    client = FractalClient(api.url)
    uuid = client.create({"width": 8, "height": 8})["uuid"]
    client.claim("w1", 60)

    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=20)
    conn.putrequest("PUT", f"/v1/jobs/{uuid}/result")
    for name, value in {"Content-Type": "image/png", "Content-Length": str(len(PNG)),
                        "X-Checksum": hashlib.sha256(PNG).hexdigest(), "X-Duration": "1",
                        "X-Worker": "w1"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(PNG[:1000])  # the server is now reading this request's body

    api.proc.send_signal(signal.SIGTERM)
    conn.send(PNG[1000:])
    response = conn.getresponse()
    assert response.status == 201
    assert api.proc.wait(30) == 0

    # the result really is in the store
    assert backend.open(api.log.parent).image(uuid) == PNG
