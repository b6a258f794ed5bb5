"""clouds.yaml for the lab cloud (an admin and the cluster's member user) and openstacksdk
connections made from it — never from the user's own clouds.yaml."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import yaml

from cluster.openstack import tls
from cluster.openstack.layout import (
    ADMIN_CLOUD,
    MEMBER_CLOUD,
    REGIONS,
    REGIONS_CLOUD,
    TLS_CLOUD,
    TLS_REGION,
    Layout,
)

if TYPE_CHECKING:
    from openstack import connection


def entries(layout: Layout) -> dict[str, dict]:
    # One entry per user: overriding username/project on connect() gave 401s (see notes).
    def entry(user: str, project: str) -> dict:
        return {"auth": {"auth_url": layout.keystone_url, "username": user,
                         "password": layout.secret(user), "project_name": project,
                         "user_domain_name": "Default", "project_domain_name": "Default"},
                "region_name": REGIONS[0], "identity_api_version": 3, "interface": "public"}

    accounts = layout.accounts
    member = (accounts.member, accounts.project)  # what the cluster's agents act as
    over_tls = entry(*member)  # the member again, over HTTPS with the lab's own CA
    over_tls["auth"]["auth_url"] = layout.tls_url("keystone") + "/v3"
    over_tls.update(region_name=TLS_REGION, cacert=str(tls.ca_file(layout)))
    def in_both(user: str, project: str) -> dict:
        both = entry(user, project)
        del both["region_name"]
        both["regions"] = list(REGIONS)  # the first is the default
        return both

    # The admin in both regions: it builds RegionTwo's network (regions.py).
    return {ADMIN_CLOUD: in_both(accounts.admin, "admin"), MEMBER_CLOUD: entry(*member),
            TLS_CLOUD: over_tls, REGIONS_CLOUD: in_both(*member)}


def member_only(layout: Layout, names: Sequence[str] = (MEMBER_CLOUD,)) -> str:
    """clouds.yaml for a cluster node: the member user's entries `names` alone, never the
    admin's (JSON, which is YAML). A site project's entry (regions.site_cloud) is read from
    the cloud's clouds.yaml."""
    if ADMIN_CLOUD in names:
        raise ValueError(f"{ADMIN_CLOUD}: a node never gets the admin's credentials")
    written = (yaml.safe_load(layout.clouds_yaml.read_text())["clouds"]
               if layout.clouds_yaml.exists() else {})
    every = {**written, **entries(layout)}
    missing = [name for name in names if name not in every]
    if missing:
        raise LookupError(f"no clouds.yaml entry {', '.join(missing)} in {layout.clouds_yaml}")
    return json.dumps({"clouds": {name: every[name] for name in names}}, indent=2)


def write(layout: Layout) -> None:
    layout.clouds_yaml.touch(mode=0o600)  # passwords inside: owner only
    layout.clouds_yaml.write_text(yaml.safe_dump({"clouds": entries(layout)}))


def add_entry(layout: Layout, name: str, entry: dict) -> None:
    """One more entry in the cloud's clouds.yaml (regions.site_cloud); `write` drops it."""
    config = yaml.safe_load(layout.clouds_yaml.read_text())
    config["clouds"][name] = entry
    layout.clouds_yaml.write_text(yaml.safe_dump(config))


def connect(layout: Layout, cloud: str = ADMIN_CLOUD,
            region: str | None = None) -> connection.Connection:
    """`region`: another than the entry's own (RegionTwo's Swift, regions.py)."""
    # Imported here: openstacksdk costs ~0.25 s, and the lab's compute hooks (a node's crash
    # while it is fenced) import this module but never connect.
    from openstack import connection
    from openstack.config import loader

    config = loader.OpenStackConfig(config_files=[str(layout.clouds_yaml)])
    return connection.Connection(config=config.get_one(cloud=cloud, region_name=region))
