"""Servers as Nova shows them, with addresses taken from their Neutron ports."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import requests

from cluster.openstack.compute.power import Power
from cluster.openstack.compute.registry import Server

CREATED = "2026-01-01T00:00:00Z"
POWER_STATE = {True: 1, False: 4}  # RUNNING, SHUTDOWN


class AddressCache:
    """Servers' addresses as Nova keeps them: an instance info cache that Nova heals in the
    background (every 60 s), never on a request's path. A GET of a server is then one Keystone
    validation; only a server never seen before waits for Neutron (its ports and networks).
    Refreshing a stale entry inside the GET (as before) cost fence_openstack's first status
    call two Neutron calls with its new token, each validated by Neutron through the public
    Keystone: 4 s of a fencing at 1.5 s of Keystone latency, in every fencing more than `ttl`
    after the last one."""

    def __init__(self, neutron: str, ttl: float = 30.0) -> None:
        self.neutron = neutron
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()
        self._healing = False

    def get(self, token: str, server_ids: list[str]) -> dict[str, dict]:
        now = time.monotonic()
        with self._lock:
            missing = [i for i in server_ids if i not in self._entries]
            stale = [i for i in server_ids
                     if i in self._entries and now - self._entries[i][0] > self.ttl]
            heal = bool(stale) and not self._healing
            self._healing = self._healing or heal
        if missing:
            self._fetch(token, missing, now)
        if heal:
            threading.Thread(target=self._heal, args=(token, stale), daemon=True).start()
        with self._lock:
            return {i: self._entries[i][1] for i in server_ids if i in self._entries}

    def _fetch(self, token: str, server_ids: list[str], now: float) -> None:
        fetched = addresses(self.neutron, token, server_ids)
        with self._lock:
            for server_id in server_ids:
                self._entries[server_id] = (now, fetched.get(server_id, {}))

    def _heal(self, token: str, server_ids: list[str]) -> None:
        try:
            self._fetch(token, server_ids, time.monotonic())
        except (requests.RequestException, ValueError):
            pass  # the stale entry stays; the next GET past the ttl tries again
        finally:
            with self._lock:
                self._healing = False


def addresses(neutron: str, token: str, server_ids: list[str]) -> dict[str, dict]:
    """server id -> {network name: [address, ...]} from the ports whose device_id it is."""
    if not server_ids:
        return {}
    headers = {"X-Auth-Token": token}
    ports = requests.get(f"{neutron}/v2.0/ports", headers=headers, timeout=10,
                         params={"device_id": server_ids}).json().get("ports", [])
    network_ids = sorted({p["network_id"] for p in ports})
    names = {}
    if network_ids:
        networks = requests.get(f"{neutron}/v2.0/networks", headers=headers, timeout=10,
                                params={"id": network_ids, "fields": ["id", "name"]}).json()
        names = {n["id"]: n["name"] for n in networks.get("networks", [])}
    found: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for port in ports:
        for fixed in port.get("fixed_ips", []):
            version = 6 if ":" in fixed["ip_address"] else 4
            found[port["device_id"]][names.get(port["network_id"], port["network_id"])].append({
                "addr": fixed["ip_address"], "version": version, "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
    return {sid: dict(nets) for sid, nets in found.items()}


def links(root: str, server: Server) -> list[dict]:
    return [{"rel": "self", "href": f"{root}/v2.1/servers/{server.id}"},
            {"rel": "bookmark", "href": f"{root}/servers/{server.id}"}]


def brief(root: str, server: Server) -> dict:
    return {"id": server.id, "name": server.name, "links": links(root, server)}


def detail(root: str, server: Server, power: Power, nets: dict,
           version: tuple[int, int]) -> dict:
    flavor: dict = {"id": "lab-node", "links": []}
    if version >= (2, 47):  # the flavor is embedded from 2.47 on
        flavor = {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
                  "original_name": "lab-node", "extra_specs": {}}
    body = {
        **brief(root, server), "status": power.status, "tenant_id": server.project_id,
        "user_id": "", "hostId": "", "created": CREATED, "updated": CREATED,
        "addresses": nets, "flavor": flavor, "image": "", "metadata": {},
        "accessIPv4": "", "accessIPv6": "", "key_name": None, "config_drive": "",
        "progress": 0, "OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": "nova",
        "OS-EXT-STS:power_state": POWER_STATE[power.on],
        "OS-EXT-STS:vm_state": "active" if power.on else "stopped",
        "OS-EXT-STS:task_state": power.task, "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
    }
    if version >= (2, 9):
        body["locked"] = False
    if version >= (2, 19):
        body["description"] = None
    if version >= (2, 26):
        body["tags"] = []
    return body
