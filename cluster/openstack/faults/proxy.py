"""The fault proxies (one listening port per service) and their admin API, in one process.

Admin API (JSON): GET /faults; PUT /faults/SERVICE {latency_ms, error_rate, error_status,
outage_seconds}; DELETE /faults/SERVICE (or /faults for all).
Run: python -m cluster.openstack.faults.proxy STATE_DIR
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from pathlib import Path

from cluster.openstack import tls
from cluster.openstack.faults import http
from cluster.openstack.faults.model import Fault, FaultError, check_service
from cluster.openstack.layout import HOST, PROXIED, SERVICES, Layout


class Proxies:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.faults = {name: Fault() for name in PROXIED}

    async def serve(self) -> None:
        ports = self.layout.ports()
        servers = [await asyncio.start_server(self._admin, HOST, ports["faults"])]
        for name in PROXIED:  # a region's server not started answers 502, as any stopped one
            servers.append(await asyncio.start_server(
                lambda r, w, name=name: self._proxy(name, r, w), HOST, ports[f"{name}-proxy"]))
        context = self._tls_context()
        if context is not None:  # the HTTPS twins (RegionOne's): TLS ends here, same faults
            for name in SERVICES:
                servers.append(await asyncio.start_server(
                    lambda r, w, name=name: self._proxy(name, r, w, tls=True), HOST,
                    ports[f"{name}-tls"], ssl=context))
        await asyncio.gather(*(s.serve_forever() for s in servers))

    def _tls_context(self) -> ssl.SSLContext | None:
        cert, key = tls.server_files(self.layout)
        if not cert.exists():
            return None  # a cloud made before the lab had its CA
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    async def _proxy(self, name: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, tls: bool = False) -> None:
        try:
            fault = self.faults[name]
            if fault.in_outage():
                writer.transport.abort()  # reset: as if the endpoint were unreachable
                return
            request = await http.read_request(reader)
            if tls:  # Keystone and Neutron build their links with it (http_proxy_to_wsgi)
                request[2].append("X-Forwarded-Proto: https")
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.next_fails():
                writer.write(http.response(fault.error_status, {"error": {
                    "code": fault.error_status, "message": f"injected fault on {name}"}}))
            else:
                await self._forward(name, request, writer)
            await writer.drain()
        except (http.BadRequest, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _forward(self, name: str, request: tuple, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                HOST, self.layout.ports()[name])
        except OSError:
            writer.write(http.response(502, {"error": f"{name} is not running"}, "Bad Gateway"))
            return
        try:
            up_writer.write(http.forwarded_head(*request) + request[3])
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            up_writer.close()

    async def _admin(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, target, _, body = await http.read_request(reader)
            writer.write(self._admin_answer(method, target.rstrip("/"), body))
            await writer.drain()
        except (http.BadRequest, ConnectionError):
            pass
        finally:
            writer.close()

    def _admin_answer(self, method: str, target: str, body: bytes) -> bytes:
        parts = target.strip("/").split("/")
        if parts[0] != "faults" or len(parts) > 2:
            return http.response(404, {"error": f"no such resource: {target}"})
        try:
            names = [check_service(parts[1])] if len(parts) == 2 else list(PROXIED)
            if method == "GET":
                return http.response(200, {n: self.faults[n].describe() for n in names})
            if method == "DELETE":
                self.faults.update({n: Fault() for n in names})
                return http.response(200, {n: self.faults[n].describe() for n in names})
            if method == "PUT" and len(parts) == 2:
                try:
                    spec = json.loads(body or b"{}")
                except ValueError:
                    raise FaultError("body must be a JSON object") from None
                if not isinstance(spec, dict):
                    raise FaultError("body must be a JSON object")
                self.faults[names[0]] = Fault.parse(spec)
                return http.response(200, {names[0]: self.faults[names[0]].describe()})
            return http.response(405, {"error": f"{method} not allowed on {target}"})
        except FaultError as exc:
            return http.response(400, {"error": str(exc)})


def main(argv: list[str]) -> int:
    asyncio.run(Proxies(Layout(state=Path(argv[0]))).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
