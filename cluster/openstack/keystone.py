"""Real Keystone v3: SQLite, fernet tokens, a bootstrapped admin; served by gunicorn."""

from __future__ import annotations

import os
import subprocess

from cluster.openstack import daemons
from cluster.openstack.layout import REGIONS, Layout


def daemon(layout: Layout) -> daemons.Daemon:
    home = layout.dir("keystone")
    return daemons.Daemon("keystone", home, daemons.gunicorn(
        layout.bin("gunicorn"), home, layout.ports()["keystone"], "keystone_wsgi:application",
        workers=2), health_url=layout.backend_url("keystone") + "/v3")


def configure(layout: Layout) -> None:
    home = layout.dir("keystone")
    home.mkdir(parents=True, exist_ok=True)
    daemons.write_wsgi_shim(home, "keystone")
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
[identity]
# bcrypt's minimum cost instead of Keystone's 12: every login (fence_openstack logs in on each
# fencing) took 0.3 s of this host's CPU, downtime on a node crash. A test cloud's passwords
# are random and never leave the host.
password_hash_rounds = 4
[oslo_middleware]
# Behind the lab's TLS proxies (tls.py): links in the answers say https where asked over it.
enable_proxy_headers_parsing = true
""")


def initialise(layout: Layout) -> None:
    """Schema, keys and the bootstrap admin with the identity endpoint (behind its proxy)."""
    conf = ["--config-file", str(layout.dir("keystone") / "keystone.conf")]
    owner = ["--keystone-user", "root", "--keystone-group", "root"]  # no keystone user here
    # The admin password goes through the environment, not the command line (ps shows that).
    admin = layout.accounts.admin
    env = {**os.environ, "OS_BOOTSTRAP_PASSWORD": layout.secret(admin)}
    url = layout.keystone_url
    manage = [layout.bin("keystone-manage"), *conf]
    # Schema and key repositories are independent: made at once, then the bootstrap.
    _all([[*manage, "db_sync"], [*manage, "fernet_setup", *owner],
          [*manage, "credential_setup", *owner]], env)
    _all([[*manage, "bootstrap", "--bootstrap-admin-url", url, "--bootstrap-public-url", url,
           "--bootstrap-internal-url", url, "--bootstrap-region-id", REGIONS[0],
           "--bootstrap-username", admin]], env)


def _all(commands: list[list[str]], env: dict[str, str]) -> None:
    running = [(argv, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True, env=env)) for argv in commands]
    for argv, proc in running:
        _, err = proc.communicate()
        if proc.returncode != 0:
            step = argv[argv.index("--config-file") + 2]
            raise RuntimeError(f"keystone-manage {step} failed: {err.strip()[-400:]}")


def authtoken_options(layout: Layout, user: str, cache_seconds: int = -1) -> str:
    """keystonemiddleware's options for a service validating tokens as `user` (Neutron, the
    Swift proxy): with Keystone directly (service to service, not through the fault proxy: a
    fault injected on identity is what clients see, not a cascade). By default
    token_cache_time = -1, so that a revoked token is refused at once, as the fault tests
    expect; `cache_seconds` keeps validated tokens in the process for that long instead."""
    return f"""www_authenticate_uri = {layout.keystone_url}
auth_url = {layout.backend_url("keystone")}/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {layout.secret(user)}
token_cache_time = {cache_seconds}
"""
