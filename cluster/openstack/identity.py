"""Keystone's content for the lab: regions, projects, users and roles, and the catalog.

RegionOne holds every endpoint; RegionTwo exists with the identity endpoint only (and
object-store, network and compute once regions.py starts them), so a client configured for
the wrong region gets a clear "no endpoint" instead of a silent success;
RegionTLS holds every endpoint's HTTPS twin (tls.py).
"""

from __future__ import annotations

from cluster.openstack import clouds
from cluster.openstack.layout import PER_REGION, REGIONS, TLS_REGION, Layout

# catalog type -> (service name, the lab service behind it, path after its host:port)
CATALOG = {
    "network": ("neutron", "neutron", ""),
    "compute": ("nova", "compute", "/v2.1"),
    "object-store": ("swift", "object-store", "/v1/AUTH_$(project_id)s"),
}


def _find_or_create(finder, creator, name: str, **attrs):
    return finder(name) or creator(name=name, **attrs)


def register(layout: Layout) -> None:
    """Idempotent: adds only what is missing (safe after every `up`)."""
    ident = clouds.connect(layout).identity
    for region in (*REGIONS, TLS_REGION):
        if ident.find_region(region) is None:
            ident.create_region(id=region)
    projects = {name: _find_or_create(ident.find_project, ident.create_project, name,
                                      domain_id="default")
                for name in ("service", layout.accounts.project)}
    roles = {name: _find_or_create(ident.find_role, ident.create_role, name)
             for name in ("admin", "member", "reader", "service")}
    # neutron, swift and glance validate users' tokens (service role); the cluster's user is an
    # ordinary member.
    service = ("service", ("service", "admin"))
    users = {"neutron": service, "swift": service, "glance": service,
             layout.accounts.member: (layout.accounts.project, ("member",))}
    for name, (project, granted) in users.items():
        user = ident.find_user(name) or ident.create_user(
            name=name, password=layout.secret(name), domain_id="default",
            default_project_id=projects[project].id)
        for role in granted:
            ident.assign_project_role_to_user(projects[project], user, roles[role])
    for kind, (name, service, path) in CATALOG.items():
        _endpoints(ident, name, kind, {REGIONS[0]: layout.public_url(service) + path,
                                       TLS_REGION: layout.tls_url(service) + path})
    # Glance without a fault proxy or a TLS twin (layout.DIRECT): only operators' clients use it.
    _endpoints(ident, "glance", "image", {REGIONS[0]: layout.backend_url("image")})
    identity = ident.find_service("keystone")
    _endpoints(ident, identity.name, identity.type, {
        REGIONS[1]: layout.keystone_url, TLS_REGION: layout.tls_url("keystone") + "/v3"})


def _endpoints(ident, name: str, kind: str, urls: dict[str, str]) -> None:
    svc = ident.find_service(name) or ident.create_service(name=name, type=kind)
    existing = {(e.interface, e.region_id) for e in ident.endpoints(service_id=svc.id)}
    for region, url in urls.items():
        for interface in ("public", "internal", "admin"):
            if (interface, region) not in existing:
                ident.create_endpoint(service_id=svc.id, interface=interface, url=url,
                                      region_id=region)


def register_object_store(layout: Layout, region: str, url: str) -> None:
    """A region's own Swift in the catalog (idempotent)."""
    _endpoints(clouds.connect(layout).identity, "swift", "object-store",
               {region: url + CATALOG["object-store"][2]})


def register_region_network(layout: Layout) -> None:
    """The layout's region's own Neutron and compute in the catalog, at their fault proxies
    (idempotent)."""
    ident = clouds.connect(layout).identity
    for kind, (name, service, path) in CATALOG.items():
        if service in PER_REGION:
            _endpoints(ident, name, kind,
                       {layout.region: layout.public_url(layout.regional(service)) + path})
