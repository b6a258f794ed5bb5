"""Real Neutron v2.0: ML2 without agents, router plugin, Keystone auth, SQLite; gunicorn."""

from __future__ import annotations

import shutil
import subprocess

from cluster.cloud.layout import Layout
from cluster.cloud.services import Service

# `neutron-db-manage upgrade heads` cannot ALTER constraints on SQLite: create every table from
# Neutron's models (as its own unit tests do), then stamp the migration heads.
SCHEMA = """
import sys
from sqlalchemy import create_engine
from neutron.db.migration.models import head  # noqa: F401 - registers every model
from neutron_lib.db import model_base
model_base.BASEV2.metadata.create_all(create_engine(sys.argv[1]))
"""


def service(layout: Layout) -> Service:
    home = layout.state / "neutron"
    return Service("neutron", layout.neutron_port, shim=(
        "import os, sys\n"
        "sys.argv = sys.argv[:1]  # gunicorn's flags are not Neutron's\n"
        f"os.environ['OS_NEUTRON_CONFIG_DIR'] = {str(home)!r}\n"
        "os.environ['OS_NEUTRON_CONFIG_FILES'] = 'neutron.conf;ml2_conf.ini'\n"
        "from neutron.wsgi.api import application  # noqa: E402,F401\n"))


def configure(layout: Layout) -> None:
    home = layout.state / "neutron"
    (home / "lock").mkdir(parents=True, exist_ok=True)
    shutil.copy(layout.venv / "etc" / "neutron" / "api-paste.ini", home / "api-paste.ini")
    (home / "neutron.conf").write_text(f"""[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = fake:/
api_paste_config = {home}/api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
log_file = {home}/neutron.log
[database]
connection = sqlite:///{home}/neutron.db
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = {home}/lock
[keystone_authtoken]
www_authenticate_uri = {layout.keystone_url}
auth_url = {layout.keystone_url}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = neutron
password = {layout.secret("neutron")}
""")
    (home / "ml2_conf.ini").write_text("""[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:200
""")


def initialise(layout: Layout) -> None:
    home = layout.state / "neutron"
    db = f"sqlite:///{home}/neutron.db"
    for argv in ([layout.bin("python"), "-c", SCHEMA, db],
                 [layout.bin("neutron-db-manage"), "--config-file", str(home / "neutron.conf"),
                  "--config-file", str(home / "ml2_conf.ini"), "stamp", "heads"]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"neutron schema: {done.stderr.strip()[-400:]}")
