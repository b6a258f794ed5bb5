"""etcd through its JSON gateway (etcd3gw), over several members: the first that answers.

etcd3gw ≥ 2.7 finds the gateway's path (/v3/ on etcd 3.4); it takes one member, so trying the
others is done here. Reads are linearizable (etcd's default): a member cut off from the
quorum does not answer them, which is how a process learns that etcd cannot be trusted now.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

# How long one member gets to answer; a member without quorum never does.
TIMEOUT = 1.0


class EtcdUnavailable(Exception):
    """No member answered (unreachable, or no quorum behind it)."""


@dataclass(frozen=True)
class Snapshot:
    values: dict[str, str]  # key → value, under the prefix
    revision: int  # the store's revision when read: a watch resumes after it


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode()


def _prefix_end(prefix: str) -> str:
    raw = prefix.encode()
    return base64.b64encode(raw[:-1] + bytes([raw[-1] + 1])).decode()


@dataclass(frozen=True)
class Tls:
    """https:// members: the CA that signed them, and this client's certificate if the
    members ask for one (etcd's --client-cert-auth)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


def http_session(tls: Tls) -> requests.Session:
    session = requests.Session()
    # Not from the environment: REQUESTS_CA_BUNDLE would override this session's CA (requests
    # prefers it to Session.verify), and a proxy has no business between members and us.
    session.trust_env = False
    session.verify = tls.ca or True
    if tls.cert:
        session.cert = (tls.cert, tls.key) if tls.key else tls.cert
    return session


def _why(exc: BaseException) -> str:
    """etcd3gw's exceptions often carry no text: the cause has it."""
    return (str(exc) or repr(exc.__context__ or exc))[:200]


class Etcd:
    def __init__(self, urls: list[str], timeout: float = TIMEOUT, tls: Tls = Tls()) -> None:
        from etcd3gw.client import Etcd3Client  # only when settings come from etcd

        if not urls:
            raise ValueError("no etcd URL")
        self.clients = []
        for url in urls:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            if not parts.hostname or not parts.port:
                raise ValueError(f"etcd URL {url!r}: want http(s)://HOST:PORT")
            self.clients.append(Etcd3Client(parts.hostname, parts.port, parts.scheme,
                                            timeout=timeout, session=http_session(tls)))
        self.timeout = timeout
        self._first = 0  # the member that answered last goes first

    @classmethod
    def from_option(cls, option: str, timeout: float = TIMEOUT, tls: Tls = Tls()) -> Etcd:
        return cls([u.strip() for u in option.split(",") if u.strip()], timeout, tls)

    def _call(self, path: str, body: dict) -> dict:
        from etcd3gw.exceptions import Etcd3Exception

        errors = []
        n = len(self.clients)
        for i in range(n):
            index = (self._first + i) % n
            client = self.clients[index]
            try:
                answer = client.post(client.get_url(path), json=body)
            except (Etcd3Exception, requests.RequestException, ValueError) as exc:
                errors.append(f"{client.base_url}: {_why(exc)}")
                continue
            self._first = index
            return answer
        raise EtcdUnavailable("; ".join(errors))

    def snapshot(self, prefix: str) -> Snapshot:
        answer = self._call("/kv/range", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})
        values = {_text(kv["key"]): _text(kv.get("value", "")) for kv in answer.get("kvs", [])}
        return Snapshot(values, int(answer["header"]["revision"]))

    def put_all(self, values: dict[str, str], deletes: tuple[str, ...] = (),
                unchanged: Snapshot | None = None, prefix: str = "") -> int | None:
        """Every key in one transaction: all written or none. Returns the new revision, or
        None if `unchanged` was given and a key under `prefix` changed after it was read
        (what was validated is then not what would be written)."""
        ops = [{"request_put": {"key": _b64(k), "value": _b64(v)}} for k, v in values.items()]
        ops += [{"request_delete_range": {"key": _b64(k)}} for k in deletes]
        compare = []
        if unchanged is not None:
            compare.append({"target": "MOD", "result": "LESS", "key": _b64(prefix),
                            "range_end": _prefix_end(prefix),
                            "mod_revision": unchanged.revision + 1})
        answer = self._call("/kv/txn", {"compare": compare, "success": ops})
        if compare and not answer.get("succeeded"):
            return None
        return int(answer["header"]["revision"])

    def watch(self, prefix: str, start_revision: int | None) -> Iterator[int]:
        """Yields the revision of each change under `prefix` (from `start_revision`, or from
        now) until the stream breaks (raises EtcdUnavailable) or the caller stops iterating
        (the response is closed then)."""
        client = self.clients[self._first]
        create = {"key": _b64(prefix), "range_end": _prefix_end(prefix)}
        if start_revision:
            create["start_revision"] = start_revision
        request = {"create_request": create}
        try:
            response = client.session.post(client.get_url("/watch"), json=request, stream=True,
                                           timeout=(self.timeout, None))
            response.raise_for_status()
        except (requests.RequestException, ValueError) as exc:
            self._first = (self._first + 1) % len(self.clients)
            raise EtcdUnavailable(f"{client.base_url}: watch: {exc}") from exc
        try:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                chunk = json.loads(line)
                result = chunk.get("result", {})
                if "error" in chunk or result.get("canceled"):  # e.g. compacted: read again
                    raise ValueError(str(chunk.get("error") or result)[:200])
                for event in result.get("events", []):
                    yield int(event["kv"]["mod_revision"])
        except (requests.RequestException, ValueError) as exc:
            raise EtcdUnavailable(f"{client.base_url}: watch: {exc}") from exc
        finally:
            response.close()
        raise EtcdUnavailable(f"{client.base_url}: watch stream ended")
