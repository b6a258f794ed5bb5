"""The API's bearer token on a cluster (auth=token in cluster/config/fractal.crm): one secret
made on the host, installed as the same 0600 file on every node (ServiceConfig.token_file: the
CIB holds its path, never the token), and sent by the host's clients (the lab's and the VMs'
`client`) without showing it on any command line."""

from __future__ import annotations

from pathlib import Path

from fractal_service.api.auth import load_token


def make(path: Path) -> Path:
    """The token file at `path`: kept if it exists, else made random with mode 0600 (the API's
    own rules: auth.load_token), in a directory only its owner can enter."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    load_token(path)
    return path


def curl_auth(path: Path) -> tuple[list[str], bytes | None]:
    """curl's options and standard input that send the token: the header is read from stdin
    (`-H @-`), so `ps` shows no secret. No token file (the cluster is not up): no credentials."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return [], None
    return ["-H", "@-"], f"Authorization: Bearer {token}\n".encode()
