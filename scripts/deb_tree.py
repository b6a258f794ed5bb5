"""The file tree of the fractal-ha Debian package, laid out under ROOT (scripts/build-deb.sh).

Offline: the runtime dependencies are copied from the installed distributions of the
interpreter running this (the set-up's .venv, made from Debian 12's /usr/bin/python3, so the
compiled ones match the target), the product from the tree. A private virtualenv under
/opt/fractal-ha, as dh-virtualenv packages do: Debian 12's openstacksdk is too old.

Run: .venv/bin/python scripts/deb_tree.py ROOT
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the product's modules below, from this tree

from fractal_service.config import Settings  # noqa: E402
from resource_agents.agents.api import SYSCTL_FILE as API_SYSCTL  # noqa: E402
from resource_agents.install import AGENTS, PROVIDER, launcher  # noqa: E402

VENV = "/opt/fractal-ha"
PYTHON = f"{VENV}/bin/python"
SITE = f"{VENV}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
PRODUCT = ("fractal_service", "resource_agents", "fractal_ha")  # as pyproject's packages.find
SHARE = "/usr/share/fractal-ha"


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def runtime_distributions() -> list[md.Distribution]:
    """The project's runtime dependencies and theirs (markers evaluated, no extras)."""
    todo = [Requirement(r) for r in project()["dependencies"]]
    found: dict[str, md.Distribution] = {}
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = req.name.lower().replace("_", "-")
        if key in found:
            continue
        dist = md.distribution(req.name)  # missing: the set-up is incomplete, stop here
        found[key] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower())


# Not in the package: byte-code (compiled afresh for the target's paths) and the dependencies'
# own test suites (a third of the files: openstacksdk's alone are 1,743), which nothing imports
# at run time and which lintian, dpkg and compileall would otherwise go through.
SKIPPED_DIRS = frozenset({"__pycache__", "tests"})


def copy_distribution(dist: md.Distribution, site: Path) -> None:
    base = Path(str(dist.locate_file(""))).resolve()
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file))).resolve()
        # Only what lives in site-packages: console scripts of dependencies are not needed.
        if not path.is_relative_to(base) or not path.is_file():
            continue
        if SKIPPED_DIRS.intersection(path.relative_to(base).parts):
            continue
        target = site / path.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def copy_product(site: Path) -> None:
    for package in PRODUCT:
        shutil.copytree(REPO / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    meta = project()
    info = site / f"fractal_ha-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                   f"Version: {meta['version']}\n")
    (info / "INSTALLER").write_text("build-deb\n")
    scripts = "".join(f"{k} = {v}\n" for k, v in meta["scripts"].items())
    (info / "entry_points.txt").write_text(f"[console_scripts]\n{scripts}")


def commands(root: Path) -> list[str]:
    """The console scripts in the virtualenv, linked from /usr/bin."""
    names = []
    for name, target in project()["scripts"].items():
        module, function = target.split(":")
        script = root / VENV.lstrip("/") / "bin" / name
        script.write_text(f"#!{PYTHON}\nimport sys\nfrom {module} import {function}\n"
                          f"sys.exit({function}())\n")
        script.chmod(0o755)
        link = root / "usr/bin" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"{VENV}/bin/{name}")
        names.append(name)
    return names


def agents(root: Path) -> None:
    target = root / "usr/lib/ocf/resource.d" / PROVIDER
    target.mkdir(parents=True)
    for name, module in AGENTS.items():
        (target / name).write_text(launcher(module, python=PYTHON, paths=[SITE]))
        (target / name).chmod(0o755)


def sysctl(root: Path) -> None:
    """The nodes' kernel settings the agents rely on, applied at boot (systemd-sysctl)."""
    target = root / "usr/lib/sysctl.d"
    target.mkdir(parents=True)
    shutil.copy(API_SYSCTL, target / os.path.basename(API_SYSCTL))


def example_config(root: Path) -> None:
    """/etc/fractal: the API's settings with every default, commented (fractal_service/config.py
    is the one place for them), and where the cloud's credentials go."""
    etc = root / "etc/fractal"
    etc.mkdir(parents=True)
    lines = ["# fractal-api settings (FRACTAL_CONFIG=/etc/fractal/api.toml); the defaults:"]
    for f in fields(Settings):
        value = getattr(Settings(), f.name)
        if is_dataclass(value) or value is None:  # a table ([limits], [worker])
            lines.append(f"# {f.name} = …")
            continue
        shown = f'"{value}"' if isinstance(value, str | Path) else str(value).lower() \
            if isinstance(value, bool) else repr(value)
        lines.append(f"# {f.name} = {shown}")
    (etc / "api.toml").write_text("\n".join(lines) + "\n")
    (etc / "clouds.yaml.example").write_text(
        "# Copy to /etc/fractal/clouds.yaml (mode 0600) for ocf:fractal:floating-ip and the\n"
        "# Swift store; the agents take `os_cloud` and `clouds_yaml` parameters.\n"
        "clouds:\n  fractal:\n    auth:\n      auth_url: https://keystone.example.org:5000/v3\n"
        "      username: fractal\n      password: CHANGE-ME\n      project_name: fractal\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n"
        "    region_name: RegionOne\n")


