"""The NumPy kernels: right answers, same as the plain-Python reference, bounded memory."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from fractal_service.compute import kernel, reference
from fractal_service.compute.kernel import INTERIOR, escape_time
from fractal_service.compute.render import render_png
from fractal_service.params import FractalParams


def single_point(x: float, y: float, **kw) -> FractalParams:
    eps = 1e-9  # a 1×1 image whose only pixel centre is (x, y)
    return FractalParams(width=1, height=1, xa=x - eps, xb=x + eps, ya=y - eps, yb=y + eps, **kw)


@pytest.mark.parametrize(("x", "y", "inside"), [(0.0, 0.0, True), (-1.0, 0.0, True),
                                                 (0.3, 0.0, False), (1.0, 1.0, False)])
def test_known_mandelbrot_points(x: float, y: float, inside: bool) -> None:
    value = escape_time(single_point(x, y, iterations=500))[0, 0]
    assert bool(value == INTERIOR) is inside


def test_julia_depends_on_its_constant() -> None:
    base = {"kind": "julia", "width": 48, "height": 32, "iterations": 80,
            "xa": -1.6, "xb": 1.6, "ya": -1.2, "yb": 1.2}
    a = escape_time(FractalParams(**base, c_re=-0.8, c_im=0.156))
    b = escape_time(FractalParams(**base, c_re=0.285, c_im=0.01))
    assert not np.allclose(a, b)


B = kernel.BLOCK  # escapes are checked once per block: test around its edges


@pytest.mark.parametrize("iterations", [1, 2, B - 1, B, B + 1, 2 * B + 1, 120])
@pytest.mark.parametrize("kind", ["mandelbrot", "julia"])
def test_numpy_kernel_matches_the_per_pixel_reference(kind: str, iterations: int) -> None:
    extra = {"c_re": -0.7, "c_im": 0.27} if kind == "julia" else {}
    params = FractalParams(kind=kind, width=37, height=23, iterations=iterations, **extra)
    fast = escape_time(params)
    slow = np.array(reference.escape_time(params))
    assert np.array_equal(fast == INTERIOR, slow == INTERIOR)
    assert np.allclose(fast, slow, atol=1e-6)


@pytest.mark.parametrize("params", [
    # |c| far beyond the bailout: z0 ≈ 316 is out, yet z1 = z0² + c falls back near 0
    FractalParams(kind="julia", width=21, height=13, iterations=40, xa=316.0, xb=316.5,
                  ya=-0.25, yb=0.25, c_re=-1e5, c_im=0.0),
    FractalParams(width=9, height=7, iterations=40, xa=999.0, xb=1001.0, ya=-1.0, yb=1.0),
], ids=["julia-huge-c", "mandelbrot-far-out"])
def test_far_out_windows_match_the_reference(params: FractalParams) -> None:
    fast = escape_time(params)
    slow = np.array(reference.escape_time(params))
    assert np.array_equal(fast == INTERIOR, slow == INTERIOR)
    assert np.allclose(fast, slow, atol=1e-6)


def test_smooth_counts_are_continuous_not_banded() -> None:
    counts = escape_time(FractalParams(width=200, height=150, iterations=100))
    outside = counts[counts != INTERIOR]
    assert np.mean(outside != np.round(outside)) > 0.99


def test_chunking_does_not_change_the_result() -> None:
    params = FractalParams(width=64, height=50, iterations=60)
    whole = escape_time(params, max_points=10**9)
    chunked = escape_time(params, max_points=64 * 3)  # 3 rows a chunk, last one partial
    assert np.array_equal(whole, chunked)


def test_progress_reports_every_chunk_up_to_the_last_row() -> None:
    calls: list[tuple[int, int]] = []
    list(kernel.iter_chunks(FractalParams(width=64, height=50, iterations=60),
                            lambda done, total: calls.append((done, total)), max_points=64 * 8))
    done = [d for d, _ in calls]
    assert {total for _, total in calls} == {50}
    assert done == sorted(done)  # never goes backwards: a heartbeat, not noise
    assert set(done) >= {8, 16, 24, 32, 40, 48}  # once per 8-row chunk...
    assert calls[-1] == (50, 50)  # ...ending with the partial last chunk


def test_png_is_the_requested_size_and_deterministic() -> None:
    params = FractalParams(kind="julia", width=120, height=80, iterations=90, c_re=-0.4,
                           c_im=0.6)
    first, second = render_png(params), render_png(params)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.size, image.mode) == ("PNG", (120, 80), "RGB")
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 50  # not a flat picture


def test_memory_stays_bounded_for_a_large_image() -> None:
    params = FractalParams(width=2048, height=2048, iterations=8, xa=-2, xb=2, ya=-2, yb=2)
    tracemalloc.start()
    try:
        png = render_png(params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_complex = 2048 * 2048 * 16  # one complex128 array for the whole image: 64 MiB
    rgb = 2048 * 2048 * 3
    assert png.startswith(b"\x89PNG")
    assert peak < rgb + full_complex / 4, f"peak {peak / 2**20:.0f} MiB"
