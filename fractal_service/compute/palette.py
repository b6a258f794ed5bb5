"""Smooth counts to colours: a cyclic cosine palette, interior black. Deterministic."""

from __future__ import annotations

import numpy as np

from fractal_service.compute.kernel import INTERIOR

# Per channel: colour = 0.5 + 0.5 * cos(2π (FREQ * t + PHASE)), t = sqrt(count)
PHASE = np.array([0.00, 0.15, 0.30])
FREQ = 0.12


def colourize(counts: np.ndarray) -> np.ndarray:
    """(rows, width) float counts → (rows, width, 3) uint8 RGB."""
    inside = counts == INTERIOR
    t = np.sqrt(np.maximum(counts, 0.0))[..., None]
    rgb = 0.5 + 0.5 * np.cos(2 * np.pi * (FREQ * t + PHASE))
    out = (rgb * 255.0 + 0.5).astype(np.uint8)
    out[inside] = 0
    return out
