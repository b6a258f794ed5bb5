"""Several render loops in one worker process; their number changes while it runs.

Each loop is a runner.Worker with its own claims; they share one WorkerConfig (a live change
of lease_seconds reaches them all) and the heartbeat file is written by the first loop only
(it proves that the process turns; several writers would race on one file). A loop retired
by a lowered concurrency stops as on SIGTERM: its job goes back to the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from fractal_service.worker.runner import Worker

log = logging.getLogger("fractal.worker")

MakeWorker = Callable[[int], Worker]  # loop index → its Worker


class WorkerPool:
    def __init__(self, make: MakeWorker, concurrency: int = 1) -> None:
        self.make = make
        self.target = concurrency
        self.loops: list[tuple[Worker, threading.Thread]] = []
        self.retired_jobs = 0
        self._stop_requested = False  # set by stop(): a plain flag, safe in a signal handler
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def concurrency(self) -> int:
        with self._lock:
            return len(self.loops)

    @property
    def jobs_done(self) -> int:
        with self._lock:
            return self.retired_jobs + sum(w.jobs_done for w, _ in self.loops)

    def resize(self, concurrency: int) -> None:
        with self._lock:
            self.target = concurrency
            if self._stopping.is_set():
                return
            while len(self.loops) < concurrency:
                worker = self.make(len(self.loops))
                thread = threading.Thread(target=worker.run, daemon=True,
                                          name=f"render-{len(self.loops)}")
                self.loops.append((worker, thread))
                thread.start()
            while len(self.loops) > concurrency:
                worker, _thread = self.loops.pop()
                worker.stop()
                self.retired_jobs += worker.jobs_done
        log.info("render loops: %d", concurrency)

    def run(self) -> None:
        """Until stop(): the loops run in threads; this one waits."""
        self.resize(self.target)
        # Polled rather than an Event.wait(): stop() runs in the SIGTERM handler, on this very
        # thread, and must take no lock that the interrupted wait may hold.
        while not self._stop_requested:
            time.sleep(0.1)
        with self._lock:
            self._stopping.set()
            loops = list(self.loops)
        for worker, _ in loops:
            worker.stop()
        for _, thread in loops:
            thread.join()

    def stop(self) -> None:
        self._stop_requested = True
