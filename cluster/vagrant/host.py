"""libvirtd (and virtlogd) in a network namespace of their own, for the software-emulated path.

Everything libvirt makes for the VMs (bridges, dnsmasq, iptables rules) then lives in that
namespace: the host's root namespace is untouched, and `stop` removes it all by deleting the
namespace after killing, by PID, the processes in it. A host whose libvirtd already runs (a
laptop with KVM) does not need any of this: Vagrant talks to that libvirtd directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

NETNS = "fractal-vagrant"  # not fha-*: the lab cleans up its own prefix
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
LIBVIRTD_PIDFILE = Path("/run/libvirtd.pid")
VIRTLOGD_PIDFILE = Path("/run/virtlogd.pid")


class HostError(RuntimeError):
    pass


def _run(argv: list[str], *, check: bool = True,
         timeout: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise HostError(f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()}")
    return done


def in_netns(argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", NETNS, *argv]


def netns_exists() -> bool:
    return Path(f"/run/netns/{NETNS}").exists()


def netns_pids() -> list[int]:
    """The processes running in our namespace (none when it was left by a killed run)."""
    if not netns_exists():
        return []
    return [int(p) for p in _run(["ip", "netns", "pids", NETNS], check=False).stdout.split()]


def _pid(pidfile: Path, comm: str) -> int | None:
    """The daemon's PID from its pidfile, if that process is alive and is that daemon."""
    try:
        pid = int(pidfile.read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
            return pid
    except (OSError, ValueError):
        pass
    return None


def _in_our_netns(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{NETNS}").st_ino
    except OSError:
        return False


def configure_qemu() -> None:
    """QEMU as root: there is no udev here, so /dev/kvm stays root-only and libvirt, unable to
    use it as libvirt-qemu, re-probes QEMU on every call (`vagrant up` stalls)."""
    text = QEMU_CONF.read_text()
    new = re.sub(r'(?m)^#?\s*user\s*=.*$', 'user = "root"', text, count=1)
    new = re.sub(r'(?m)^#?\s*group\s*=.*$', 'group = "root"', new, count=1)
    if new != text:
        QEMU_CONF.write_text(new)


def start() -> bool:
    """Make sure libvirtd runs in our namespace. Returns True when this call started it (so the
    caller stops it again), False when it was already running there."""
    pid = _pid(LIBVIRTD_PIDFILE, "libvirtd")
    if pid is not None:
        if not _in_our_netns(pid):
            raise HostError(f"libvirtd (PID {pid}) already runs outside netns {NETNS}: on a host "
                            "with its own libvirtd use plain `vagrant up` (docs/vagrant.md)")
        return False
    configure_qemu()
    if not netns_exists():
        _run(["ip", "netns", "add", NETNS])
    _run(["ip", "-n", NETNS, "link", "set", "lo", "up"])
    if _pid(VIRTLOGD_PIDFILE, "virtlogd") is None:
        _run(in_netns(["virtlogd", "-d"]))
    _run(in_netns(["libvirtd", "-d"]))
    deadline = time.monotonic() + 30
    while _run(["virsh", "-q", "uri"], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise HostError("libvirtd did not answer within 30 s")
        time.sleep(0.2)
    # Debian's libvirt autostarts a "default" network on 192.168.122.0/24; the VMs use their
    # own networks from RFC 5737 ranges, so keep that one down.
    if "default" in _run(["virsh", "net-list", "--name"]).stdout.split():
        _run(["virsh", "net-destroy", "default"], check=False)
    _run(["virsh", "net-autostart", "default", "--disable"], check=False)
    return True


def stop() -> None:
    """Kill every process in our namespace (libvirtd, the networks' dnsmasq, QEMU if a VM was
    left), then virtlogd if it runs there, then delete the namespace."""
    if not netns_exists():
        return
    pids = netns_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    _run(["ip", "netns", "delete", NETNS], check=False)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
