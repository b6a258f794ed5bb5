"""A minimal HTTP/1.0 check over a socket, for the monitor's hot path.

http.client would be the obvious tool, but its import (email parser, ssl) costs ~20 ms per
agent run, every few seconds on every node; a health check needs a status line and a small
JSON body. Even `socket` (the Python wrapper: selectors, enums) costs ~3 ms, so this talks to
CPython's C module `_socket` directly; the probe target is always an IP literal.
"""

from __future__ import annotations

import _socket
import time

# Typing names are for checkers only: importing `typing` costs every monitor run ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CheckFailed(Exception):
    pass


def call(host: str, port: int, method: str, path: str, timeout: float,
         body: bytes = b"") -> tuple[int, bytes]:
    """One request; returns (status, body). Raises CheckFailed when there is no HTTP answer."""
    request = (f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    chunks = []
    deadline = time.monotonic() + timeout
    family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(request)
        received = 0
        while received <= 1 << 20:
            # The bound is for the whole answer, not per read: a trickling server fails too.
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except TimeoutError:
        raise CheckFailed(f"{method} {path} timed out after {timeout:g} s") from None
    except OSError as exc:
        raise CheckFailed(f"{method} {path}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") \
            or not status_line[1].isdigit():
        raise CheckFailed(f"{method} {path}: not an HTTP answer")
    return int(status_line[1]), payload


def expect_ok(host: str, port: int, method: str, path: str, timeout: float) -> Any:
    status, payload = call(host, port, method, path, timeout,
                           b"{}" if method == "POST" else b"")
    if status != 200:
        detail = payload.decode(errors="replace").strip()[:200]
        raise CheckFailed(f"{method} {path} answered {status}{': ' + detail if detail else ''}")
    return payload
