"""RegionTwo of the lab cloud, started only where asked: its own Swift, Neutron and compute
under the same Keystone, catalogued in RegionTwo; its network (topology.ADDRESSING) with a
router namespace and data plane of its own, owned by the site project of `site_cloud`; and
container sync both ways between the regions' Swifts.

The single-region lab never pays for it: `cloud.up` starts RegionOne alone; `up` here adds
RegionTwo to a running cloud (`fractal-ha cloud up --regions 2`, or the two-region test
fixture on top of the session cloud). Containers replicate only once paired (`pair`): each
side's X-Container-Sync-To names the other region's container in the realm, with one key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from cluster.openstack import (
    clouds,
    identity,
    network_plane,
    neutron,
    services,
    swift,
    topology,
)
from cluster.openstack.daemons import Daemon, start_together, stop_together
from cluster.openstack.dataplane.network import RouterNetwork
from cluster.openstack.faults import control
from cluster.openstack.layout import MEMBER_CLOUD, PROXIED, REGIONS, REGIONS_CLOUD, Layout

SECOND = REGIONS[1]


def started(layout: Layout) -> bool:
    """RegionTwo was configured in this cloud (its daemons belong to status and down)."""
    return swift.configured(layout, SECOND)


def daemons(layout: Layout) -> list[Daemon]:
    """RegionTwo's servers and both regions' sync daemons (none before `up`)."""
    if not started(layout):
        return []
    two = layout.in_region(SECOND)
    network = ([neutron.daemon(two), services.compute(two), services.dataplane(two)]
               if neutron.configured(two) else [])  # a cloud made before RegionTwo's network
    return [*swift.daemons_of(layout, SECOND), *network,
            *(swift.sync_daemon(layout, region) for region in REGIONS)]


def up(layout: Layout, say: Callable[[str], None] = print) -> topology.Topology:
    """Idempotent; the cloud (Keystone, RegionOne's Swift) must be up. Returns RegionTwo's
    topology."""
    begun = time.monotonic()
    two = layout.in_region(SECOND)
    first = swift.Cluster(layout)
    if swift.write_configuration(first):
        # A cloud made before container sync: its Swift learns the realm and middleware.
        say("RegionOne's Swift reconfigured for container sync: restarting it")
        for daemon in swift.daemons_of(layout):
            daemon.stop()
        start_together(swift.daemons_of(layout))
    clouds.write(layout)  # a cloud made before its two-region entry
    proxies = services.proxies(layout)
    if set(PROXIED) - set(control.show(layout)):
        say("the fault proxies predate RegionTwo's endpoints: restarting them (faults cleared)")
        proxies.stop()
        proxies.start()
    if not started(layout):
        swift.configure(layout, SECOND)
    if not neutron.configured(two):
        neutron.configure(two)
        neutron.initialise(two)
    identity.register_object_store(layout, SECOND, swift.Cluster(layout, SECOND).url)
    identity.register_region_network(two)
    start_together([d for d in daemons(layout) if d.name != services.dataplane(two).name])
    # After its endpoints are catalogued: the site project's filter lists them.
    cloud = site_cloud(layout, SECOND)
    built = network_plane.up(two, cloud, site_project(SECOND))
    say(f"[{time.monotonic() - begun:5.1f}s] {SECOND}: Swift on "
        f"{swift.Cluster(layout, SECOND).url}, container sync every "
        f"{swift.SYNC_INTERVAL_S:g} s both ways (realm {swift.REALM!r}); Neutron, compute, "
        f"router {RouterNetwork.of(two).router} and floating IP {built.floating_ip} of project "
        f"{site_project(SECOND)} (clouds.yaml entry {cloud!r})")
    return built


def stop(layout: Layout) -> None:
    """RegionTwo's daemons and both sync daemons stopped, their state kept (`up` again)."""
    stop_together(daemons(layout))


def pair(layout: Layout, container: str, cloud: str = REGIONS_CLOUD) -> None:
    """Create `container` in both regions, each syncing to the other (same key on both:
    the receiving side checks the key of its own container)."""
    key = layout.secret(swift.CONTAINER_SECRET)
    for here, there in ((REGIONS[0], SECOND), (SECOND, REGIONS[0])):
        store = clouds.connect(layout, cloud, region=here)
        account = f"AUTH_{store.current_project_id}"
        target = f"//{swift.REALM}/{swift.Cluster(layout, there).name}/{account}/{container}"
        response = store.object_store.put(
            f"/{container}", headers={"X-Container-Sync-To": target,
                                      "X-Container-Sync-Key": key})
        if response.status_code not in (201, 202, 204):
            raise RuntimeError(f"pairing {container} in {here}: HTTP {response.status_code} "
                               f"{response.text[:200]}")


def store_url(layout: Layout, container: str, region: str, cloud: str = REGIONS_CLOUD) -> str:
    """The service's store URL (fractal_service.store.swift) for `container` in `region`."""
    return f"swift://{cloud}/{container}?region={region}&config={quote(str(layout.clouds_yaml))}"


def pause_sync(layout: Layout) -> None:
    """Stop both regions' sync daemons (writes stay where they were made; `resume_sync`)."""
    for region in REGIONS:
        swift.sync_daemon(layout, region).stop()


def resume_sync(layout: Layout) -> None:
    start_together([swift.sync_daemon(layout, region) for region in REGIONS])


def site_project(region: str) -> str:
    return f"fractal-{region.lower()}"


def site_cloud(layout: Layout, region: str = SECOND) -> str:
    """A project whose tokens carry only `region`'s endpoints (Keystone's endpoint filtering,
    OS-EP-FILTER), with the member user in it, and its clouds.yaml entry (returned).

    Per-region fencing: fence_openstack has no region option and takes the first compute
    endpoint of its token's catalog; with a site's credentials scoped to such a project it can
    reach its own region's servers and no other region's, whatever the catalog's order."""
    admin = clouds.connect(layout)
    ident = admin.identity
    name = site_project(region)
    project = ident.find_project(name) or ident.create_project(name=name, domain_id="default")
    ident.assign_project_role_to_user(project, ident.find_user(layout.accounts.member),
                                      ident.find_role("member"))
    for endpoint in ident.endpoints():
        if endpoint.region_id == region:
            done = ident.put(f"/OS-EP-FILTER/projects/{project.id}/endpoints/{endpoint.id}")
            if done.status_code not in (204, 409):  # 409: associated by an earlier call
                raise RuntimeError(f"endpoint filter for {name}: HTTP {done.status_code}")
    entry = clouds.entries(layout)[MEMBER_CLOUD]
    entry["auth"]["project_name"] = name
    entry["region_name"] = region
    clouds.add_entry(layout, site_cloud_name(region), entry)
    return site_cloud_name(region)


def site_cloud_name(region: str) -> str:
    """The clouds.yaml entry `site_cloud` makes."""
    return f"fractal-lab-{region.lower()}"
