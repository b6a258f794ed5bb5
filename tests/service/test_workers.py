"""Workers and the API failing under load: no fractal is lost, each is stored once."""

from __future__ import annotations

import json
import signal

from fractal_service.client import FractalClient
from tests.support.processes import wait_until

SMALL = {"width": 64, "height": 64, "iterations": 64}
# Inside the main cardioid: no point escapes, so every one of the 2e9 iterations is paid for
# (several seconds), and a worker is surely mid-render when it is killed.
SLOW = {"width": 1024, "height": 1024, "iterations": 1900, "xa": -0.3, "xb": -0.2,
        "ya": -0.05, "yb": 0.05}


def states(client: FractalClient, uuids: list[str]) -> dict[str, str]:
    # One listing, not one request per fractal: polling must not crowd out the workers.
    listed = {f["uuid"]: f["state"] for f in client.iterate()}
    return {u: listed.get(u, "missing") for u in uuids}


def test_workers_render_every_job(spawn, backend) -> None:
    api = spawn.api()
    client = FractalClient(api.url)
    spawn.worker(api.url, "w1")
    spawn.worker(api.url, "w2")
    rounds = 2 if backend.name == "swift" else 5  # seconds per job on the lab's Swift
    uuids = [client.create({**SMALL, "kind": k})["uuid"]
             for k in ("mandelbrot", "julia") * rounds]
    wait_until(lambda: set(states(client, uuids).values()) == {"done"}, 60, "all done", 0.2)
    records = [client.show(u) for u in uuids]
    assert {r["generated_by"] for r in records} <= {"w1", "w2"}
    for r in records:
        png = client.image(r["uuid"])
        assert png.startswith(b"\x89PNG") and len(png) == r["size"]


def slow_job_running(spawn, worker_name: str, lease: float):
    """An API and one worker that is now rendering a slow job."""
    api = spawn.api()
    client = FractalClient(api.url)
    worker = spawn.worker(api.url, worker_name, lease=lease)
    uuid = client.create(SLOW)["uuid"]
    wait_until(lambda: client.show(uuid)["state"] == "running", 30, "the job to start")
    return api, client, worker, uuid


def test_a_worker_killed_mid_job_is_replaced(spawn) -> None:
    api, client, doomed, uuid = slow_job_running(spawn, "doomed", lease=2)
    # The lease keeper must hold the lease across several lease lengths while rendering.
    # The store may show the job running a moment before the worker has its claim's answer.
    wait_until(lambda: doomed.heartbeat.exists() and doomed.heartbeat.read_text()
               and json.loads(doomed.heartbeat.read_text())["state"] == "working",
               10, "a heartbeat saying working")
    doomed.kill()
    spawn.worker(api.url, "heir", lease=2)
    wait_until(lambda: client.show(uuid)["state"] == "done", 120, "the heir to finish")
    record = client.show(uuid)
    assert record["generated_by"] == "heir"
    assert record["attempts"] == 2


def test_a_stopped_worker_hands_its_job_back_and_exits_cleanly(spawn) -> None:
    _, client, worker, uuid = slow_job_running(spawn, "leaving", lease=60)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(10) == 0
    # released, not left to a 60 s lease
    assert client.show(uuid)["state"] == "pending"
    assert json.loads(worker.heartbeat.read_text())["state"] == "stopped"


def test_nothing_is_lost_when_the_api_dies_mid_run(spawn, backend, tmp_path) -> None:
    api = spawn.api(tmp_path / "data")
    client = FractalClient(api.url)
    spawn.worker(api.url, "w1", lease=3)
    spawn.worker(api.url, "w2", lease=3)
    # Enough that most are still queued or rendering at the kill; the lab's Swift takes seconds
    # per write, so fewer there suffice.
    count = 12 if backend.name == "swift" else 30
    uuids = [client.create({**SMALL, "iterations": 200})["uuid"] for _ in range(count)]
    wait_until(lambda: "done" in states(client, uuids).values(), 30, "the first result")
    api.kill()  # SIGKILL: no graceful shutdown
    # The workers keep retrying with backoff; a new API on the same data and port takes over.
    api = spawn.api(tmp_path / "data", port=api.port)
    wait_until(lambda: set(states(client, uuids).values()) == {"done"}, 90, "all done", 0.2)
    listed = [f["uuid"] for f in client.iterate()]
    assert sorted(listed) == sorted(uuids)  # none lost, none duplicated
    assert all(client.show(u)["checksum"] for u in uuids)
