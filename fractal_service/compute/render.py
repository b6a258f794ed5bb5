"""Parameters in, PNG bytes out: the whole of a worker's compute."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fractal_service.compute.kernel import Progress, iter_chunks
from fractal_service.compute.palette import colourize
from fractal_service.params import FractalParams


def render_rgb(params: FractalParams, progress: Progress | None = None) -> np.ndarray:
    # Only the 8-bit image is ever whole in memory; counts exist one chunk at a time.
    rgb = np.empty((params.height, params.width, 3), dtype=np.uint8)
    for top, counts in iter_chunks(params, progress):
        rgb[top:top + counts.shape[0]] = colourize(counts)
    return rgb


def render_png(params: FractalParams, progress: Progress | None = None) -> bytes:
    """Same parameters, same bytes: a recomputed job uploads an identical image."""
    buffer = io.BytesIO()
    # zlib level 4: half the encode time of the default 6 for ~12 % more bytes (512×512 view)
    Image.fromarray(render_rgb(params, progress), "RGB").save(buffer, "PNG", compress_level=4)
    return buffer.getvalue()
