"""gunicorn's threaded worker, except that a request reaches a pool thread only once it has
fully arrived: until then it is read on the event loop.

Stock gthread hands every accepted connection to a pool thread, which then blocks reading the
request. Clients that connect and send nothing, or send their headers or body a line a second
(a prober that gives up without closing, a slow or hostile client), then hold every thread, and
/healthz (which the cluster's monitor calls every second) times out though the server is idle:
40 silent connections, or 32 trickling ones, silenced a 32-thread API. Here every request, on a
new connection or a kept-alive one, is read into a buffer by the event loop (api/arrival.py)
and handed to a thread with its headers and body complete, so a thread never waits on a
client. A request must arrive in time: its headers within `header_timeout`, its body at
`body_min_rate` at least (settings); a sender past that gets 408 and is disconnected.

A connection closed after its answer lingers on the event loop too (RFC 9112 9.6: half-close,
then read until the client's FIN, 2 s at most). gunicorn does that with blocking reads on the
event loop's own thread, so one client that went silent after its answer (gone, or its last
packets lost when the service address moved and the router's connection tracking was flushed)
froze every request for 2 s: a planned move lost ~20 requests at 20/s to it.

A worker whose master is killed keeps serving, as a lame duck (api/drain.py), where stock
gthread exits within a second: the port is shared (SO_REUSEPORT, server.py), so its successor
starts beside it, and ocf:fractal:api retires it (SIGTERM: stop accepting now, finish what is
in flight) once the successor answers; while the address moves to another node instead, it
serves until the traffic has gone. Its exit before then was the outage of an API kill.

Built on gthread's internals (TConn, the parser's unreader, keepalived_conns, nr_conns), hence
the pin on gunicorn's major version in pyproject.toml.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from functools import partial

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from fractal_service.api import drain, wire_errors
from fractal_service.api.arrival import Arrival
from fractal_service.config import Settings

READ_SIZE = 256 * 1024
SWEEP_EVERY = 0.25  # seconds between checks of arriving requests' deadlines
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
TOO_SLOW = wire_errors.render(408, "Request Timeout", "request not received in time")
LINGER_S = 2.0  # gunicorn's own bounds for a lingering close (util.close_graceful)
LINGER_MAX_BYTES = 65536


class LingeringConn(TConn):
    """A connection whose graceful close, asked on the event loop's thread, lingers on the
    poller instead of blocking that thread (`linger`, set by the worker)."""

    linger: Callable[[socket.socket], None] | None = None

    def close(self, graceful: bool = False) -> None:
        if graceful and self.linger is not None \
                and threading.current_thread() is threading.main_thread():
            self.linger(self.sock)
        else:  # a request thread's close may block it: it blocks nobody else
            super().close(graceful)


class PollingThreadWorker(ThreadWorker):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._arriving: dict[TConn, Arrival] = {}
        self._next_sweep = 0.0
        self._last_arrival = 0.0  # monotonic: the lame duck ends once requests stop coming
        self._lingering: dict[socket.socket, list[float]] = {}  # sock -> [deadline, bytes read]
        self._orphaned = False  # the master is gone: a lame duck until retired or idle

    # -- lame duck (api/drain.py) -------------------------------------------------------------
    def handle_exit(self, sig: int, frame: object) -> None:
        """SIGTERM: keep serving (alive stays True) until the lame duck is over. An orphan's
        SIGTERM comes from the agent once the successor answers: stop accepting now."""
        if self._orphaned:
            self.alive = False
            return
        drain.begin()

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive and self._orphaned:
            # The killed master's socket is this worker's alone: closed now, the kernel stops
            # handing it connections that nobody would accept (those already queued pass to
            # the successor's socket with net.ipv4.tcp_migrate_req).
            for listener in self.sockets:
                with contextlib.suppress(OSError):
                    listener.close()

    def is_parent_alive(self) -> bool:
        """gthread exits as soon as its master is gone; this worker becomes a lame duck."""
        if not self._orphaned and self.ppid != os.getppid():
            self._orphaned = True
            self.log.warning("master %s gone: serving on as a lame duck until retired or idle",
                             self.ppid)
            drain.begin()
        return True  # the lame duck's end, or the agent's SIGTERM, clears `alive`

    def handle_request(self, req: object, conn: TConn) -> bool:
        if drain.draining():
            req.must_close = True  # a kept-alive client's next request goes through the address
        return super().handle_request(req, conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # gthread waits up to 1 s per turn: while draining, look at the clock more often.
        super().wait_for_and_dispatch_events(min(timeout, 0.1) if drain.draining() else timeout)
        if self.alive and drain.draining():
            settings = self._settings()
            if drain.over(self._last_arrival, settings.drain_quiet, settings.drain_max):
                self.alive = False  # gthread's graceful stop: in-flight requests finish

    def init_process(self) -> None:
        wire_errors.install()  # gunicorn's own 400/414/431 answers as JSON
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = LingeringConn(self.cfg, sock, address, listener.getsockname())  # non-blocking
        conn.linger = self._linger
        self._await_request(conn)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection's next request: buffered like a new connection's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)
        self._on_bytes(conn, client)

    # -- requests arriving -------------------------------------------------------------------
    def _await_request(self, conn: TConn) -> None:
        settings = self._settings()
        self._last_arrival = time.monotonic()
        conn.sock.setblocking(False)
        self._arriving[conn] = Arrival(settings.header_timeout, settings.body_min_rate,
                                       self._body_limit)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, conn))

    def _on_bytes(self, conn: TConn, _client: socket.socket) -> None:
        arrival = self._arriving.get(conn)
        if arrival is None:
            return
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left (or reset) before its request was whole
            self._drop(conn)
            return
        if not arrival.feed(data):
            if arrival.expects_continue:
                arrival.expects_continue = False  # once (gunicorn's own later one is harmless)
                with contextlib.suppress(OSError):
                    conn.sock.send(CONTINUE)
            return
        del self._arriving[conn]
        self.poller.unregister(conn.sock)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(arrival.buf))  # read before the socket
        conn.data_ready = True
        self.enqueue_req(conn)

    def _drop(self, conn: TConn, answer: bytes = b"") -> None:
        self._arriving.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):  # best effort: the socket is non-blocking
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    # -- lingering closes (RFC 9112 9.6) on the poller --------------------------------------
    def _linger(self, sock: socket.socket) -> None:
        """Half-close now; read what the client still sends until its FIN, within LINGER_S and
        LINGER_MAX_BYTES; then close. Nothing waits for it."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._on_lingering_bytes)
        except (OSError, ValueError, KeyError):
            sock.close()
            return
        self._lingering[sock] = [time.monotonic() + LINGER_S, 0]

    def _on_lingering_bytes(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        state = self._lingering.get(sock)
        if state is not None:
            state[1] += len(data)
        if not data or state is None or state[1] >= LINGER_MAX_BYTES:
            self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        self._lingering.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def murder_pending(self) -> None:
        """gthread's sweep, plus requests not arrived in time (and idle ones when stopping),
        and lingering closes past their time."""
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        for sock in [s for s, (deadline, _) in self._lingering.items() if now > deadline]:
            self._end_linger(sock)
        for conn, arrival in list(self._arriving.items()):
            if now > arrival.deadline:
                self._drop(conn, TOO_SLOW if arrival.buf else b"")
            elif not self.alive and not arrival.buf:
                self._drop(conn)

    def _body_limit(self, target: bytes) -> int:
        """What api/bodies.py lets a route take: a body past it is not worth buffering."""
        settings = self._settings()
        if target.split(b"?", 1)[0].endswith(b"/result"):
            return settings.max_upload_bytes
        return settings.max_json_bytes

    def _settings(self) -> Settings:
        return self.wsgi.config.get("FRACTAL_SETTINGS") or Settings()
