"""`fractal-ha exporter`: the cluster's state, quorum and the agents' records on /metrics.

One per node (the cluster runs it as a clone: cluster/config/exporter.crm). Port 9664 is
ha_cluster_exporter's: the two report the same facts under the same names, so run one of them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from resource_agents.metrics.collectors import ExporterCollector
from resource_agents.metrics.source import Source

log = logging.getLogger("fractal-ha.exporter")
DEFAULT_PORT = 9664
LANDING = b"""<html><head><title>fractal-ha exporter</title></head><body>
<h1>fractal-ha exporter</h1><p><a href="/metrics">metrics</a> &middot;
<a href="/healthz">healthz</a></p></body></html>
"""


def make_registry(source: Source, rsctmp: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(source, rsctmp))
    return registry


class Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry  # set on the subclass built by serve()
    server_version = "fractal-ha-exporter"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body, ctype, code = generate_latest(self.registry), CONTENT_TYPE_LATEST, 200
        elif path == "/healthz":  # the agent's monitor: cheap, never runs crm_mon
            body, ctype, code = b"ok\n", "text/plain", 200
        elif path == "/":
            body, ctype, code = LANDING, "text/html", 200
        else:
            body, ctype, code = b"not found\n", "text/plain", 404
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per scrape is noise; failures are logged where they happen


def serve(host: str, port: int, registry: CollectorRegistry) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"registry": registry})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host or "0.0.0.0", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fractal-ha exporter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=_listen, default=("0.0.0.0", DEFAULT_PORT),
                        metavar="HOST:PORT", help=f"default 0.0.0.0:{DEFAULT_PORT}")
    parser.add_argument("--cache-seconds", type=float, default=1.0,
                        help="scrapes within this time share one crm_mon run (default 1)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds each cluster tool may take (default 5)")
    parser.add_argument("--rsctmp", default=os.environ.get("HA_RSCTMP", "/run/resource-agents"),
                        help="where the agents leave their records (HA_RSCTMP)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--etcd", help="etcd members' URLs, comma-separated: their health too")
    from fractal_service.settings.process import add_tls_options

    add_tls_options(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    source = Source(ttl=args.cache_seconds, timeout=args.timeout)
    host, port = args.listen
    try:
        registry = make_registry(source, args.rsctmp)
        if args.etcd:
            from resource_agents.metrics.etcd_health import collector_from_options

            registry.register(collector_from_options(args))
        server = serve(host, port, registry)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
        return 1

    def stop(signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever to return: not from the thread running it.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving on http://%s:%d/metrics (records under %s)", host, port, args.rsctmp)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
