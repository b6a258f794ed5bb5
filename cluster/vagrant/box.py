"""The Vagrant box: built once from Debian's packages and the product's own package
(cluster/package.py) by build-box.sh, cached by a hash of its inputs, added to Vagrant under a
name that carries that hash.

The name carries the hash because vagrant-libvirt keeps the box's disk in the libvirt pool
under the box's name: a rebuilt box under an old name would boot the old disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cluster import file_lock, package

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build-box.sh"
CACHE = Path(os.environ.get("FRACTAL_HA_VAGRANT_CACHE", "/var/cache/fractal-ha/vagrant"))
# Vagrant's well-known insecure key: the box accepts it, Vagrant replaces it on first `up`.
INSECURE_PUBKEY = Path("/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub")

Progress = Callable[[str], None]


def pubkey() -> Path:
    if not INSECURE_PUBKEY.exists():  # another Vagrant version: find its copy of the key
        found = sorted(Path("/usr/share/rubygems-integration/all/gems").glob(
            "vagrant-*/keys/vagrant.pub"))
        if not found:
            raise FileNotFoundError("Vagrant's insecure public key (is vagrant installed?)")
        return found[-1]
    return INSECURE_PUBKEY


def key() -> str:
    digest = hashlib.sha256()
    for part in (BUILD_SCRIPT.read_bytes(), package.key().encode(), pubkey().read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def box_name(box_key: str) -> str:
    return f"fractal-ha-debian12-{box_key}"


def _vagrant(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["vagrant", *args], capture_output=True, text=True, timeout=timeout)


def added(name: str) -> bool:
    out = _vagrant("box", "list", "--machine-readable").stdout
    return any(line.split(",")[2:4] == ["box-name", name] for line in out.splitlines())


def ensure(progress: Progress = print, *, rebuild: bool = False) -> str:
    """Build the box unless a cached one matches the inputs; add it to Vagrant. Returns its
    name. Cold: ~215 s on 2 busy cores (debootstrap ~150 s of it); cached: a second (or ~10 s
    to add)."""
    with file_lock.held(CACHE / "box.lock"):  # CI builds it in the background (scripts/test.sh)
        return _ensure(progress, rebuild)


def _ensure(progress: Progress, rebuild: bool) -> str:
    start = time.monotonic()
    box_key = key()
    name = box_name(box_key)
    slot = CACHE / f"box-{box_key}"
    box = slot / "fractal-ha.box"
    if rebuild or not box.exists():
        slot.mkdir(parents=True, exist_ok=True)
        deb = package.build(progress)
        progress(f"box {name}: building from Debian packages and {deb.name} (~4 min)")
        with open(slot / "build.log", "w") as log:
            proc = subprocess.Popen(["bash", str(BUILD_SCRIPT), str(slot), str(deb),
                                     str(pubkey())], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                progress(line.rstrip())
            if proc.wait(timeout=1800) != 0:
                raise RuntimeError(f"box build failed, see {slot / 'build.log'}")
        # (the package's cache slot is named by its key: not hashed a third time)
        (slot / "inputs.json").write_text(json.dumps({"package": deb.name,
                                                      "package_key": deb.parent.name}, indent=1))
    if rebuild or not added(name):
        progress(f"box {name}: vagrant box add")
        done = _vagrant("box", "add", "--force", "--name", name, str(box))
        if done.returncode != 0:
            raise RuntimeError(f"vagrant box add: {done.stderr.strip() or done.stdout}")
    prune(box_key)
    progress(f"box {name} ready ({time.monotonic() - start:.0f} s)")
    return name


def prune(keep: str) -> None:
    """Older boxes: their cache slots and their copies in Vagrant (~1 GB each)."""
    for slot in CACHE.glob("box-*"):
        if slot.name != f"box-{keep}":
            shutil.rmtree(slot, ignore_errors=True)
    out = _vagrant("box", "list", "--machine-readable").stdout
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) > 3 and fields[2] == "box-name" and fields[3].startswith(
                "fractal-ha-debian12-") and fields[3] != box_name(keep):
            _vagrant("box", "remove", "--force", "--all", fields[3])
