"""The cloud's own virtualenv with pinned Keystone and Neutron: made once, reused after."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable

from cluster.cloud.layout import Layout

# Pinned: the lab must behave the same on every machine and in every CI run.
REQUIREMENTS = ("keystone==30.0.0", "neutron==29.0.0", "gunicorn==27.0.1")
PYTHON = "/usr/bin/python3"


def ensure_venv(layout: Layout, say: Callable[[str], None] = print) -> None:
    digest = hashlib.sha256(" ".join(REQUIREMENTS).encode()).hexdigest()[:12]
    stamp = layout.venv / f".installed-{digest}"
    if stamp.exists():
        return
    if layout.venv.exists():
        shutil.rmtree(layout.venv)
    say(f"installing {', '.join(REQUIREMENTS)} into {layout.venv} (about 40 s, once)")
    for argv in ([PYTHON, "-m", "venv", str(layout.venv)],
                 [layout.bin("pip"), "install", "--quiet", "--progress-bar", "off",
                  *REQUIREMENTS]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()[-600:]}")
    stamp.touch()
