"""Real Keystone v3: SQLite, fernet tokens, bootstrapped admin; served by gunicorn."""

from __future__ import annotations

import os
import subprocess

from cluster.cloud.layout import REGIONS, Layout
from cluster.cloud.services import Service


def service(layout: Layout) -> Service:
    home = layout.state / "keystone"
    return Service("keystone", layout.keystone_port, shim=(
        "import os, sys\n"
        "sys.argv = sys.argv[:1]  # gunicorn's flags are not Keystone's\n"
        f"os.environ['OS_KEYSTONE_CONFIG_DIR'] = {str(home)!r}\n"
        "from keystone.wsgi.api import application  # noqa: E402,F401\n"))


def configure(layout: Layout) -> None:
    home = layout.state / "keystone"
    home.mkdir(parents=True, exist_ok=True)
    (home / "keystone.conf").write_text(f"""[DEFAULT]
log_file = {home}/keystone.log
[database]
connection = sqlite:///{home}/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = {home}/fernet-keys
[credential]
key_repository = {home}/credential-keys
""")


def initialise(layout: Layout) -> None:
    """Schema, keys and the bootstrap admin (idempotent: keystone-manage is)."""
    conf = ["--config-file", str(layout.state / "keystone" / "keystone.conf")]
    manage = [layout.bin("keystone-manage"), *conf]
    owner = ["--keystone-user", "root", "--keystone-group", "root"]
    # The admin password goes through the environment, not the command line (ps shows that).
    env = {**os.environ, "OS_BOOTSTRAP_PASSWORD": layout.secret("admin")}
    for step in (["db_sync"], ["fernet_setup", *owner], ["credential_setup", *owner],
                 ["bootstrap", "--bootstrap-admin-url", layout.keystone_url,
                  "--bootstrap-public-url", layout.keystone_url,
                  "--bootstrap-internal-url", layout.keystone_url,
                  "--bootstrap-region-id", REGIONS[0]]):
        done = subprocess.run([*manage, *step], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"keystone-manage {step[0]} failed: {done.stderr.strip()[-400:]}")
