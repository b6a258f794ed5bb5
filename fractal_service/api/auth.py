"""Who may do what: creators write fractals, workers drive the job protocol, reads are public
(or need any valid credentials, by `auth_reads`).

Modes (setting `auth`):
- "token" (the default, one machine without Keystone): one bearer token, read from a file only
  its owner can read (`token_file`, by default `api-token` in the data directory, made with a
  random token on first start). It carries every role; compared in constant time.
- "keystone": Keystone tokens (X-Auth-Token), validated by keystonemiddleware's auth_token with
  its token cache, configured from the [keystone_authtoken] section of `keystone_config` (the
  service user's password lives in that file, never on a command line). auth_token runs with
  delay_auth_decision, so it only says who the caller is; the roles are checked here:
  `creator_role` for POST/DELETE of fractals, `worker_role` for /v1/jobs.
- "none": nobody is asked (a test or a trusted network only).
Health, metrics, the document, the page and the agent's self-test never need credentials.
"""

from __future__ import annotations

import configparser
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from fractal_service.api.errors import ApiError, error_response
from fractal_service.config import Settings

ALL_ROLES = "*"
TOKEN_FILE_NAME = "api-token"
CREATOR_ENDPOINTS = frozenset({"fractals.create", "fractals.delete"})
READ_ENDPOINTS = frozenset({"fractals.index", "fractals.show", "fractals.image"})
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # no rule applies to them


@dataclass(frozen=True)
class Rule:
    role: str | None  # None: any authenticated caller


def rule_for(endpoint: str | None, settings: Settings) -> Rule | None:
    """What a request to `endpoint` needs; None = nothing (public)."""
    if endpoint in CREATOR_ENDPOINTS:
        return Rule(settings.creator_role)
    if endpoint is not None and endpoint.startswith("jobs."):
        return Rule(settings.worker_role)
    if endpoint in READ_ENDPOINTS and settings.auth_reads:
        return Rule(None)
    return None


def token_path(settings: Settings) -> Path:
    return settings.token_file or settings.data_dir / TOKEN_FILE_NAME


def load_token(path: Path) -> str:
    """The shared token; made (random, mode 0600) when the file does not exist yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    _private(path, "token file")
    token = path.read_text().strip()
    if len(token) < 16:
        raise ValueError(f"token file {path} holds no token of at least 16 characters")
    return token


def _private(path: Path, what: str) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"{what} {path} is open to others (mode {mode & 0o777:o}); "
                         "chmod 600 it")


class TokenAuth:
    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def roles(self) -> frozenset[str] | None:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        if hmac.compare_digest(presented.strip().encode(), self._token):
            return frozenset({ALL_ROLES})
        return None


class KeystoneAuth:
    """Reads what auth_token (wrapped around the app) found; it strips such headers from
    clients, so they cannot be forged."""

    def roles(self) -> frozenset[str] | None:
        if request.headers.get("X-Identity-Status") != "Confirmed":
            return None
        return frozenset(r.strip() for r in request.headers.get("X-Roles", "").split(",")
                         if r.strip())


def keystone_conf(path: Path) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise ValueError(f"keystone_config {path} cannot be read")
    _private(path, "keystone_config")  # the service user's password is in it
    if not parser.has_section("keystone_authtoken"):
        raise ValueError(f"keystone_config {path} has no [keystone_authtoken] section")
    conf: dict[str, Any] = dict(parser.items("keystone_authtoken"))
    conf["delay_auth_decision"] = "true"  # anonymous reads pass; the rules above decide
    return conf


def check(settings: Settings) -> None:
    """Raise ValueError (or OSError) now for settings the API could not serve with."""
    if settings.auth == "token":
        load_token(token_path(settings))
    elif settings.auth == "keystone":
        if settings.keystone_config is None:
            raise ValueError("auth = keystone needs keystone_config")
        keystone_conf(settings.keystone_config)


def install(app: Flask, settings: Settings) -> None:
    if settings.auth == "none":
        return
    if settings.auth == "token":
        checker: TokenAuth | KeystoneAuth = TokenAuth(load_token(token_path(settings)))
    else:
        from keystonemiddleware.auth_token import AuthProtocol  # only in this mode

        check(settings)
        assert settings.keystone_config is not None
        app.wsgi_app = _public_bypass(app.wsgi_app, AuthProtocol(
            app.wsgi_app, keystone_conf(settings.keystone_config)))
        checker = KeystoneAuth()
    guard(app, settings, checker)


def _public_bypass(raw: Any, protected: Any) -> Any:
    """Routes that never ask who calls skip auth_token's work (WebOb parsing, a cache lookup):
    the cluster's monitor calls /healthz every second (measured: /healthz under wrk lost 37%
    of its throughput to the middleware)."""
    def dispatch(environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") in PUBLIC_PATHS:
            return raw(environ, start_response)
        return protected(environ, start_response)

    return dispatch


def guard(app: Flask, settings: Settings, checker: TokenAuth | KeystoneAuth) -> None:
    """Check every request's rule, before its body is read or a store slot taken."""
    if isinstance(checker, TokenAuth):
        challenge = 'Bearer realm="fractal"'
    else:  # where to get a token, as OpenStack services say it
        conf = keystone_conf(settings.keystone_config) if settings.keystone_config else {}
        uri = conf.get("www_authenticate_uri")
        challenge = f'Keystone uri="{uri}"' if uri else "Keystone"

    @app.before_request
    def _authorize() -> Response | None:
        rule = rule_for(request.endpoint, settings)
        if rule is None:
            return None
        roles = checker.roles()
        if roles is None:
            response, status = error_response(401, "authentication required")
            response.status_code = status
            response.headers["WWW-Authenticate"] = challenge
            return response
        if rule.role is not None and ALL_ROLES not in roles and rule.role not in roles:
            raise ApiError(403, f"role {rule.role!r} required")
        return None
