"""The services' own virtualenv with pinned Keystone, Neutron, Swift and Glance (one OpenStack
release, 2026.2): made once, reused after."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Pinned: the lab must behave the same on every machine and in every CI run.
REQUIREMENTS = ("keystone==30.0.0", "neutron==29.0.0", "swift==2.38.3", "glance==33.0.0",
                "gunicorn==27.0.1")
# Debian's interpreter, not the project's: the services must not depend on how the project's
# own Python was built.
PYTHON = "/usr/bin/python3"


def ensure_venv(venv: Path, say: Callable[[str], None] = print) -> bool:
    """Install unless a complete install of exactly these pins is there. True if installed now.

    The stamp is written last, so an interrupted install is redone rather than half-used. A
    working venv made for other pins is brought to these in place (pip adds or changes only
    what differs): the venv is shared by every cloud on the host, and a running one keeps
    working while another's `up` adds a service.
    """
    digest = hashlib.sha256(" ".join(REQUIREMENTS).encode()).hexdigest()[:12]
    stamp = venv / f".installed-{digest}"
    if stamp.exists():
        return False
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Two clouds coming up at once (a test run and an operator's) must not run pip together.
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # the other one just did it
            return False
        return _install(venv, stamp, say)


def _install(venv: Path, stamp: Path, say: Callable[[str], None]) -> bool:
    started = time.monotonic()
    pip = venv / "bin" / "pip"
    reusable = pip.exists() and subprocess.run([str(pip), "--version"],
                                               capture_output=True).returncode == 0
    if reusable:
        say(f"updating {venv} to {', '.join(REQUIREMENTS)}")
    else:
        if venv.exists():
            shutil.rmtree(venv)
        say(f"installing {', '.join(REQUIREMENTS)} into {venv} (about a minute, once)")
        _run([PYTHON, "-m", "venv", str(venv)])
        say("  virtualenv made; pip is resolving and downloading (about 160 packages)")
    _run([str(pip), "install", "--quiet", "--progress-bar", "off",
          "--disable-pip-version-check", *REQUIREMENTS])
    for old in venv.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    say(f"  installed in {time.monotonic() - started:.0f} s")
    return True


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()[-600:]}")
