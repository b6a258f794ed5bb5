"""Just enough HTTP/1.1 over asyncio streams for the proxy: one request per connection."""

from __future__ import annotations

import asyncio
import json

MAX_HEAD = 64 * 1024


class BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, list[str], bytes]:
    """(method, target, header lines, body) of one request; chunked bodies are de-chunked."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise BadRequest("incomplete or oversized request head") from exc
    lines = head.decode("latin-1").split("\r\n")[:-2]
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest("malformed request line") from None
    headers = lines[1:]
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in headers)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        try:
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        except (ValueError, asyncio.IncompleteReadError):
            raise BadRequest("bad or short body") from None
    return method, target, headers, body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass  # trailers
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readline()


def forwarded_head(method: str, target: str, headers: list[str], body: bytes) -> bytes:
    """The request as the backend gets it: same Host (so links it builds point at the proxy),
    a Content-Length body, and Connection: close (the response ends at EOF)."""
    drop = {"connection", "keep-alive", "transfer-encoding", "content-length"}
    kept = [h for h in headers if h.partition(":")[0].strip().lower() not in drop]
    lines = [f"{method} {target} HTTP/1.1", *kept, f"Content-Length: {len(body)}",
             "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def response(status: int, payload: object, reason: str = "") -> bytes:
    body = json.dumps(payload).encode()
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found",
               405: "Method Not Allowed"}
    text = reason or reasons.get(status, "Service Unavailable" if status >= 500 else "Error")
    return (f"HTTP/1.1 {status} {text}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
