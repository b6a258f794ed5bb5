"""Render the crmsh configuration of the Fractal service (cluster/config/fractal.crm)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).parent / "config" / "fractal.crm"


@dataclass(frozen=True)
class ServiceConfig:
    address: str  # where clients and workers reach the API
    api_port: int = 8080
    data_dir: str = "/var/lib/fractal"
    workers: int = 2
    stonith_enabled: bool = False
    # The address resource. The lab uses IPaddr2 on the nodes' network until the OpenStack
    # floating-IP agent replaces it.
    address_agent: str = "ocf:heartbeat:IPaddr2"
    address_params: str = ""

    def render(self) -> str:
        params = self.address_params or f"ip={self.address} cidr_netmask=24"
        return Template(TEMPLATE.read_text()).substitute(
            stonith_enabled=str(self.stonith_enabled).lower(), api_port=self.api_port,
            data_dir=self.data_dir, address_agent=self.address_agent, address_params=params,
            api_url=f"http://{self.address}:{self.api_port}", workers=self.workers)
