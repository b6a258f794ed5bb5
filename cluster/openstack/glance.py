"""Real Glance v2 (the image service): SQLite, a file store, Keystone auth; one gunicorn
process. The cluster never uses it; Debian's `openstack server list|show` does (it asks the
image service for the servers' image names and fails without one in the catalog)."""

from __future__ import annotations

import shutil
import subprocess

from cluster.openstack import daemons, keystone
from cluster.openstack.layout import Layout


def daemon(layout: Layout) -> daemons.Daemon:
    home = layout.dir("glance")
    # One process: image listings are rare here, and one SQLite writer avoids "locked".
    return daemons.Daemon("glance", home, daemons.gunicorn(
        layout.bin("gunicorn"), home, layout.ports()["image"], "glance_wsgi:application",
        threads=4), health_url=layout.backend_url("image") + "/healthcheck")


def configured(layout: Layout) -> bool:
    return (layout.dir("glance") / "glance.db").exists()


def configure(layout: Layout) -> None:
    home = layout.dir("glance")
    for sub in ("images", "staging", "tasks"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    daemons.write_wsgi_shim(home, "glance")
    shutil.copy(layout.venv / "etc" / "glance" / "glance-api-paste.ini",
                home / "glance-api-paste.ini")
    (home / "glance-api.conf").write_text(f"""[DEFAULT]
log_file = {home}/glance-api.log
enabled_backends = file:file
# No image import (no staging of uploads through tasks): images are uploaded directly.
enabled_import_methods = []
worker_self_reference_url = {layout.backend_url("image")}
[database]
connection = sqlite:///{home}/glance.db
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = {home}/images
[os_glance_staging_store]
filesystem_store_datadir = {home}/staging
[os_glance_tasks_store]
filesystem_store_datadir = {home}/tasks
[paste_deploy]
flavor = keystone
config_file = {home}/glance-api-paste.ini
[oslo_concurrency]
lock_path = {home}
[oslo_middleware]
enable_proxy_headers_parsing = true
[keystone_authtoken]
{keystone.authtoken_options(layout, 'glance')}""")


def initialise(layout: Layout) -> None:
    home = layout.dir("glance")
    done = subprocess.run([layout.bin("glance-manage"), "--config-file",
                           str(home / "glance-api.conf"), "db_sync"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"glance schema: {done.stderr.strip()[-400:]}")
