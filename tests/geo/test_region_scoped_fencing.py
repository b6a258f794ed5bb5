"""Per-region fencing credentials: a site's project whose tokens carry only its region's
endpoints (Keystone endpoint filtering), so fence_openstack, which has no region option and
takes the first compute endpoint of its catalog, cannot reach another region's servers."""

from __future__ import annotations

import pytest
from openstack.config import loader

from cluster.openstack import regions, swift
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS

pytestmark = [pytest.mark.geo, pytest.mark.openstack]


def session_of(layout, cloud: str):
    """A keystoneauth session as fence_openstack builds one: the entry's auth, no region."""
    config = loader.OpenStackConfig(config_files=[str(layout.clouds_yaml)])
    return config.get_one(cloud=cloud).get_session()


def test_a_site_project_sees_only_its_own_region(two_regions) -> None:
    layout = two_regions.layout
    site_b = session_of(layout, regions.site_cloud(layout, REGIONS[1]))
    # Site B's fencing finds RegionTwo's compute, the ordinary member RegionOne's (the first
    # in its catalog); fencing with them is tests/geo/test_region_two.py's.
    two = layout.in_region(REGIONS[1])
    found = site_b.get_endpoint(service_type="compute", interface="public")
    assert found.startswith(two.public_url(two.regional("compute")))
    member = session_of(layout, MEMBER_CLOUD)
    assert member.get_endpoint(service_type="compute", interface="public",
                               region_name=None).startswith(layout.public_url("compute"))
    # Its object store without naming a region is RegionTwo's own Swift.
    url = site_b.get_endpoint(service_type="object-store", interface="public")
    assert url.startswith(swift.Cluster(layout, REGIONS[1]).url)
    regions_seen = {e["region_id"] for s in site_b.auth.get_access(site_b).service_catalog.catalog
                    for e in s["endpoints"]}
    assert regions_seen == {REGIONS[1]}
