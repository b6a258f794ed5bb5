"""SIGTERM lets in-flight requests finish (a failover or `crm resource stop` loses no upload)."""

from __future__ import annotations

import hashlib
import http.client
import signal

from fractal_service.client import FractalClient
from tests.support.images import png

# ~200 KB that barely compresses: the body is still arriving when SIGTERM comes
SIZE = 256
PNG = png(SIZE, SIZE, noise=True, level=0)


def test_an_upload_in_flight_completes_after_sigterm(spawn, backend) -> None:
    api = spawn.api()
    client = FractalClient(api.url)
    uuid = client.create({"width": SIZE, "height": SIZE})["uuid"]
    claim = client.claim("w1", 60)

    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=20)
    conn.putrequest("PUT", f"/v1/jobs/{uuid}/result")
    for name, value in {"Content-Type": "image/png", "Content-Length": str(len(PNG)),
                        "X-Checksum": hashlib.sha256(PNG).hexdigest(), "X-Duration": "1",
                        "X-Worker": "w1", "X-Lease-Token": claim.lease_token}.items():
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
