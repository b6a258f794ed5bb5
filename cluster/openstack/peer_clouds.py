"""Two independent lab clouds whose Swifts replicate one container both ways (container sync).

Nothing else is shared: each cloud has its Keystone, users and passwords. Container sync
needs none of that across the clouds: the sending container server signs each row with the
realm's key and the container's sync key, and the receiving proxy's container_sync middleware
checks them before (and instead of) any token. So the two operators agree on a realm (its name,
its key, each other's Swift proxy URL, `join`) and on one container key (`pair`); that is what
a user sets up between their own two clouds (README, "Two independent clouds").
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cluster.openstack import clouds, swift
from cluster.openstack.daemons import start_together
from cluster.openstack.layout import MEMBER_CLOUD, Layout


def up(a: Layout, a_name: str, b: Layout, b_name: str, container: str | None = None,
       say: Callable[[str], None] = print) -> None:
    """Both clouds up at once, each one's Swift in the other's realm from its first start,
    `container` paired (if named). `b` picks its ports among those `a` left."""
    from cluster.openstack import cloud, install

    install.ensure_venv(a.venv, say)  # shared by both: made once, before either starts
    b.ports(avoid=a.ports().values())
    join(a, b, b_name)
    join(b, a, a_name)
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(cloud.up, layout, say=lambda line, n=name: say(f"{n} cloud: {line}"))
                   for layout, name in ((a, a_name), (b, b_name))]
        for job in started:
            job.result()  # re-raises a failure
    if container is None:
        return
    pair(a, a_name, b, b_name, container)
    say(f"container {container!r} synced both ways between the {a_name} cloud's Swift and the "
        f"{b_name} cloud's (realm {swift.REALM!r}, every {swift.SYNC_INTERVAL_S:g} s)")


def pause_sync(a: Layout, b: Layout) -> None:
    """Both clouds' sync daemons stopped: nothing crosses between the clouds (in the lab,
    container sync is all that does) until `resume_sync`; writes stay where they were made."""
    for layout in (a, b):
        swift.sync_daemon(layout).stop()


def resume_sync(a: Layout, b: Layout) -> None:
    start_together([swift.sync_daemon(a), swift.sync_daemon(b)])


def join(home: Layout, peer: Layout, peer_name: str) -> None:
    """`home` learns `peer`'s Swift as cluster `peer_name` of the realm, with `peer`'s realm
    key (made by whichever cloud asked first). Before `home`'s Swift is configured: its
    configuration is written from this (swift.configure); after: swift.write_configuration and
    a restart of its Swift."""
    swift.add_peer(home, peer_name, swift.Cluster(peer).url)
    _share_secret(peer, home, swift.REALM_SECRET)


def pair(a: Layout, a_name: str, b: Layout, b_name: str, container: str) -> None:
    """`container` in both clouds (as each one's member, the cluster's user), each syncing to
    the other under one key; `a_name`/`b_name`: their names in the realm (`join`)."""
    _share_secret(a, b, swift.CONTAINER_SECRET)
    key = a.secret(swift.CONTAINER_SECRET)
    stores = {name: clouds.connect(layout, MEMBER_CLOUD) for name, layout in
              ((a_name, a), (b_name, b))}
    accounts = {name: f"AUTH_{store.current_project_id}" for name, store in stores.items()}
    for here, there in ((a_name, b_name), (b_name, a_name)):
        target = f"//{swift.REALM}/{there}/{accounts[there]}/{container}"
        response = stores[here].object_store.put(
            f"/{container}", headers={"X-Container-Sync-To": target,
                                      "X-Container-Sync-Key": key})
        if response.status_code not in (201, 202, 204):
            raise RuntimeError(f"pairing {container} at {here}: HTTP {response.status_code} "
                               f"{response.text[:200]}")


def _share_secret(source: Layout, target: Layout, name: str) -> None:
    """`target` gets `source`'s secret `name` (the one both sides of the realm must hold)."""
    value = source.secret(name)
    path = target.state / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(value)
