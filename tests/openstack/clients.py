"""Running Debian's unmodified OpenStack clients against the lab cloud."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from cluster.openstack.layout import MEMBER_CLOUD, Layout


def openstack(layout: Layout, *args: str) -> subprocess.CompletedProcess:
    """`openstack ARGS` (python3-openstackclient) as the member user, from our clouds.yaml."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
           "OS_CLOUD": MEMBER_CLOUD}
    return subprocess.run(["openstack", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def openstack_json(layout: Layout, *args: str) -> object:
    done = openstack(layout, *args, "-f", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def fence(layout: Layout, home: Path, action: str, plug: str,
          cloud: str = MEMBER_CLOUD) -> subprocess.CompletedProcess:
    """fence_openstack reads clouds.yaml only from ~/.config/openstack or /etc/openstack:
    give it a HOME of its own rather than touch the host's configuration."""
    config = home / ".config" / "openstack"
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(layout.clouds_yaml, config / "clouds.yaml")
    return subprocess.run(["fence_openstack", "--cloud", cloud, "--plug", plug,
                           "--action", action], env={**os.environ, "HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
