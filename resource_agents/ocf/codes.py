"""OCF exit codes (OCF resource agent API 1.1, with Pacemaker's promoted-role codes)."""

from __future__ import annotations


class Exit:
    """The codes as plain ints: an IntEnum would import `enum` (~3 ms) into every monitor."""

    SUCCESS = 0
    ERR_GENERIC = 1  # soft error: Pacemaker recovers here (restart)
    ERR_ARGS = 2  # wrong arguments / unknown action
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4  # hard error: Pacemaker moves the resource
    ERR_INSTALLED = 5  # hard error: something is missing on this node
    ERR_CONFIGURED = 6  # fatal: bad configuration, stop everywhere and wait for the admin
    NOT_RUNNING = 7  # cleanly stopped: not an error for a probe or a stopped resource
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


class OcfError(Exception):
    """Leave the action with `code`, telling the cluster why in one line."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        # Pacemaker shows only the first line; keep it one line and bounded.
        self.reason = " ".join(reason.split())[:250]
