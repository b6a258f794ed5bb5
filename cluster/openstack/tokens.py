"""Who is calling: a token validated by Keystone, as keystonemiddleware does for Nova.

The token validates itself (X-Auth-Token = X-Subject-Token, allowed by Keystone's
`token_subject` policy), so our services need no credentials of their own. Nothing is cached:
a revoked token is refused on its next use.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Caller:
    user_id: str
    project_id: str
    roles: frozenset[str]
    token: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def may_see(self, project_id: str) -> bool:
        return self.is_admin or self.project_id == project_id


def validate(keystone_v3: str, token: str | None) -> Caller | None:
    if not token:
        return None
    try:
        answer = requests.get(f"{keystone_v3}/auth/tokens", timeout=10, headers={
            "X-Auth-Token": token, "X-Subject-Token": token})
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    body = answer.json()["token"]
    project = body.get("project") or {}
    return Caller(body["user"]["id"], project.get("id", ""),
                  frozenset(r["name"] for r in body.get("roles", [])), token)
