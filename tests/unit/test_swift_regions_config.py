"""The two regions' Swift configuration (cluster/openstack/swift.py), without starting it: what
container sync needs on both sides (the cloud itself: tests/geo/test_object_sync.py)."""

from __future__ import annotations

import configparser
from pathlib import Path

from cluster.openstack import swift
from cluster.openstack.layout import REGIONS, Layout


def written(tmp_path: Path) -> dict[str, Path]:
    layout = Layout.at(tmp_path)
    homes = {}
    for region in REGIONS:
        site = swift.Cluster(layout, region)
        site.home.mkdir(parents=True)
        assert swift.write_configuration(site)  # new files: changed
        assert not swift.write_configuration(site)  # the same again: unchanged
        homes[region] = site.home
    return homes


def read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def test_region_one_keeps_the_single_region_names_and_region_two_has_its_own(tmp_path) -> None:
    homes = written(tmp_path)
    assert homes[REGIONS[0]] == tmp_path / "state" / "swift"
    assert homes[REGIONS[1]] == tmp_path / "state" / f"swift-{REGIONS[1]}"
    layout = Layout.at(tmp_path)
    ports = [swift.Cluster(layout, r).port(k) for r in REGIONS
             for k in ("proxy", *swift.SERVERS)]
    assert len(set(ports)) == len(ports)
    assert swift.Cluster(layout).port("proxy") == layout.ports()["object-store"]


def test_both_regions_share_one_realm_and_sync_before_auth(tmp_path) -> None:
    homes = written(tmp_path)
    realms = [(homes[r] / "container-sync-realms.conf").read_text() for r in REGIONS]
    for region in REGIONS:  # the realm key: owner only
        assert (homes[region] / "container-sync-realms.conf").stat().st_mode & 0o777 == 0o600
    assert realms[0] == realms[1]
    realm = read(homes[REGIONS[0]] / "container-sync-realms.conf")[swift.REALM]
    layout = Layout.at(tmp_path)
    assert realm["key"] and {realm[f"cluster_{r.lower()}"] for r in REGIONS} == {
        f"{swift.Cluster(layout, r).url}/v1/" for r in REGIONS}
    for region in REGIONS:
        proxy = read(homes[region] / "proxy-server.conf")
        pipeline = proxy["pipeline:main"]["pipeline"].split()
        assert pipeline.index("container_sync") < pipeline.index("authtoken")
        assert proxy["filter:authtoken"]["delay_auth_decision"] == "true"
        sync = read(homes[region] / "container-server.conf")["container-sync"]
        assert float(sync["interval"]) == swift.SYNC_INTERVAL_S
        assert Path(sync["internal_client_conf_path"]).exists()
