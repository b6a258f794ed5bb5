"""fractal-worker's render loops: their number and lease follow the settings while running."""

from __future__ import annotations

import threading
from dataclasses import replace

from fractal_service.config import Settings, WorkerTuning
from fractal_service.worker import main as worker_main
from fractal_service.worker.pool import WorkerPool
from fractal_service.worker.runner import WorkerConfig


class FakeWorker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.jobs_done = 1
        self.stopping = threading.Event()

    def run(self) -> None:
        self.stopping.wait()

    def stop(self) -> None:
        self.stopping.set()


def test_loops_grow_shrink_and_take_a_new_lease() -> None:
    config = WorkerConfig("w", lease_seconds=30)
    made: list[FakeWorker] = []

    def make(index: int) -> FakeWorker:
        made.append(FakeWorker(config if index == 0 else replace(config, name=f"w/{index}")))
        return made[-1]

    pool = WorkerPool(make, 1)  # type: ignore[arg-type]
    runner = threading.Thread(target=pool.run)
    runner.start()
    try:
        new = Settings(lease_seconds=12, worker=WorkerTuning(concurrency=3))
        worker_main._apply(new, pool, config)
        assert pool.concurrency == 3
        assert [w.config.lease_seconds for w in made] == [12, 12, 12]
        assert [w.config.name for w in made] == ["w", "w/1", "w/2"]
        worker_main._apply(replace(new, worker=WorkerTuning(concurrency=1)), pool, config)
        assert pool.concurrency == 1 and [w.stopping.is_set() for w in made] == [
            False, True, True]
        assert pool.jobs_done == 3  # the retired loops' results still counted
    finally:
        pool.stop()
        runner.join(5)
    assert not runner.is_alive() and all(w.stopping.is_set() for w in made)


# SIGTERM as the kernel may deliver it to a multi-threaded worker: to a render thread, not the
# main one. The handler (pool.stop) runs only once the main thread executes Python code again.
SIGTERM_TO_A_RENDER_THREAD = """
import signal, sys, threading, time
sys.path.insert(0, {root!r})
from fractal_service.worker.pool import WorkerPool

class Loop:
    jobs_done = 0
    def __init__(self):
        self.stopping = threading.Event()
    def run(self):
        self.ident = threading.get_ident()
        while not self.stopping.is_set():
            time.sleep(0.01)
    def stop(self):
        self.stopping.set()

loop = Loop()
pool = WorkerPool(lambda index: loop, 1)
signal.signal(signal.SIGTERM, lambda *_: pool.stop())
def kill_later():
    while not hasattr(loop, "ident"):
        time.sleep(0.01)
    signal.pthread_kill(loop.ident, signal.SIGTERM)
threading.Thread(target=kill_later, daemon=True).start()
pool.run()
"""


def test_a_sigterm_caught_by_a_render_thread_still_stops_the_worker() -> None:
    """Found by CI: a worker sent SIGTERM rendered its job to the end and kept running
    (test_a_stopped_worker_hands_its_job_back_and_exits_cleanly): the main thread slept in an
    Event.wait() that a signal caught by another thread never interrupts."""
    import subprocess
    import sys
    from pathlib import Path

    script = SIGTERM_TO_A_RENDER_THREAD.format(root=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=10)
    assert done.returncode == 0, done.stderr
