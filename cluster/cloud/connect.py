"""openstacksdk connections to the lab cloud, from its own clouds.yaml (never the user's)."""

from __future__ import annotations

import yaml
from openstack import connection
from openstack.config import loader

from cluster.cloud.layout import ADMIN_CLOUD, MEMBER_CLOUD, Layout


def write_clouds_yaml(layout: Layout) -> None:
    def entry(user: str, project: str) -> dict:
        return {"auth": {"auth_url": layout.keystone_url, "username": user,
                         "password": layout.secret(user), "project_name": project,
                         "user_domain_name": "Default", "project_domain_name": "Default"},
                "region_name": "RegionOne", "identity_api_version": 3}

    text = yaml.safe_dump({"clouds": {ADMIN_CLOUD: entry("admin", "admin"),
                                      MEMBER_CLOUD: entry("fractal", "fractal")}})
    layout.clouds_yaml.touch(mode=0o600)
    layout.clouds_yaml.write_text(text)


def connect(layout: Layout, cloud: str = ADMIN_CLOUD) -> connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(layout.clouds_yaml)])
    return connection.Connection(config=config.get_one(cloud=cloud))
