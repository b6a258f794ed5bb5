"""Daemons an agent owns: spawn with a pidfile, recognise, and stop without leaving any behind.

Paths are plain strings and os functions, not pathlib: this module is on the monitor's hot path
and pathlib's import alone costs several milliseconds per run.
"""

from __future__ import annotations

import os
import time

# Agents run as root, among files a service account may have planted: never follow a link in
# the last component, never block on a FIFO, never read more than a pidfile or /proc holds.
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def read_text(path: str) -> str | None:
    """A small file's text (a pidfile, a heartbeat, /proc); None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:
        return None
    try:
        return os.read(fd, 65536).decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def read_pid(pidfile: str) -> int | None:
    text = read_text(pidfile)
    try:
        pid = int(text.strip()) if text else 0
    except ValueError:
        return None
    return pid if pid > 1 else None


def _stat_fields(pid: int) -> list[str] | None:
    stat = read_text(f"/proc/{pid}/stat")
    # after "(comm)": state ppid pgrp ... (comm may contain spaces and parentheses)
    return stat.rsplit(")", 1)[-1].split() if stat else None


def is_alive(pid: int) -> bool:
    """True for a live process; a zombie counts as dead."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def works_in(pid: int, home: str) -> bool:
    """True if the process's working directory is `home`.

    spawn() starts every daemon in a directory of its own, which makes the directory its
    identity: it survives a rewritten process title (gunicorn with setproctitle) where a
    command-line marker would not, and a recycled PID will not be found working there.
    """
    try:
        return os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(home)
    except OSError:
        return False


def owned_pid(pidfile: str, home: str) -> int | None:
    """The pidfile's PID if that process is alive and ours (it works in `home`).

    After a crash the recorded PID may belong to an unrelated process that a stop must never
    kill; the check against `home` rules that out.
    """
    pid = read_pid(pidfile)
    if pid is None or not is_alive(pid):
        return None
    return pid if works_in(pid, home) else None


def leftovers(pgid: int, home: str) -> list[int]:
    """Live processes still in a dead daemon's session that are ours (e.g. orphaned workers)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields and fields[0] != "Z" and int(fields[2]) == pgid and works_in(int(name), home):
            found.append(int(name))
    return found


def working_in(home: str) -> list[int]:
    """Live processes working in `home` (spawn's identity for a daemon and its children)."""
    return [int(name) for name in os.listdir("/proc")
            if name.isdigit() and is_alive(int(name)) and works_in(int(name), home)]


def spawn(argv: list[str], pidfile: str, logfile: str, *, home: str,
          user: str | None = None, env: dict[str, str] | None = None) -> int:
    """Start a daemon in its own session, working in `home` (its identity: see works_in),
    output to `logfile`, and record its PID."""
    import subprocess  # start only: subprocess costs a monitor a few ms for nothing

    os.makedirs(os.path.dirname(pidfile), exist_ok=True)
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    kwargs: dict = {}
    # O_NOFOLLOW: the chown below must never land on a link's target.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW
    with os.fdopen(os.open(logfile, flags, 0o640), "ab") as out:
        if user and user != "root":
            import pwd

            account = pwd.getpwnam(user)
            kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
            os.fchown(out.fileno(), account.pw_uid, account.pw_gid)
        # stdout/stderr must not be the executor's pipe: it would wait for our daemon's EOF.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, env=env, cwd=home,
                                **kwargs)
    write_pid(pidfile, proc.pid)
    return proc.pid


def write_pid(pidfile: str, pid: int) -> None:
    """Atomically, and only ever a new file of ours: O_EXCL | O_NOFOLLOW on the temporary
    file (a link planted there is removed, not written through), rename over the pidfile
    (which replaces a planted link rather than following it)."""
    tmp = pidfile + ".tmp"
    remove(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    try:
        os.write(fd, f"{pid}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, pidfile)


def private_dir(path: str) -> None:
    """`path` as a directory only root writes (pidfiles live there): made if missing, and
    taken back from the service account that an older release gave it to."""
    import stat

    os.makedirs(path, mode=0o755, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path} is not a directory")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
        os.chmod(path, 0o755)


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Poll until the processes are gone or time is up; return the survivors."""
    deadline = time.monotonic() + max(seconds, 0)
    while (alive := [pid for pid in pids if is_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def terminate(pids: list[int], grace: float, kill_wait: float = 5.0) -> list[int]:
    """SIGTERM all, then SIGKILL each whole session after `grace` s; return any survivors."""
    import signal  # stop only: `signal` pulls in `enum`, which a monitor need not pay for

    for pid in pids:
        _signal(pid, signal.SIGTERM)
    stubborn = wait_gone(pids, grace)
    for pid in pids:
        # spawn() made each daemon a session (and process group) leader: pgid == pid. Killing
        # the group also takes children that outlived their parent.
        _signal(pid, signal.SIGKILL, group=True)
    for pid in stubborn:
        _signal(pid, signal.SIGKILL)
    return wait_gone(stubborn, kill_wait)


def _signal(pid: int, signum: int, group: bool = False) -> None:
    try:  # (not contextlib.suppress: its import is a cost on the monitor's path)
        (os.killpg if group else os.kill)(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def chown(path: str, user: str, *, follow: bool = True) -> None:
    os.chown(path, *owner(user), follow_symlinks=follow)


def owner(user: str) -> tuple[int, int]:
    """(uid, gid) of `user`: what a file written by root for the service belongs to."""
    import pwd

    account = pwd.getpwnam(user)
    return account.pw_uid, account.pw_gid


def service_dir(path: str, user: str) -> None:
    """A directory the service account writes (its heartbeats), inside a private_dir: a link
    planted in its place (when an older release let the account write the parent) is
    replaced, never followed."""
    import stat

    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    os.makedirs(path, mode=0o755, exist_ok=True)
    if user != "root":
        chown(path, user, follow=False)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def last_lines(path: str, count: int = 3) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-count:] if line.strip())
