"""Run every benchmark (each module in benchmarks/ with a `main()` writing its results)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

# Speeds are per core: keep BLAS/OpenMP pools from spreading one benchmark over both cores.
# Set before any benchmark imports NumPy.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

SKIP = {"report", "run_all"}


def main(names: list[str]) -> int:
    here = Path(__file__).resolve().parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP)
    for name in names or found:
        print(f"\n### {name}")
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
