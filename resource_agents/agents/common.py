"""Parameters and checks the Fractal agents share."""

from __future__ import annotations

import os
import pwd
import sys

from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.env import OcfEnv
from resource_agents.ocf.params import Parameter


def _bin(name: str) -> str:
    # The console script installed beside the interpreter running this agent (the venv's bin).
    return os.path.join(os.path.dirname(sys.executable), name)


def _user_exists(name: str) -> str | None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        # True of this node only (its /etc/passwd): ERR_INSTALLED keeps the resource off this
        # node, where a parameter error (6) would stop it on every node.
        raise OcfError(Exit.ERR_INSTALLED, f"user {name!r} does not exist on node "
                       f"{OcfEnv.from_environ().node}") from None
    return None


def program(default: str) -> Parameter:
    return Parameter("program", f"Path of {default}", type=str, default=_bin(default),
                     longdesc=f"The {default} executable to run; defaults to the one installed "
                              "with this agent.")


USER = Parameter("user", "User to run as", default="root", check=_user_exists,
                 longdesc="The unprivileged account the service runs under.")


def log_parameter(agent: str) -> Parameter:
    return Parameter("log_file", "Log file", default=f"/var/log/fractal/{agent}.log",
                     longdesc="Where the service's own output goes (the agent logs through the "
                              "cluster's logging).")


def require_executable(path: str) -> None:
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise OcfError(Exit.ERR_INSTALLED, f"{path} is not installed (not an executable file)")


def _absolute_or_empty(value: str) -> str | None:
    return None if not value or value.startswith("/") else "must be absolute"


# Settings from etcd (fractal_service/settings): the members and the files for their TLS.
ETCD_PARAMETERS = (
    Parameter("etcd_urls", "etcd members for live settings", default="",
              longdesc="Comma-separated etcd client URLs: the service then reads its settings "
                       "under /fractal/config/ and follows changes while running, and "
                       "lease_seconds is not passed (etcd holds it). Empty: no etcd."),
    Parameter("etcd_ca", "CA file for https:// etcd members", default="",
              check=_absolute_or_empty),
    Parameter("etcd_cert", "Client certificate for etcd", default="", check=_absolute_or_empty),
    Parameter("etcd_key", "Its private key (a file: never in the CIB)", default="",
              check=_absolute_or_empty),
)


def etcd_argv(params: dict, cache: str | None) -> list[str]:
    """The service's options for ETCD_PARAMETERS; [] without etcd_urls. No `cache`: a program
    that reads no settings (the exporter asks the members' health only)."""
    if not params["etcd_urls"]:
        return []
    argv = ["--etcd", params["etcd_urls"], *(["--etcd-cache", cache] if cache else [])]
    for name in ("etcd_ca", "etcd_cert", "etcd_key"):
        if params[name]:
            argv += [f"--{name.replace('_', '-')}", params[name]]
    return argv
