"""A clean Debian 12 root to install the package into as an operator would (`apt install
./fractal-ha_*.deb`, dependencies from Debian's mirror): debootstrap's minbase, built once and
cached (/var/cache/fractal-ha/debian12-minbase, ~60 s), copied afresh for each use.

Commands run chrooted in private mount and PID namespaces: the mounts go with the command, and
so does every process it left behind (the namespace's init exiting kills the rest).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cluster.vagrant import box

MINBASE = box.CACHE.parent / "debian12-minbase"
# The .debs debootstrap keeps for the Vagrant box: apt checks each against the mirror's index
# before using it, and downloads what is missing or newer.
DEBS = box.CACHE / "debs"
MIRROR = "http://deb.debian.org/debian"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# proc, dev and the package cache inside the root, then the command chrooted (run as `sh -c`).
ENTER = ('R=$1; shift; mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && '
         'mount -t tmpfs tmpfs "$R/run" && mount --bind "$DEBS" "$R/var/cache/apt/archives" && '
         'exec chroot "$R" "$@"')


def minbase() -> Path:
    """The cached minbase tree (read only: every use copies it)."""
    if (MINBASE / "etc/debian_version").exists():
        return MINBASE
    DEBS.mkdir(parents=True, exist_ok=True)
    building = MINBASE.with_name(MINBASE.name + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    done = subprocess.run(["debootstrap", "--variant=minbase", f"--cache-dir={DEBS}",
                           "bookworm", str(building), MIRROR],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"debootstrap: {(done.stdout + done.stderr)[-1500:]}")
    building.rename(MINBASE)
    return MINBASE


class Root:
    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, argv: list[str], timeout: float = 300, **env: str
            ) -> subprocess.CompletedProcess:
        inner = ["/usr/bin/env", "-i", f"PATH={PATH}", "DEBIAN_FRONTEND=noninteractive",
                 *(f"{k}={v}" for k, v in env.items()), *argv]
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
             "sh", "-c", ENTER, "enter", str(self.path), *inner],
            capture_output=True, text=True, timeout=timeout, cwd="/",
            env={"PATH": PATH, "DEBS": str(DEBS)})


@contextmanager
def clean_root(parent: Path) -> Iterator[Root]:
    path = parent / "root"
    subprocess.run(["cp", "-a", str(minbase()), str(path)], check=True, timeout=300)
    # No daemon starts in a chroot (pacemaker, corosync): Debian's policy-rc.d convention.
    policy = path / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield Root(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
