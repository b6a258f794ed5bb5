"""The lab client's parse of what curl writes with `-D -`: interim answers skipped, headers by
lower-case name, the body as bytes (an image survives)."""

from __future__ import annotations

from cluster.http_client import Answer


def test_final_answer_after_100_continue() -> None:
    raw = (b"HTTP/1.1 100 Continue\r\n\r\n"
           b"HTTP/1.1 201 CREATED\r\nX-Fractal-Node: n2\r\nContent-Type: application/json\r\n"
           b"\r\n{\"uuid\": \"u\"}")
    answer = Answer.parse(raw)
    assert answer is not None
    assert (answer.status, answer.headers["x-fractal-node"]) == (201, "n2")
    assert answer.body == b'{"uuid": "u"}'


def test_binary_body_and_error_status() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff\r\n\r\n"
    answer = Answer.parse(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n" + png)
    assert answer is not None and answer.body == png
    assert Answer.parse(b"HTTP/1.1 503 SERVICE UNAVAILABLE\r\n\r\n{}").status == 503


def test_nothing_parsable_is_none() -> None:
    assert Answer.parse(b"") is None
    assert Answer.parse(b"HTTP/1.1 100 Continue\r\n\r\n") is None
