"""The same escape-time algorithm, one pixel at a time in plain Python.

This is how the tutorial's faafo worker computed (nested loops, one complex number at a time).
Kept as the yardstick for the NumPy kernel: tests compare their output, benchmarks their speed.
"""

from __future__ import annotations

import math

from fractal_service.compute.kernel import BAILOUT, INTERIOR
from fractal_service.params import FractalParams


def escape_time(params: FractalParams) -> list[list[float]]:
    dx = (params.xb - params.xa) / params.width
    dy = (params.yb - params.ya) / params.height
    julia = params.c
    bailout2 = BAILOUT * BAILOUT
    start = 1 if julia is None else 0
    image = []
    for row in range(params.height):
        y = params.yb - dy * (row + 0.5)
        line = []
        for col in range(params.width):
            point = complex(params.xa + dx * (col + 0.5), y)
            z, c = (point, point) if julia is None else (point, julia)
            value = INTERIOR
            for n in range(start, params.iterations):
                mag2 = z.real * z.real + z.imag * z.imag
                if mag2 > bailout2:
                    value = n + 1 - math.log2(0.5 * math.log(mag2))
                    break
                z = z * z + c
            line.append(value)
        image.append(line)
    return image
