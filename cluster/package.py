"""The product's Debian package (scripts/build-deb.sh) built from this tree once per set of
inputs, for whatever installs it here: the package's own tests and the Vagrant box.

Cached in /var/cache/fractal-ha/deb/KEY/, where KEY hashes what the package is made of (the
files it copies from the tree, the build scripts, the pinned runtime dependencies): a build
takes ~80 s on 2 cores, and a session needs it twice (tests/agents, the Vagrant box).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

from cluster import file_lock

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("FRACTAL_HA_DEB_CACHE", "/var/cache/fractal-ha/deb"))
BUILD_SCRIPT = REPO / "scripts" / "build-deb.sh"
# What scripts/deb_tree.py copies from the tree, and the scripts themselves.
INPUTS = ("fractal_service", "resource_agents", "fractal_ha", "cluster/config",
          "cluster/prometheus", "pyproject.toml", "README.md", "scripts/build-deb.sh",
          "scripts/deb_tree.py")


def runtime_pins() -> list[str]:
    """`name==version` for the project's runtime dependencies and theirs, as installed in this
    environment: what the package's virtualenv carries, and what the VMs run."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    todo = [_name(r) for r in project["dependencies"]]
    pins: dict[str, str] = {}
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in pins:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a dependency behind a marker that does not apply here
        pins[key] = dist.version
        todo += [_name(r) for r in dist.requires or () if "extra ==" not in r]
    return sorted(f"{k}=={v}" for k, v in pins.items())


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return match.group(0)


def key() -> str:
    """A hash of every input of the package: the same key, the same package."""
    digest = hashlib.sha256("\n".join(runtime_pins()).encode())
    for top in INPUTS:
        path = REPO / top
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                digest.update(str(file.relative_to(REPO)).encode() + b"\0")
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:12]


def build(progress: Callable[[str], None] = print) -> Path:
    """The package for this tree: the cached one, else built now (older ones pruned). One
    build at a time (a concurrent caller waits, then takes the cached one)."""
    with file_lock.held(CACHE.parent / "deb.lock"):
        return _build(CACHE / key(), progress)


def _build(slot: Path, progress: Callable[[str], None]) -> Path:
    found = sorted(slot.glob("fractal-ha_*.deb"))
    if found:
        return found[0]
    progress(f"building the Debian package (scripts/build-deb.sh, ~80 s) into {slot}")
    building = slot.with_name(slot.name + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    done = subprocess.run(["bash", str(BUILD_SCRIPT), str(building)], capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-deb.sh failed: {done.stderr.strip()[-2000:]}")
    for old in CACHE.glob("*"):
        if old != building:
            shutil.rmtree(old, ignore_errors=True)
    building.rename(slot)
    return slot / Path(done.stdout.strip()).name
