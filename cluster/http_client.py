"""The client's HTTP requests to the service, made with curl inside the client's network
namespace: the same for the lab (cluster/lab/lab.py) and the Vagrant VMs
(cluster/vagrant/driver.py)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cluster import api_token


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as curl wrote it with `-D -`: header blocks (interim 1xx ones first),
    then the body."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Answer | None:
        rest = raw
        while rest.startswith(b"HTTP/"):
            head, _, rest = rest.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if status >= 200:
                headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                               (ln.partition(":") for ln in lines[1:]))
                return cls(status, headers, rest)
        return None

    def json(self) -> dict | None:
        """The body of a success as JSON ({} when empty); None for an error status."""
        if self.status >= 400:
            return None
        return json.loads(self.body) if self.body.strip() else {}


def request(prefix: list[str], method: str, url: str, body: dict | None = None, *,
            timeout: float = 3.0, headers: dict[str, str] | None = None,
            token_file: Path | None = None) -> Answer | None:
    """One request by curl run under `prefix` (e.g. `ip netns exec NS`), as it came back; None
    if nothing came back. With `token_file`, the API's bearer token goes along (through
    curl's stdin: no secret in `ps`)."""
    argv = [*prefix, "curl", "-sS", "-D", "-", "-m", str(timeout), "-X", method, url]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    auth, stdin = ([], None) if token_file is None else api_token.curl_auth(token_file)
    done = subprocess.run(argv + auth, input=stdin, capture_output=True, timeout=timeout + 10)
    if done.returncode != 0:
        return None
    return Answer.parse(done.stdout)
