"""fractal-api on SQLite with store faults a test switches on by files in the data directory
(test-only: the product has no fault hook).

- `store-down`: every store call fails at once (an outage: a restart cures nothing);
- `store-wedge`: claims block for ever, past any deadline, while the store's probe answers
  (a wedge that only a restart cures: a lock or a call no timeout reaches);
- `store-slow`: every call but the probe takes SLOW_CALL seconds, or ends with the request's
  deadline as a bounded cloud call does (a stalled Object Storage).

Run as `python -m tests.support.faulty_api ARGS` (fractal-api's own arguments), or through a
script that the agent's `program` parameter names (see `write_program`).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from pathlib import Path

from fractal_service.store import StoreError
from fractal_service.store.sqlite import SqliteStore

CALLS = ("add", "add_once", "get", "list", "delete", "image", "claim", "heartbeat", "release",
         "complete", "fail", "count_by_state", "probe")
ROOT = Path(__file__).resolve().parents[2]
SLOW_CALL = 30.0


def _stall() -> None:
    try:
        from fractal_service.store import deadline
    except ImportError:  # a server without request deadlines
        time.sleep(SLOW_CALL)
        return
    time.sleep(deadline.left(SLOW_CALL))
    deadline.left(SLOW_CALL)  # past it: DeadlineExceeded, as from a timed-out Swift call


def _faulty(name: str, call):
    @functools.wraps(call)
    def wrapper(self: SqliteStore, *args, **kwargs):
        if (self.path.parent / "store-down").exists():
            raise StoreError("test fault: store down")
        if name == "claim" and (self.path.parent / "store-wedge").exists():
            threading.Event().wait()  # for ever: no deadline reaches here
        if name != "probe" and (self.path.parent / "store-slow").exists():
            _stall()
        return call(self, *args, **kwargs)

    return wrapper


def install() -> None:
    for name in CALLS:
        if hasattr(SqliteStore, name):  # (add_once: not in a server without idempotency)
            setattr(SqliteStore, name, _faulty(name, getattr(SqliteStore, name)))


def write_program(path: Path, request_deadline: float) -> Path:
    """An executable `fractal-api` with the faults installed, for the agent's `program`."""
    path.write_text(f"#!{sys.executable}\n"
                    "import os, sys\n"
                    f"sys.path.insert(0, {str(ROOT)!r})\n"
                    f"os.environ['FRACTAL_REQUEST_DEADLINE'] = '{request_deadline}'\n"
                    "os.environ['FRACTAL_AUTH'] = 'none'\n"
                    "from tests.support.faulty_api import main\n"
                    "sys.exit(main())\n")
    path.chmod(0o755)
    return path


def main(argv: list[str] | None = None) -> int:
    install()
    from fractal_service.api.server import main as serve

    return serve(argv)


if __name__ == "__main__":
    os.environ.setdefault("FRACTAL_REQUEST_DEADLINE", "1")
    sys.exit(main())
