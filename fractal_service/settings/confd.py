"""`fractal-ha confd`: files rendered from etcd keys, the way confd does it.

CONFDIR/conf.d/*.toml are confd's template resources:

    [template]
    src = "api.toml.tmpl"          # under CONFDIR/templates (Jinja2 here, not Go templates)
    dest = "/etc/fractal/api.toml"
    keys = ["/fractal/config/"]    # key prefixes the template reads
    mode = "0644"                  # optional; default 0644
    check_cmd = "fractal config check {{.src}}"   # optional; {{.src}} = the staged file
    reload_cmd = "systemctl reload fractal-api"    # optional; run after a change only

A template calls getv(key, default=None), gets(prefix) → [(key, value)] and exists(key). A
resource renders to a staged file next to dest (same mode), which the check command must
accept; then an atomic rename and the reload command. A failed check leaves dest as it was.
Unchanged output renames and reloads nothing. confd itself is a Go tool in neither Debian 12
nor PyPI.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fractal_service.settings.etcd import Etcd, EtcdUnavailable
from fractal_service.settings.keys import PREFIX

log = logging.getLogger("fractal.confd")
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Resource:
    name: str
    src: Path
    dest: Path
    keys: tuple[str, ...]
    mode: int = 0o644
    check_cmd: str | None = None
    reload_cmd: str | None = None

    @classmethod
    def load(cls, path: Path, templates: Path) -> Resource:
        """ValueError naming the file and the field."""
        try:
            t = tomllib.loads(path.read_text())["template"]
            keys = t.get("keys", [PREFIX])
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError("keys: want a list of key prefixes")
            return cls(path.stem, templates / t["src"], Path(t["dest"]), tuple(keys),
                       int(str(t.get("mode", "0644")), 8), t.get("check_cmd"),
                       t.get("reload_cmd"))
        except KeyError as exc:
            raise ValueError(f"{path}: missing {exc.args[0]}") from None
        except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: {exc}") from None


def render(resource: Resource, values: dict[str, str]) -> str:
    import jinja2  # Flask's own dependency: no new package

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)  # config files, not HTML
    env.globals.update(
        getv=lambda key, default=None: values[key] if key in values or default is None
        else default,
        gets=lambda prefix: sorted((k, v) for k, v in values.items() if k.startswith(prefix)),
        exists=lambda key: key in values)
    return env.from_string(resource.src.read_text()).render()


def apply(resource: Resource, text: str) -> bool | None:
    """Stage, check, rename, reload. True if dest changed, None if it was already so, False if
    the check refused it (dest untouched)."""
    try:
        if resource.dest.read_text() == text:
            return None
    except OSError:
        pass
    staged = resource.dest.with_name(f".{resource.dest.name}.{os.getpid()}.staged")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, resource.mode)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(staged, resource.mode)  # whatever the umask
        if resource.check_cmd and not _run(resource, resource.check_cmd, staged, "check"):
            return False
        os.replace(staged, resource.dest)
    finally:
        if staged.exists():
            staged.unlink()
    if resource.reload_cmd:
        _run(resource, resource.reload_cmd, resource.dest, "reload")
    log.info("%s: %s updated", resource.name, resource.dest)
    return True


def _run(resource: Resource, command: str, src: Path, what: str) -> bool:
    argv = shlex.split(command.replace("{{.src}}", shlex.quote(str(src))))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("%s: %s command failed: %s", resource.name, what, exc)
        return False
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        log.error("%s: %s command exited %d: %s", resource.name, what, done.returncode, why[0])
        return False
    return True


def sync(etcd: Etcd, resources: list[Resource]) -> bool:
    """Every resource once; False if a check or a render failed."""
    ok = True
    for resource in resources:
        values: dict[str, str] = {}
        for prefix in resource.keys:
            values.update(etcd.snapshot(prefix).values)
        try:
            text = render(resource, values)
        except Exception as exc:  # a template's own error (jinja2's many kinds): named
            log.error("%s: template %s: %s", resource.name, resource.src, exc)
            ok = False
            continue
        ok = apply(resource, text) is not False and ok
    return ok


def main(argv: list[str] | None = None) -> int:
    from fractal_service.settings.process import add_tls_options, etcd_from_options

    p = argparse.ArgumentParser(prog="fractal-ha confd", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--confdir", type=Path, default=Path("/etc/fractal/confd"))
    p.add_argument("--etcd", default=os.environ.get("FRACTAL_ETCD", "http://127.0.0.1:2379"))
    add_tls_options(p)
    p.add_argument("--onetime", action="store_true", help="render once and exit (1: a failure)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between reads when following (default 1)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        etcd = etcd_from_options(args)
        resources = [Resource.load(f, args.confdir / "templates")
                     for f in sorted((args.confdir / "conf.d").glob("*.toml"))]
    except (OSError, ValueError) as exc:
        print(f"fractal-ha confd: {exc}", file=sys.stderr)
        return 2
    if args.onetime:
        try:
            return 0 if sync(etcd, resources) else 1
        except EtcdUnavailable as exc:
            print(f"fractal-ha confd: etcd unavailable: {exc}", file=sys.stderr)
            return 3
    return _follow(etcd, resources, args.interval)


def _follow(etcd: Etcd, resources: list[Resource], interval: float) -> int:
    """confd's -interval mode: everything read every `interval` seconds; only output that
    differs from dest is checked, renamed and reloaded."""
    while True:
        try:
            sync(etcd, resources)
        except EtcdUnavailable as exc:
            log.warning("etcd unavailable, files left as they are: %s", exc)
        time.sleep(interval)
