"""`fractal-ha lab --dir OTHER down` must not take away the network of a lab that is up in
another directory with the same prefix (seen: a refused `up` in a second directory, then its
`down`, deleted the first lab's namespaces and switches)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from cluster.lab import cli
from cluster.lab import lab as lab_module
from cluster.lab.lab import Lab, LabError


@pytest.fixture(autouse=True)
def owners(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from cluster.geo import sites

    owners = tmp_path / "owners"
    monkeypatch.setattr(lab_module, "OWNERS", owners)
    monkeypatch.setattr(sites, "OWNERS", owners)  # the two-site lab's claim (its own import)
    return owners


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a `down` would have done to namespaces and nodes."""
    seen: list[str] = []
    monkeypatch.setattr(lab_module.netns, "delete", lambda name: seen.append(f"delete {name}"))
    monkeypatch.setattr(lab_module.Node, "crash", lambda node: seen.append(f"crash {node.name}"))
    return seen


def up_in(directory: Path, prefix: str = "fhx") -> Lab:
    """What `boot` records before it creates anything."""
    lab = Lab(directory, prefix=prefix)
    directory.mkdir(parents=True)
    lab._claim()
    (directory / "lab.json").write_text(json.dumps({"prefix": prefix, "size": 3, "token_ms": 0}))
    return lab


def test_down_of_another_directory_leaves_a_running_lab_alone(tmp_path: Path,
                                                              touched: list[str]) -> None:
    up_in(tmp_path / "a")
    other = Lab.open(tmp_path / "b", "fhx")  # nothing recorded there: a default lab
    with pytest.raises(LabError, match=f"belong to the lab in {tmp_path / 'a'}"):
        other.down()
    assert touched == []


def test_up_in_another_directory_is_refused_and_names_the_owner(tmp_path: Path) -> None:
    up_in(tmp_path / "a")
    with pytest.raises(LabError, match="belongs to the lab in"):
        Lab(tmp_path / "b", prefix="fhx")._claim()
    Lab(tmp_path / "b", prefix="fhy")._claim()  # a prefix of its own is fine


def test_the_cli_says_so_in_one_line(tmp_path: Path, touched: list[str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    up_in(tmp_path / "a", prefix="fha")
    assert cli.main(["--dir", str(tmp_path / "b"), "down"]) == 1
    err = capsys.readouterr().err
    assert f"fractal-ha lab --dir {tmp_path / 'a'} down" in err
    assert touched == []


def test_a_lab_gone_from_its_directory_owns_nothing(tmp_path: Path) -> None:
    up_in(tmp_path / "a")
    (tmp_path / "a" / "lab.json").unlink()  # taken down, or its directory removed
    assert Lab(tmp_path / "b", prefix="fhx").owned_elsewhere() is None


def test_the_owner_itself_may_go_down(tmp_path: Path) -> None:
    lab = up_in(tmp_path / "a")
    assert Lab.open(tmp_path / "a").owned_elsewhere() is None
    assert lab.owner() == (tmp_path / "a").resolve()


def test_a_site_of_a_two_site_lab_is_part_of_it_and_reopens_in_its_region(
        tmp_path: Path, touched: list[str], request: pytest.FixtureRequest) -> None:
    """A site's directory lies in its two-site lab's, which owns the prefix; the compute
    hooks reopen a site (a fenced node is crashed and booted) in its region and cloud."""
    from cluster.geo.sites import GeoLab

    short = Path(tempfile.mkdtemp(prefix="fgx-", dir="/tmp"))  # booth's 63-character values
    request.addfinalizer(lambda: shutil.rmtree(short))
    geo = GeoLab(short / "geo", prefix="fgx")
    geo._claim()
    site_b = geo.sites["site-b"]
    site_b.dir.mkdir()
    site_b._claim()  # no LabError: the owner is the lab it is part of
    site_b._record()
    again = Lab.open(site_b.dir)
    assert (again.region, again.cloud.state, [n.name for n in again.nodes]) == (
        "RegionTwo", geo.cloud.state, ["n4", "n5"])
    assert not again.own_cloud and again.owned_elsewhere() is None
    # A lab of its own elsewhere with that prefix is still refused.
    with pytest.raises(LabError, match="belongs to the lab in"):
        Lab(tmp_path / "elsewhere", prefix="fgx")._claim()
    # A site's down leaves the shared cloud's network to the two-site lab.
    site_b.down()
    assert touched == ["crash n4", "crash n5", "delete fgx-n4", "delete fgx-n5",
                       "delete fgx-2-h-client"]
