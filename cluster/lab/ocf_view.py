"""Run a command where extra OCF agents are visible under /usr/lib/ocf/resource.d, for it only.

The agents are laid over the host's by cluster/lab/ocf-view.sh in a private mount namespace,
so a test never writes to the host's OCF root (shared with the operator and any other run).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SCRIPT = Path(__file__).with_name("ocf-view.sh")


def command(providers: Path, argv: Sequence[str]) -> list[str]:
    """`argv` wrapped to run in a new private mount namespace that sees `providers`
    (a directory of provider directories, e.g. providers/fractal/api)."""
    return ["unshare", "--mount", "--propagation", "private", "bash", str(SCRIPT),
            str(providers), *argv]
