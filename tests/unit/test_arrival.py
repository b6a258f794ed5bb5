"""api/arrival.py: when a request on its way in is whole, and how long its sender may take."""

from __future__ import annotations

from fractal_service.api.arrival import MAX_HEAD, Arrival

HEAD = b"POST /v1/fractals HTTP/1.1\r\nHost: x\r\n"


def arrival(limit: int = 1000) -> Arrival:
    return Arrival(header_timeout=10.0, min_rate=100.0, body_limit=lambda _: limit, now=0.0)


def test_a_request_is_whole_once_its_headers_and_announced_body_are_in() -> None:
    a = arrival()
    assert not a.feed(HEAD, now=1.0)
    assert not a.feed(b"Content-Length: 4\r\n\r\n{}", now=2.0)
    assert a.deadline == 2.0 + 10.0 + 4 / 100.0  # the body's time starts with it
    assert a.feed(b"{}", now=3.0)


def test_a_request_without_a_body_is_whole_with_its_headers() -> None:
    a = arrival()
    assert a.deadline == 10.0
    assert a.feed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")


def test_chunked_bodies_end_with_their_last_chunk() -> None:
    a = arrival()
    assert not a.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n")
    assert not a.feed(b"0\r\n")
    assert a.feed(b"\r\n")


def test_what_the_parser_must_refuse_is_handed_over_at_once() -> None:
    assert arrival(limit=10).feed(HEAD + b"Content-Length: 11\r\n\r\n")  # 413 from the app
    assert arrival().feed(HEAD + b"Content-Length: x\r\n\r\n")  # 400 from the parser
    assert arrival().feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert arrival().feed(b"X" * (MAX_HEAD + 1))  # 431 from the parser
    assert arrival().feed(b"garbage\r\n\r\n")


def test_a_client_waiting_for_100_continue_is_noticed() -> None:
    a = arrival()
    assert not a.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert a.expects_continue
    assert a.feed(b"{}")
