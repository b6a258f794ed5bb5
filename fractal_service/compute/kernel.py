"""NumPy escape-time kernels for the Mandelbrot and Julia sets, with smooth iteration counts.

Vectorised over points, not looped per pixel: each iteration updates every still-active point
at once, and points that escape leave the working arrays, so the cost follows the work left.
Rows are computed in chunks to bound memory whatever the image size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from fractal_service.params import FractalParams

# A large bailout radius makes the smooth (continuous) count accurate: log log |z| is then
# nearly independent of the iteration at which the point was caught.
BAILOUT = 256.0
INTERIOR = -1.0  # points that never escaped
CHUNK_POINTS = 1 << 14  # points per chunk: 128 KiB per array, so the working set stays in cache
CALLBACK_EVERY = 32  # iterations between progress callbacks inside a chunk

Progress = Callable[[int, int], None]


def plane(params: FractalParams) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres' real parts (left to right) and imaginary parts (top to bottom)."""
    dx = (params.xb - params.xa) / params.width
    dy = (params.yb - params.ya) / params.height
    xs = params.xa + dx * (np.arange(params.width) + 0.5)
    ys = params.yb - dy * (np.arange(params.height) + 0.5)
    return xs, ys


def rows_per_chunk(width: int, max_points: int = CHUNK_POINTS) -> int:
    return max(1, max_points // width)


def iter_chunks(params: FractalParams, progress: Progress | None = None,
                max_points: int = CHUNK_POINTS) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first_row, smooth counts of shape (rows, width)) chunk by chunk."""
    xs, ys = plane(params)
    step = rows_per_chunk(params.width, max_points)
    for top in range(0, params.height, step):
        rows = ys[top:top + step]
        points = (xs[None, :] + 1j * rows[:, None]).ravel()
        counts = _escape(points, params, top, progress)
        yield top, counts.reshape(len(rows), params.width)
        if progress is not None:
            progress(min(top + step, params.height), params.height)


def escape_time(params: FractalParams, progress: Progress | None = None,
                max_points: int = CHUNK_POINTS) -> np.ndarray:
    """Smooth counts for the whole image (height x width, float64; INTERIOR inside the set)."""
    out = np.empty((params.height, params.width))
    for top, chunk in iter_chunks(params, progress, max_points):
        out[top:top + chunk.shape[0]] = chunk
    return out


def _escape(points: np.ndarray, params: FractalParams, top: int,
            progress: Progress | None) -> np.ndarray:
    # Real and imaginary parts in separate float arrays, updated in place into preallocated
    # buffers: about 1.5× faster than complex arithmetic, which allocates a temporary per op.
    out = np.full(points.shape, INTERIOR)
    x, y = points.real.copy(), points.imag.copy()
    julia = params.c
    if julia is None:  # Mandelbrot: z0 = 0, so z1 = c and the loop starts at n = 1
        cx, cy = x.copy(), y.copy()
        start = 1
    else:
        cx, cy = julia.real, julia.imag
        start = 0
    index = np.arange(points.size)
    x2, y2, mag2 = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    escaped = np.empty(x.shape, dtype=bool)
    bailout2 = BAILOUT * BAILOUT
    for n in range(start, params.iterations):
        np.multiply(x, x, out=x2)
        np.multiply(y, y, out=y2)
        np.add(x2, y2, out=mag2)
        np.greater(mag2, bailout2, out=escaped)
        if escaped.any():
            # smooth count: n + 1 - log2(log|z|), continuous across the iteration bands
            out[index[escaped]] = n + 1 - np.log2(0.5 * np.log(mag2[escaped]))
            keep = ~escaped
            index, x, y, x2, y2 = index[keep], x[keep], y[keep], x2[keep], y2[keep]
            if julia is None:
                cx, cy = cx[keep], cy[keep]
            if index.size == 0:
                break
            mag2, escaped = mag2[: index.size], escaped[: index.size]
        # z ← z² + c, with z² = (x² − y²) + 2xy·i
        np.multiply(x, y, out=y)
        y *= 2.0
        y += cy
        np.subtract(x2, y2, out=x)
        x += cx
        if progress is not None and n % CALLBACK_EVERY == 0:
            progress(top, params.height)
    return out
