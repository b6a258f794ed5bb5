"""NumPy escape-time kernels for the Mandelbrot and Julia sets, with smooth iteration counts.

Vectorised over points, not looped per pixel: each iteration updates every still-active point
at once, and points that escape leave the working arrays, so the cost follows the work left.
Rows are computed in chunks to bound memory whatever the image size.

Speed comes from doing as few array passes per iteration as possible: z ← z² + c is two
in-place complex ufunc calls (SIMD loops, no temporaries), and escapes are checked once per
block of iterations rather than every iteration; the few points that escaped inside a block are
replayed step by step to find the exact iteration, so the result equals the per-pixel loop's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from fractal_service.params import FractalParams

# A large bailout radius makes the smooth (continuous) count accurate: log log |z| is then
# nearly independent of the iteration at which the point was caught.
BAILOUT = 256.0
INTERIOR = -1.0  # points that never escaped
CHUNK_POINTS = 1 << 15  # points per chunk: 512 KiB per complex array, a cache-sized working set
BLOCK = 16  # iterations between escape checks (and progress callbacks inside a chunk)

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
    """Smooth counts for one chunk of points (a flat complex array)."""
    out = np.full(points.shape, INTERIOR)
    julia = params.c
    if julia is None:  # Mandelbrot: z0 = 0, so z1 = c and the loop starts at n = 1
        z, c, start = points.copy(), points.copy(), 1
        c_max = float(np.abs(points).max())
    else:
        z, c, start = points.copy(), julia, 0
        c_max = abs(julia)
    # Past |z| > R, |z² + c| >= |z|² - |c| > R while |c| <= R² - R: an escaped point stays out,
    # so its escape still shows at the end of the block. Windows with |c| beyond that (far out
    # in the plane) get checked every iteration.
    block = BLOCK if c_max <= BAILOUT * BAILOUT - BAILOUT else 1
    index = np.arange(points.size)
    square = np.empty_like(z)
    n = start
    with np.errstate(over="ignore", invalid="ignore"):  # escaped points may overflow: replayed
        while n < params.iterations and index.size:
            steps = min(block, params.iterations - n)
            z0 = z.copy()
            for _ in range(steps):
                _step(z, c, square)
            # NaN (overflowed) compares False, so `not <=` catches it as escaped
            escaped = ~(_mag2(z) <= BAILOUT * BAILOUT)
            if n == start:  # z_start itself may be out and (only when block == 1) come back
                escaped |= _mag2(z0) > BAILOUT * BAILOUT
            if escaped.any():
                c_out = c[escaped] if julia is None else c
                out[index[escaped]] = _replay(z0[escaped], c_out, n, params.iterations)
                keep = ~escaped
                index, z = index[keep], z[keep]
                square = square[: index.size]
                if julia is None:
                    c = c[keep]
            n += steps
            if progress is not None:
                progress(top, params.height)
    return out


def _step(z: np.ndarray, c: np.ndarray | complex, square: np.ndarray) -> None:
    """z ← z² + c in place. z² goes to a separate buffer: NumPy's in-place complex multiply
    rounds the odd last element differently, which would make results depend on chunking."""
    np.multiply(z, z, out=square)
    np.add(square, c, out=z)


def _mag2(z: np.ndarray) -> np.ndarray:
    return z.real * z.real + z.imag * z.imag


def _replay(z: np.ndarray, c: np.ndarray | complex, n: int, iterations: int) -> np.ndarray:
    """Re-run a block step by step from z_n for the few points that escaped in it, to find when.

    Like the per-pixel loop, z_k is checked for k < iterations only: a point first out at
    z_iterations stays INTERIOR.
    """
    out = np.full(z.shape, INTERIOR)
    pending = np.ones(z.shape, dtype=bool)
    square = np.empty_like(z)
    for k in range(n, min(n + BLOCK + 1, iterations)):
        mag2 = _mag2(z)
        caught = pending & (mag2 > BAILOUT * BAILOUT)
        # smooth count: k + 1 - log2(log|z|), continuous across the iteration bands
        out[caught] = k + 1 - np.log2(0.5 * np.log(mag2[caught]))
        pending &= ~caught
        _step(z, c, square)
    return out
