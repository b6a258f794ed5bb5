"""A client's view of an address over time: one connection started every INTERVAL s.

Each attempt runs on its own (a hanging one never delays the next), sends REQUEST (nothing, or
an HTTP request), reads the first line of the answer and always closes its connection — also
when it gives up at TIMEOUT, so that a server being probed never holds abandoned connections.
It writes "STARTED ENDED ANSWER" per attempt (CLOCK_MONOTONIC, which every process on the host
shares; ANSWER is the first line with spaces as "_", or "-" for nothing) to a file: when an
address began or stopped answering, to within INTERVAL. Used by the data plane's tests and
benchmark (raw TCP) and the failover benchmark (GET /healthz).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """import asyncio, sys, time
address, port, interval, timeout, path, request = sys.argv[1:7]
request = bytes.fromhex(request)
out = open(path, "w", buffering=1)
async def call():
    reader, writer = await asyncio.open_connection(address, int(port))
    try:
        if request:
            writer.write(request)
        return (await reader.readline()).decode(errors="replace").strip()
    finally:
        writer.close()
async def attempt():
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(call(), float(timeout)) or "-"
    except (OSError, asyncio.TimeoutError):
        answer = "-"
    out.write(f"{started:.6f} {time.monotonic():.6f} {answer.replace(' ', '_')}\\n")
async def main():
    tasks = set()
    print("ready", flush=True)
    while True:
        task = asyncio.ensure_future(attempt())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(float(interval))
asyncio.run(main())
"""

Attempt = tuple[float, float, str | None]  # (started, ended, first line of the answer or None)


class Probes:
    """Probes `address`:`port` from network namespace `netns` into `log` until stopped."""

    def __init__(self, netns: str, address: str, port: int, log: Path | str, *,
                 interval: float, timeout: float, request: bytes = b"") -> None:
        self.log = Path(log)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", SCRIPT, address, str(port),
             str(interval), str(timeout), str(self.log), request.hex()],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def attempts(self, since: float = 0.0) -> list[Attempt]:
        """The attempts started at or after `since`, in start order."""
        rows = []
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and float(parts[0]) >= since:  # the last may be half written
                answer = None if parts[2] == "-" else parts[2].replace("_", " ")
                rows.append((float(parts[0]), float(parts[1]), answer))
        return sorted(rows)

    def stop(self) -> None:
        self.proc.kill()  # `ip netns exec` execs: this PID is the Python process itself
        self.proc.wait()


def http_get(path: str, host: str) -> bytes:
    return f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()


def http_ok(answer: str | None) -> bool:
    """Whether a status line says 200."""
    return answer is not None and answer.split()[1:2] == ["200"]
