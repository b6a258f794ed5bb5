"""Identity for the lab: regions, projects, users with their roles, and the service catalog."""

from __future__ import annotations

from cluster.cloud.connect import connect, write_clouds_yaml
from cluster.cloud.layout import REGIONS, Layout


def _find_or_create(finder, creator, name: str, **attrs):
    return finder(name) or creator(name=name, **attrs)


def register(layout: Layout) -> None:
    """Idempotent: run after every `up`, it adds only what is missing."""
    write_clouds_yaml(layout)
    admin = connect(layout)
    ident = admin.identity
    for region in REGIONS:
        if ident.find_region(region) is None:
            ident.create_region(id=region)
    projects = {name: _find_or_create(ident.find_project, ident.create_project, name,
                                      domain_id="default")
                for name in ("service", "fractal")}
    roles = {name: _find_or_create(ident.find_role, ident.create_role, name)
             for name in ("admin", "member", "service")}
    # neutron validates users' tokens: the service role (and admin, for Keystone 30's policy)
    users = {"neutron": ("service", ("service", "admin")), "fractal": ("fractal", ("member",))}
    for name, (project, granted) in users.items():
        user = ident.find_user(name) or ident.create_user(
            name=name, password=layout.secret(name), domain_id="default",
            default_project_id=projects[project].id)
        for role in granted:
            ident.assign_project_role_to_user(projects[project], user, roles[role])
    _endpoints(layout, "neutron", "network", layout.neutron_url)


def _endpoints(layout: Layout, name: str, kind: str, url: str) -> None:
    ident = connect(layout).identity
    svc = ident.find_service(name) or ident.create_service(name=name, type=kind)
    existing = {(e.interface, e.region_id) for e in ident.endpoints(service_id=svc.id)}
    for interface in ("public", "internal", "admin"):
        if (interface, REGIONS[0]) not in existing:
            ident.create_endpoint(service_id=svc.id, interface=interface, url=url,
                                  region_id=REGIONS[0])
