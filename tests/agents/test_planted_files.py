"""The agents run as root among files the service account could have planted: pidfiles are
written in a directory only root writes, never through a link; a stray pidfile never makes a
stop fail (a failed stop gets the node fenced)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

OK, NOT_RUNNING = 0, 7


def _plant_dir(path: Path) -> None:
    """The state directory as an older release left it: handed to the service account."""
    nobody = pwd.getpwnam("nobody")
    path.mkdir(parents=True)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    path.chmod(0o777)


def test_the_api_pidfile_is_never_written_through_a_planted_link(api_agent,
                                                                  tmp_path: Path) -> None:
    home = api_agent.rsctmp / "fractal-api-fractal-api"
    _plant_dir(home)
    victims = {name: tmp_path / f"victim-{name}" for name in ("api.pid.tmp", "api.pid")}
    for name, victim in victims.items():
        victim.write_text("precious\n")
        (home / name).symlink_to(victim)
    result = api_agent("start")
    assert result.rc == OK, result
    for victim in victims.values():
        assert victim.read_text() == "precious\n"
    st = home.lstat()
    assert st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o755  # root's again
    pidfile = home / "api.pid"
    assert not pidfile.is_symlink() and int(pidfile.read_text()) > 1
    assert api_agent("monitor").rc == OK
    assert api_agent("stop").rc == OK


def test_stray_worker_pidfiles_never_fail_stop_or_monitor(worker_agent) -> None:
    state = worker_agent.rsctmp / "fractal-worker-workers_0"
    state.mkdir(parents=True)
    (state / "worker-x.pid").write_text("123\n")
    (state / "worker-3.pid").write_text("not a pid\n")
    (state / "worker-4.pid").symlink_to("/proc/self/stat")
    assert worker_agent("stop").rc == OK
    assert worker_agent("monitor").rc == NOT_RUNNING
    assert worker_agent("start").rc == OK  # and they do not stand in the way of a start
    assert worker_agent("monitor").rc == OK
    assert worker_agent("stop").rc == OK
    assert worker_agent("monitor").rc == NOT_RUNNING


def test_workers_write_their_heartbeats_in_their_own_directory(worker_agent) -> None:
    # An rsctmp that the account can reach (pytest's tmp_path is root's alone), as /run is.
    worker_agent.rsctmp = Path(tempfile.mkdtemp(prefix="rsctmp-"))
    worker_agent.rsctmp.chmod(0o711)
    state = worker_agent.rsctmp / "fractal-worker-workers_0"
    worker_agent.params["user"] = "nobody"
    assert worker_agent("start").rc == OK
    assert stat.S_IMODE(state.stat().st_mode) == 0o755 and state.stat().st_uid == os.geteuid()
    home = state / "home"
    assert home.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    try:
        assert sorted(p.name for p in home.glob("*.hb")) == ["worker-0.hb", "worker-1.hb"]
    finally:
        assert worker_agent("stop").rc == OK
        shutil.rmtree(worker_agent.rsctmp)
