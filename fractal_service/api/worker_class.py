"""gunicorn's threaded worker, except that a new connection waits for its request in the
event loop, not in a pool thread.

Stock gthread hands every accepted connection to a pool thread, which blocks up to 5 s for the
first bytes. Clients that connect and send nothing — a prober that gives up without closing, a
slow or half-open client — then hold every thread, and /healthz (which the cluster's monitor
calls every second) times out though the server is idle: 40 such connections silenced a 32-thread
API completely. Here a new connection goes straight onto the poller, as gthread already does
for kept-alive and deferred connections, and reaches a thread only once it is readable; one
that stays silent for `keepalive` seconds is closed by gthread's own sweep.

Built on gthread's internals (TConn, pending_conns, on_pending_socket_readable), hence the pin
on gunicorn's major version in pyproject.toml.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

from fractal_service.api import wire_errors


class PollingThreadWorker(ThreadWorker):
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
        conn = TConn(self.cfg, sock, address, listener.getsockname())  # non-blocking
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(sock, selectors.EVENT_READ,
                             partial(self.on_pending_socket_readable, conn))
