"""`fractal-ha agents install|uninstall [--ocf-root DIR]`: thin executables under
$OCF_ROOT/resource.d/fractal/ that run the agents from this installed package."""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
from pathlib import Path

import resource_agents

AGENTS = {"api": "resource_agents.agents.api", "worker": "resource_agents.agents.worker",
          "floating-ip": "resource_agents.agents.floating_ip",
          "exporter": "resource_agents.metrics.agent"}
PROVIDER = "fractal"


def launcher(module: str, python: str | None = None, paths: list[str] | None = None) -> str:
    """The agent's executable. By default for this interpreter and installation; a package
    build (scripts/build-deb.sh) names the target's interpreter and site-packages instead."""
    # -I (isolated): the cluster's environment cannot redirect imports (PYTHONPATH, cwd, user
    # site). -S skips `site` (its .pth scanning costs ~10 ms a run): the package's directory and
    # the environment's site-packages (for lxml, used by meta-data only) are put on the path
    # explicitly, as they were when the agent was installed.
    if paths is None:
        package_root = str(Path(resource_agents.__file__).resolve().parent.parent)
        paths = list(dict.fromkeys([package_root, sysconfig.get_paths()["purelib"],
                                    sysconfig.get_paths()["platlib"]]))
    return (f"#!{python or sys.executable} -IS\n"
            f"# ocf:{PROVIDER} agent installed by `fractal-ha agents install`; do not edit.\n"
            "import sys\n"
            f"sys.path[:0] = {paths!r}\n"
            f"from {module} import main\n"
            "raise SystemExit(main())\n")


def install(ocf_root: Path) -> list[Path]:
    target = ocf_root / "resource.d" / PROVIDER
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, module in AGENTS.items():
        path = target / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(launcher(module))
        tmp.chmod(0o755)
        os.replace(tmp, path)
        written.append(path)
    return written


def uninstall(ocf_root: Path) -> list[Path]:
    target = ocf_root / "resource.d" / PROVIDER
    removed = []
    for name in AGENTS:
        path = target / name
        if path.exists():
            path.unlink()
            removed.append(path)
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    return removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fractal-ha agents", description=__doc__)
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--ocf-root", type=Path,
                        default=Path(os.environ.get("OCF_ROOT", "/usr/lib/ocf")))
    args = parser.parse_args(argv)
    try:
        paths = install(args.ocf_root) if args.action == "install" else uninstall(args.ocf_root)
    except OSError as exc:
        print(f"fractal-ha agents: {exc}", file=sys.stderr)
        return 1
    verb = "installed" if args.action == "install" else "removed"
    for path in paths:
        print(f"{verb} {path}")
    return 0
