"""`fractal-ha`: the operator's umbrella command.

Each sub-command lives with the package that owns it and is imported only when chosen,
so `fractal-ha agents …` never pays for the lab's imports and vice versa.
"""

from __future__ import annotations

import importlib
import sys

# sub-command -> ("module", "function taking argv, returning an exit code", "help")
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agents": ("resource_agents.install", "main", "install/uninstall the ocf:fractal:* agents"),
    "lab": ("cluster.lab.cli", "main", "a three-node Pacemaker lab on this host"),
    "geo": ("cluster.geo.cli", "main",
            "two Pacemaker sites in two regions of the lab cloud, booth's ticket, DNS"),
    "cloud": ("cluster.openstack.cli", "main",
              "the lab's OpenStack (Keystone, Neutron, compute, data plane, faults)"),
    "confd": ("fractal_service.settings.confd", "main",
              "render files from etcd keys, confd-style (check, atomic rename, reload)"),
    "exporter": ("resource_agents.metrics.server", "main",
                 "Prometheus exporter: cluster state, quorum, agents' records (:9664)"),
}


def _usage() -> str:
    lines = ["usage: fractal-ha COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in sorted(COMMANDS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"fractal-ha: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[name]
    try:
        target = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # The lab (cluster/) is not in the package: it runs from a checkout, where
        # scripts/setup.sh puts it on the virtualenv's path.
        if exc.name != module.split(".")[0]:
            raise
        print(f"fractal-ha {name}: part of the lab, which runs from a checkout of the project "
              "(scripts/setup.sh), not from an installed package", file=sys.stderr)
        return 2
    return int(getattr(target, function)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
