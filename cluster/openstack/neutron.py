"""Real Neutron v2.0: ML2 without agents, the router plugin, Keystone auth, SQLite; gunicorn.

One per region (the layout's: its own directory, database and port), as regions have."""

from __future__ import annotations

import os
import shutil
import subprocess

from cluster.openstack import daemons, keystone
from cluster.openstack.layout import Layout

# `neutron-db-manage upgrade heads` cannot ALTER constraints on SQLite: create every table from
# Neutron's models (as its own unit tests do), then stamp the migration heads.
SCHEMA = """
import sys
from sqlalchemy import create_engine
from neutron.db.migration.models import head  # noqa: F401 - registers every model
from neutron_lib.db import model_base
model_base.BASEV2.metadata.create_all(create_engine(sys.argv[1]))
"""


INITIALISED = "initialised"  # written once the schema is made and stamped


def daemon(layout: Layout) -> daemons.Daemon:
    name = layout.regional("neutron")
    home = layout.dir(name)
    # One process, threads for concurrency: each Neutron process seeds its type drivers'
    # allocation tables when it starts, and two doing that at once on SQLite fail with
    # "database is locked" (seen: `up` failing at random).
    return daemons.Daemon(name, home, daemons.gunicorn(
        layout.bin("gunicorn"), home, layout.ports()[name], "neutron_wsgi:application",
        threads=4), health_url=layout.backend_url(name) + "/")


def configured(layout: Layout) -> bool:
    """configure and initialise both done (a failed stamp is tried again by the next `up`)."""
    return (layout.dir(layout.regional("neutron")) / INITIALISED).exists()


def configure(layout: Layout) -> None:
    home = layout.dir(layout.regional("neutron"))
    (home / "lock").mkdir(parents=True, exist_ok=True)
    daemons.write_wsgi_shim(home, "neutron", OS_NEUTRON_CONFIG_FILES="neutron.conf;ml2_conf.ini")
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
# No agents listen (transport fake:/, our data plane reads the API): without RPC workers Neutron
# skips scheduling routers to L3 agents and notifying them on every floating-IP update (30% of
# a PUT's time, profiled).
rpc_workers = 0
rpc_state_report_workers = 0
log_file = {home}/neutron.log
[database]
connection = sqlite:///{home}/neutron.db
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = {home}/lock
[oslo_middleware]
# Behind the lab's TLS proxies (tls.py): links in the answers say https where asked over it.
enable_proxy_headers_parsing = true
[keystone_authtoken]
{keystone.authtoken_options(layout, 'neutron')}""")
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
    """The database's schema, made and stamped once per cloud (~30 s of Neutron's imports on
    2 cores), then copied for another region: Neutron adds its rows when it starts."""
    home = layout.dir(layout.regional("neutron"))
    database = home / "neutron.db"
    database.unlink(missing_ok=True)  # a half-made schema from a failed run
    template = layout.state / "neutron-schema.db"
    if template.exists():
        shutil.copyfile(template, database)
    else:
        for argv in ([layout.bin("python"), "-c", SCHEMA, f"sqlite:///{database}"],
                     [layout.bin("neutron-db-manage"), "--config-file",
                      str(home / "neutron.conf"), "--config-file", str(home / "ml2_conf.ini"),
                      "stamp", "heads"]):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"neutron schema: {done.stderr.strip()[-400:]}")
        tmp = template.with_suffix(".tmp")
        shutil.copyfile(database, tmp)
        os.replace(tmp, template)  # never half a template
    (home / INITIALISED).touch()
