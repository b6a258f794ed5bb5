"""How the CLI and the workers prove who they are to the API (api/auth.py): a bearer token read
from a file, or a Keystone token from a clouds.yaml entry (passwords and application
credentials alike, through keystoneauth's session, which caches the token and logs in again
before it expires). Credentials come from files only, never from the command line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import requests
from requests.auth import AuthBase


class BearerFile(AuthBase):
    def __init__(self, path: Path) -> None:
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read token file {path}: {exc.strerror}") from None
        if not token:
            raise ValueError(f"token file {path} is empty")
        self._header = f"Bearer {token}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r


class KeystoneCloud(AuthBase):
    """X-Auth-Token from a keystoneauth session for the clouds.yaml entry `cloud`."""

    def __init__(self, cloud: str, clouds_yaml: Path | None = None) -> None:
        import openstack.config  # only when a cloud is named: ~0.3 s of imports
        from openstack import exceptions

        files = [str(clouds_yaml)] if clouds_yaml else None
        try:
            region = openstack.config.OpenStackConfig(config_files=files).get_one(cloud)
        except exceptions.ConfigException as exc:
            raise ValueError(f"cloud {cloud!r}: {exc}") from None
        self.session = region.get_session()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self.session.get_token()
        r.register_hook("response", self._forget_refused)
        return r

    def _forget_refused(self, response: requests.Response, **_: object) -> requests.Response:
        if response.status_code == 401:  # revoked: log in afresh on the next request
            self.session.invalidate()
        return response


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token-file", type=Path,
                        default=_env_path("FRACTAL_TOKEN_FILE"),
                        help="file holding the API's bearer token (env FRACTAL_TOKEN_FILE)")
    # Not OS_CLOUD: a shell set up for other OpenStack tools must not change how we log in.
    parser.add_argument("--os-cloud", default=os.environ.get("FRACTAL_CLOUD"),
                        help="clouds.yaml entry to log in to Keystone with (env FRACTAL_CLOUD)")
    parser.add_argument("--clouds-yaml", type=Path,
                        default=_env_path("OS_CLIENT_CONFIG_FILE"),
                        help="clouds.yaml to read (env OS_CLIENT_CONFIG_FILE; default: "
                             "openstacksdk's search path)")


def from_options(args: argparse.Namespace) -> AuthBase | None:
    """The credentials the options name; ValueError if they cannot be used."""
    if args.token_file and args.os_cloud:
        raise ValueError("give --token-file or --os-cloud, not both")
    if args.token_file:
        return BearerFile(args.token_file)
    if args.os_cloud:
        return KeystoneCloud(args.os_cloud, args.clouds_yaml)
    return None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
