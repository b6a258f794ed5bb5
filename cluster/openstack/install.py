"""The services' own virtualenv with pinned Keystone and Neutron: made once, reused after."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Pinned: the lab must behave the same on every machine and in every CI run.
REQUIREMENTS = ("keystone==30.0.0", "neutron==29.0.0", "gunicorn==27.0.1")
# Debian's interpreter, not the project's: the services must not depend on how the project's
# own Python was built.
PYTHON = "/usr/bin/python3"


def ensure_venv(venv: Path, say: Callable[[str], None] = print) -> bool:
    """Install unless a complete install of exactly these pins is there. True if installed now.

    The stamp is written last, so an interrupted install is redone rather than half-used.
    """
    digest = hashlib.sha256(" ".join(REQUIREMENTS).encode()).hexdigest()[:12]
    stamp = venv / f".installed-{digest}"
    if stamp.exists():
        return False
    if venv.exists():
        shutil.rmtree(venv)
    started = time.monotonic()
    say(f"installing {', '.join(REQUIREMENTS)} into {venv} (about a minute, once)")
    _run([PYTHON, "-m", "venv", str(venv)])
    say("  virtualenv made; pip is resolving and downloading (131 packages)")
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "--progress-bar", "off",
          "--disable-pip-version-check", *REQUIREMENTS])
    stamp.touch()
    say(f"  installed in {time.monotonic() - started:.0f} s")
    return True


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()[-600:]}")
