"""Benchmark results: one JSON file and one markdown table per benchmark, in results/."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write(name: str, data: dict[str, Any], table: list[list[Any]], header: list[str],
          note: str = "") -> Path:
    RESULTS.mkdir(exist_ok=True)
    meta = {"when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version()}
    (RESULTS / f"{name}.json").write_text(json.dumps({**meta, **data}, indent=2) + "\n")
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in table]
    text = "\n".join(lines) + "\n"
    if note:
        text += f"\n{note}\n"
    text += f"\n_{meta['when']}, Python {meta['python']}_\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    print(text)
    return path
