"""Keystone users with the API's roles in the lab cloud, and the keystonemiddleware settings an
operator writes for the API (tests/service/test_keystone_auth.py, benchmarks/api_wrk.py)."""

from __future__ import annotations

import secrets
from pathlib import Path

from cluster.openstack import clouds
from cluster.openstack.layout import Layout

# user -> roles in the lab's "fractal" project
USERS = {"fa-creator": ("member", "fractal_creator"), "fa-worker": ("member", "fractal_worker"),
         "fa-bystander": ("member",)}


def users(layout: Layout) -> dict[str, dict]:
    """The users and roles (idempotent), and a clouds.yaml entry for each."""
    ident = clouds.connect(layout).identity
    project = ident.find_project("fractal")
    entries = {}
    for name, roles in USERS.items():
        password = secrets.token_urlsafe(16)
        user = ident.find_user(name)
        if user is None:
            user = ident.create_user(name=name, password=password, domain_id="default",
                                     default_project_id=project.id)
        else:
            ident.update_user(user, password=password)
        for role_name in roles:
            role = ident.find_role(role_name) or ident.create_role(name=role_name)
            ident.assign_project_role_to_user(project, user, role)
        entries[name] = {"auth": {"auth_url": layout.keystone_url, "username": name,
                                  "password": password, "project_name": "fractal",
                                  "user_domain_name": "Default",
                                  "project_domain_name": "Default"},
                         "region_name": "RegionOne", "identity_api_version": 3}
    return entries


def authtoken_conf(layout: Layout, path: Path) -> Path:
    """What an operator writes for the API: the swift service user validates tokens."""
    path.touch(mode=0o600)
    path.write_text(
        "[keystone_authtoken]\n"
        f"www_authenticate_uri = {layout.keystone_url}\n"
        f"auth_url = {layout.keystone_url}\n"
        "auth_type = password\n"
        "username = swift\n"
        f"password = {layout.secret('swift')}\n"
        "project_name = service\n"
        "user_domain_name = Default\n"
        "project_domain_name = Default\n")
    return path
