"""`fractal-ha confd`: a TOML file for the service rendered from etcd, checked, renamed, and
the service reloaded only when it changed."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from fractal_service.config import Settings
from fractal_service.settings.confd import main as confd
from fractal_service.settings.etcd import Etcd, Tls
from tests.settings.support import config, seconds_until
from tests.support.etcd_cluster import EtcdCluster
from tests.support.processes import Process

pytestmark = pytest.mark.etcd
TEMPLATE = """\
# rendered by fractal-ha confd from etcd
lease_seconds = {{ getv(prefix + "lease_seconds", "30") }}
[limits]
{% for key, value in gets(prefix + "limits/") -%}
{{ key.rsplit("/", 1)[1] }} = {{ value }}
{% endfor -%}
"""


def _confdir(tmp: Path, prefix: str) -> tuple[Path, Path, Path]:
    confdir, dest, reloads = tmp / "confd", tmp / "etc" / "api.toml", tmp / "reloads"
    (confdir / "templates").mkdir(parents=True)
    (confdir / "conf.d").mkdir()
    dest.parent.mkdir()
    (confdir / "templates" / "api.toml.tmpl").write_text(
        '{% set prefix = "' + prefix + '" %}' + TEMPLATE)
    fractal = f"{sys.executable} -m fractal_service.cli.main"
    (confdir / "conf.d" / "api.toml").write_text(
        f'[template]\nsrc = "api.toml.tmpl"\ndest = "{dest}"\nkeys = ["{prefix}"]\n'
        f'mode = "0640"\ncheck_cmd = "{fractal} config check {{{{.src}}}}"\n'
        f"reload_cmd = \"sh -c 'echo reload >> {reloads}'\"\n")
    return confdir, dest, reloads


def _run(etcd: EtcdCluster, confdir: Path, *extra: str) -> int:
    return confd(["--confdir", str(confdir), "--etcd", etcd.option, *etcd.tls_args, *extra])


def test_rendered_checked_renamed_reloaded_once(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    confdir, dest, reloads = _confdir(tmp_path, prefix)
    assert config(etcd, prefix, "set", "lease_seconds=12", "limits.max_iterations=700") == 0
    assert _run(etcd, confdir, "--onetime") == 0
    settings = Settings.load(dest, environ={})
    assert (settings.lease_seconds, settings.limits.max_iterations) == (12, 700)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert reloads.read_text() == "reload\n"
    assert _run(etcd, confdir, "--onetime") == 0  # nothing changed: no rename, no reload
    assert reloads.read_text() == "reload\n"


def test_a_value_the_check_refuses_leaves_the_file_alone(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    confdir, dest, reloads = _confdir(tmp_path, prefix)
    assert config(etcd, prefix, "set", "lease_seconds=12") == 0
    assert _run(etcd, confdir, "--onetime") == 0
    before = dest.read_text()
    # Written around `fractal config set` (which refuses it): the check catches it.
    pki = etcd.pki
    Etcd(etcd.urls, tls=Tls(str(pki["ca.crt"]), str(pki["client.crt"]), str(pki["client.key"]))
         ).put_all({prefix + "lease_seconds": "0"})
    assert _run(etcd, confdir, "--onetime") == 1
    assert dest.read_text() == before
    assert reloads.read_text() == "reload\n"
    assert [p.name for p in dest.parent.iterdir()] == ["api.toml"]  # no staged file left


def test_following_etcd_the_file_changes_within_a_second_or_two(
        etcd: EtcdCluster, prefix: str, tmp_path: Path) -> None:
    confdir, dest, _ = _confdir(tmp_path, prefix)
    follower = Process([sys.executable, "-m", "fractal_ha.cli", "confd", "--confdir",
                        str(confdir), "--etcd", etcd.option, *etcd.tls_args, "--interval", "0.2"],
                       tmp_path / "confd.log")
    follower.start()
    try:
        seconds_until(dest.exists, 15, f"the first rendering ({follower.log})")
        assert config(etcd, prefix, "set", "lease_seconds=25") == 0
        seconds_until(lambda: "lease_seconds = 25" in dest.read_text(), 2, "the new value")
    finally:
        follower.stop()
