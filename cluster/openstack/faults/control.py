"""Driving the faults from tests and the CLI: the proxies' admin API, and token revocation."""

from __future__ import annotations

import requests

from cluster.openstack import clouds
from cluster.openstack.layout import Layout


def _call(method: str, url: str, **kwargs) -> dict:
    answer = requests.request(method, url, timeout=10, **kwargs)
    if answer.status_code >= 400:
        raise ValueError(answer.json().get("error", answer.text))
    return answer.json()


def inject(layout: Layout, service: str, *, latency_ms: float = 0, error_rate: float = 0,
           error_status: int = 503, outage_seconds: float = 0,
           random_errors: bool = False) -> dict:
    """Replace `service`'s fault (all zero: healthy); errors spread evenly unless
    `random_errors`."""
    return _call("PUT", f"{layout.faults_url}/faults/{service}", json={
        "latency_ms": latency_ms, "error_rate": error_rate, "error_status": error_status,
        "outage_seconds": outage_seconds, "random_errors": random_errors})


def clear(layout: Layout, service: str | None = None) -> dict:
    return _call("DELETE", f"{layout.faults_url}/faults" + (f"/{service}" if service else ""))


def show(layout: Layout) -> dict:
    return _call("GET", f"{layout.faults_url}/faults")


def set_enabled(layout: Layout, enabled: bool, user: str | None = None) -> None:
    """Disable `user` (the cluster's member by default), or enable it again: while disabled,
    Keystone refuses its password and every token it held, as when a cloud's operator
    revokes an account's credentials."""
    ident = clouds.connect(layout).identity
    ident.update_user(ident.find_user(user or layout.accounts.member, ignore_missing=False),
                      is_enabled=enabled)


def revoke_tokens(layout: Layout, user: str | None = None) -> None:
    """Revoke every token `user` (the cluster's member by default) holds, as an operator
    disabling the account would: Keystone records a revocation event for the user. The account
    is enabled again at once, so a new authentication succeeds and only the old tokens are
    dead."""
    ident = clouds.connect(layout).identity
    account = ident.find_user(user or layout.accounts.member, ignore_missing=False)
    ident.update_user(account, is_enabled=False)
    ident.update_user(account, is_enabled=True)