def shared(root: Path) -> None:
    """crm templates, corosync template, Prometheus rules and dashboard."""
    share = root / SHARE.lstrip("/")
    shutil.copytree(REPO / "cluster/config", share / "crm")
    shutil.copytree(REPO / "cluster/prometheus", share / "prometheus")
    unit = root / "lib/systemd/system/fractal-ha-exporter.service"
    unit.parent.mkdir(parents=True)
    # For clusters that keep the exporter outside Pacemaker (else: ocf:fractal:exporter).
    unit.write_text(
        "[Unit]\nDescription=fractal-ha Prometheus exporter (Pacemaker, Corosync, agents)\n"
        "Documentation=file:///usr/share/doc/fractal-ha/README.md\n"
        "After=pacemaker.service\n\n"
        f"[Service]\nExecStart={VENV}/bin/fractal-ha exporter\n"
        "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n")


# lintian's errors that are the private virtualenv's nature, each with why (shipped in the
# package, as Debian's own overrides are): `lintian --fail-on error` passes
# (tests/agents/test_deb_package.py).
LINTIAN_OVERRIDES = f"""\
# A private virtualenv under {VENV}, as dh-virtualenv packages do (Debian 12's openstacksdk is
# too old).
dir-or-file-in-opt
# Byte-code made at build time: root-run agents then write no file that dpkg does not know of.
package-installs-python-pycache-dir
# The wheels' own bundled libraries (Pillow, lxml, numpy, PyYAML), as their projects build them.
embedded-library
unstripped-binary-or-object
library-not-linked-against-libc [{SITE.lstrip("/")}/numpy/linalg/lapack_lite.*.so]
# netaddr's own OUI tables (an openstacksdk dependency reads them), not ieee-data's files.
package-installs-ieee-data
# oslo.config's template for generated completion scripts: never run as a shell script.
shell-script-fails-syntax-check [*/oslo_config/sources/templates/bash-completion.template]
"""


def lintian_overrides(root: Path) -> None:
    target = root / "usr/share/lintian/overrides/fractal-ha"
    target.parent.mkdir(parents=True)
    target.write_text("".join(line if line.startswith("#") or not line else f"fractal-ha: {line}"
                              for line in LINTIAN_OVERRIDES.splitlines(keepends=True)))


def docs(root: Path, version: str) -> None:
    doc = root / "usr/share/doc/fractal-ha"
    doc.mkdir(parents=True)
    shutil.copy2(REPO / "README.md", doc / "README.md")
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: fractal-ha\n\nFiles: *\nCopyright: the fractal-ha authors\n"
        "License: Apache-2.0\n On Debian systems, the full text of the Apache License 2.0 is "
        "in\n /usr/share/common-licenses/Apache-2.0.\n")
    changelog = doc / "changelog.Debian"
    changelog.write_text(f"fractal-ha ({version}) unstable; urgency=medium\n\n"
                         "  * Built from the tree by scripts/build-deb.sh.\n\n"
                         " -- fractal-ha <fractal-ha@example.org>  "
                         "Tue, 01 Dec 2026 00:00:00 +0000\n")
    subprocess.run(["gzip", "-9n", str(changelog)], check=True)


def main(root: Path) -> None:
    python = sys.executable
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip",
                    str(root / VENV.lstrip("/"))], check=True)
    site = root / SITE.lstrip("/")
    assert site.is_dir(), f"{site}: the target's Python is not this interpreter's version"
    for dist in runtime_distributions():
        copy_distribution(dist, site)
    for library in site.rglob("*.so*"):  # wheels ship them 0755; Debian wants 0644
        if library.is_file():
            library.chmod(0o644)
    copy_product(site)
    commands(root)
    agents(root)
    sysctl(root)
    example_config(root)
    shared(root)
    lintian_overrides(root)
    docs(root, os.environ.get("DEB_VERSION", f"{project()['version']}-1"))
    # Byte-code for the target's paths, made now: a root-run agent would otherwise leave
    # __pycache__ directories that `apt remove` does not know about.
    subprocess.run([python, "-m", "compileall", "-q", "-j0", "-s", str(root), "-p", "/",
                    str(root / VENV.lstrip("/"))], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
