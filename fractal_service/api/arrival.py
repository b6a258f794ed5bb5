"""A request on its way in, buffered on the poller until it is whole (api/worker_class.py).

Only bytes are counted here, nothing is interpreted beyond what framing needs (the end of the
header block, Content-Length, chunked framing); gunicorn's parser reads the buffered request
as if from the socket and makes every decision about it. When the framing cannot be read here
(a header block past MAX_HEAD, a bad chunk size), the request is handed over at once and the
parser answers 400/431 itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_HEAD = 64 * 1024  # gunicorn refuses far smaller header blocks (limit_request_field_size)


class Arrival:
    """Bytes of one request received so far, and when its sender's time is up."""

    def __init__(self, header_timeout: float, min_rate: float,
                 body_limit: Callable[[bytes], int], now: float | None = None) -> None:
        """`body_limit`: the largest body the app takes for a request target (the path)."""
        self.header_timeout = header_timeout
        self.min_rate = min_rate
        self.body_limit = body_limit
        self.max_body: int | None = None
        # The client waits for "100 Continue" before its body (curl does, for bodies over
        # 1 KiB): without one from the event loop it would wait a second, then send anyway.
        self.expects_continue = False
        self.buf = bytearray()
        self.started = time.monotonic() if now is None else now
        self.deadline = self.started + header_timeout
        self._head_end: int | None = None
        self._length: int | None = None  # body bytes announced by Content-Length
        self._chunked = False
        self._scan = 0  # chunked: where the next chunk-size line starts

    def feed(self, data: bytes, now: float | None = None) -> bool:
        """Add received bytes; True once the request is whole (or must go to the parser)."""
        self.buf += data
        now = time.monotonic() if now is None else now
        if self._head_end is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return len(self.buf) > MAX_HEAD
            self._head_end = self._scan = end + 4
            if not self._framing():
                return True
            body = self._length or 0
            self.deadline = now + self.header_timeout + body / self.min_rate
        if self._chunked:
            received = len(self.buf) - self._head_end
            # Unknown size: the sender keeps time as long as it keeps the minimum rate.
            self.deadline = max(self.deadline,
                                self.started + self.header_timeout + received / self.min_rate)
            return self._chunks_done()
        return len(self.buf) >= self._head_end + (self._length or 0)

    def _framing(self) -> bool:
        """Read the body's framing; False when the parser must see the request now."""
        request_line, *lines = bytes(self.buf[:self._head_end]).split(b"\r\n")
        parts = request_line.split()
        if len(parts) != 3:
            return False  # not a request line: the parser answers 400
        self.max_body = self.body_limit(parts[1])
        for line in lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    self._length = int(value.strip())
                except ValueError:
                    return False
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self._chunked = True
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.expects_continue = True
        if self._length is not None and (self._length < 0 or self._chunked):
            return False  # malformed or ambiguous: the parser refuses it
        # Larger than the app takes: it answers 413 without reading the body.
        return not (self.max_body is not None and (self._length or 0) > self.max_body)

    def _chunks_done(self) -> bool:
        while True:
            line_end = self.buf.find(b"\r\n", self._scan)
            if line_end < 0:
                return False
            try:
                size = int(bytes(self.buf[self._scan:line_end]).split(b";")[0], 16)
            except ValueError:
                return True  # a broken chunk: the parser answers 400
            if size == 0:
                # The last chunk, then trailer lines up to an empty one.
                after = line_end + 2
                return self.buf[after:after + 2] == b"\r\n" or \
                    self.buf.find(b"\r\n\r\n", line_end) >= 0
            if self.max_body is not None and \
                    len(self.buf) - self._head_end > self.max_body + MAX_HEAD:
                return True  # past what the app takes: it answers 413
            following = line_end + 2 + size + 2
            if len(self.buf) < following:
                return False
            self._scan = following
