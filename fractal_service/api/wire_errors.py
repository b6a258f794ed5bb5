"""gunicorn's own error answers (400, 414, 431, 501, ...) in the API's JSON error format.

gunicorn answers requests it cannot parse (a bad request line, a URI or header block past its
limits, a broken chunk) itself, before the app sees them, with an HTML page written by
`gunicorn.util.write_error`. Its worker's handle_error picks the status; only the writing
changes here, so the statuses stay gunicorn's.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util


def render(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": {"status": status,
                                 "message": message or reason}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, render(status_int, reason, mesg))


def install() -> None:
    """Route gunicorn's error writer (called by its worker's handle_error) through ours.

    Process-wide on purpose: the API's process runs nothing else of gunicorn's.
    """
    util.write_error = write_error
