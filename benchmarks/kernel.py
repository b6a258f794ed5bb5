"""Kernel throughput: the NumPy kernel vs the plain-Python per-pixel reference, same run.

Throughput is in megapixel-iterations per second, counting width × height × iterations for
a window inside the Mandelbrot set's main cardioid, where no point escapes: there the count is
exactly the work both implementations do. Single-threaded (NumPy's element-wise loops are).
Target: NumPy >= 50× the reference.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from benchmarks.report import write
from fractal_service.compute import kernel, reference
from fractal_service.compute.render import render_png
from fractal_service.params import FractalParams

INTERIOR_WINDOW = {"xa": -0.3, "xb": -0.2, "ya": -0.05, "yb": 0.05}


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> dict:
    fast_p = FractalParams(width=512, height=512, iterations=400, **INTERIOR_WINDOW)
    slow_p = FractalParams(width=48, height=48, iterations=400, **INTERIOR_WINDOW)
    fast_s = best_of(5, lambda: kernel.escape_time(fast_p))
    slow_s = best_of(3, lambda: reference.escape_time(slow_p))
    mpi = lambda p, s: p.width * p.height * p.iterations / s / 1e6  # noqa: E731
    fast, slow = mpi(fast_p, fast_s), mpi(slow_p, slow_s)
    typical = FractalParams(width=512, height=512, iterations=256)
    typical_kernel_s = best_of(5, lambda: kernel.escape_time(typical))
    typical_png_s = best_of(5, lambda: render_png(typical))
    data = {
        "counted": "width*height*iterations over a window where no point escapes",
        "numpy_mpix_iter_per_s": round(fast, 1),
        "reference_mpix_iter_per_s": round(slow, 2),
        "speedup": round(fast / slow, 1),
        "target_speedup": 50,
        "typical_512x512x256_kernel_seconds": round(typical_kernel_s, 4),
        "typical_512x512x256_png_seconds": round(typical_png_s, 4),
    }
    write("kernel", data, [
        ["NumPy kernel (512×512×400)", f"{fast:.0f}", f"{fast_s:.3f}"],
        ["plain-Python per-pixel reference (48×48×400)", f"{slow:.2f}", f"{slow_s:.3f}"],
        ["speed-up (target ≥ 50×)", f"{fast / slow:.0f}×", ""],
        ["typical job, 512×512×256 full view: kernel only", "", f"{typical_kernel_s:.3f}"],
        ["typical job, 512×512×256 full view: to PNG", "", f"{typical_png_s:.3f}"],
    ], ["", "Mpix·iter/s", "seconds"],
        note="Mpix·iter = width × height × iterations over a window inside the main cardioid, "
             "where no point escapes, so it is exactly the work done. One core, best of 5 (3).")
    return data


if __name__ == "__main__":
    main()
