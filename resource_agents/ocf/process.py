"""Daemons an agent owns: spawn with a pidfile, recognise, and stop without leaving any behind."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 1 else None


def is_alive(pid: int) -> bool:
    """True for a live process; a zombie counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def owned_pid(pidfile: Path, marker: str) -> int | None:
    """The pidfile's PID if that process is alive and is ours (its command line has `marker`).

    The marker guards against PID reuse: after a crash, the recorded PID may belong to an
    unrelated process that a stop must never kill.
    """
    pid = read_pid(pidfile)
    if pid is None or not is_alive(pid):
        return None
    return pid if marker in cmdline(pid) else None


def leftovers(pgid: int, marker: str) -> list[int]:
    """Live processes still in a dead daemon's session that are ours (e.g. orphaned workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        # fields after "comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z" and marker in cmdline(int(entry.name)):
            found.append(int(entry.name))
    return found


def spawn(argv: list[str], pidfile: Path, logfile: Path, *, user: str | None = None,
          env: dict[str, str] | None = None) -> int:
    """Start a daemon in its own session, output to `logfile`, and record its PID."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {}
    if user and user != "root":
        account = pwd.getpwnam(user)
        kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        if not logfile.exists():
            logfile.touch()
        os.chown(logfile, account.pw_uid, account.pw_gid)
    with open(logfile, "ab") as out:
        # stdout/stderr must not be the executor's pipe: it would wait for our daemon's EOF.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, env=env, **kwargs)
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(f"{proc.pid}\n")
    os.replace(tmp, pidfile)
    return proc.pid


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Poll until the processes are gone or time is up; return the survivors."""
    deadline = time.monotonic() + max(seconds, 0)
    while (alive := [pid for pid in pids if is_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def terminate(pids: list[int], grace: float, kill_wait: float = 5.0) -> list[int]:
    """SIGTERM all, then SIGKILL each whole session after `grace` s; return any survivors."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    stubborn = wait_gone(pids, grace)
    for pid in pids:
        _kill_group(pid)  # also children that outlived their parent
    for pid in stubborn:
        _signal(pid, signal.SIGKILL)
    return wait_gone(stubborn, kill_wait)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _kill_group(pid: int) -> None:
    # spawn() made the daemon a session (and process group) leader: pgid == pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def last_lines(path: Path, count: int = 3) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-count:] if line.strip())
