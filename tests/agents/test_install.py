"""`fractal-ha agents install|uninstall`: thin launchers that run this installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FRACTAL_HA = str(Path(sys.executable).with_name("fractal-ha"))


def agents(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([FRACTAL_HA, "agents", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_install_then_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "ocf"
    done = agents("install", "--ocf-root", str(root))
    assert done.returncode == 0, done.stderr
    provider = root / "resource.d" / "fractal"
    assert sorted(p.name for p in provider.iterdir()) == ["api", "exporter", "floating-ip",
                                                          "worker"]
    for launcher in provider.iterdir():
        assert launcher.stat().st_mode & 0o111  # executable for the cluster's executor
        # the interpreter that installed it, whatever PATH the cluster runs agents with
        assert launcher.read_text().splitlines()[0].startswith(f"#!{sys.executable} ")
    assert agents("uninstall", "--ocf-root", str(root)).returncode == 0
    assert not provider.exists()


def test_launchers_ignore_the_callers_python_environment(tmp_path: Path) -> None:
    root = tmp_path / "ocf"
    assert agents("install", "--ocf-root", str(root)).returncode == 0
    # Modules named like ours or the standard library's, on PYTHONPATH and in the working
    # directory, must not be imported: the cluster's environment is not the package's.
    decoys = tmp_path / "decoys"
    (decoys / "resource_agents").mkdir(parents=True)
    for module in ("resource_agents/__init__.py", "typing.py"):
        (decoys / module).write_text("raise SystemExit('decoy imported')\n")
    done = subprocess.run([str(root / "resource.d/fractal/api"), "meta-data"],
                          capture_output=True, text=True, cwd=decoys, timeout=30,
                          env={"PYTHONPATH": str(decoys), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert '<resource-agent name="api"' in done.stdout


def test_an_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the OCF root's directory would go
    done = agents("install", "--ocf-root", str(blocker / "ocf"))
    assert done.returncode == 1
    assert done.stderr.startswith("fractal-ha agents:") and "Traceback" not in done.stderr
