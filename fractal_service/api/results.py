"""What a result upload must prove before it is stored for good: the job's lease, and an image
that is a real PNG of the job's size.

A result is stored once and then served for a day to every cache on the way, so the upload
is checked hard: the lease token of the job's current claim (a missing one is 403; one that is
no longer current, because the lease ran out and another worker claimed the job, is 409, as
heartbeat and fail answer), a body no larger than a PNG of the job's size can be, and a PNG
that Pillow decodes fully to exactly the job's width and height.
"""

from __future__ import annotations

import io

from flask import request

from fractal_service.api.errors import ApiError
from fractal_service.params import FractalParams

TOKEN_HEADER = "X-Lease-Token"
# PNG's framing beyond the pixels: chunk headers, zlib blocks, the odd ancillary chunk.
PNG_SLACK = 64 * 1024


def lease_token() -> str:
    token = request.headers.get(TOKEN_HEADER, "").strip()
    if not token:
        raise ApiError(403, f"{TOKEN_HEADER} is required: the lease token of the job's claim",
                       TOKEN_HEADER)
    return token


def size_limit(params: FractalParams, ceiling: int) -> int:
    """The largest PNG of this size: RGBA rows of one filter byte each, stored uncompressed."""
    raw = params.height * (1 + params.width * 4)
    return min(ceiling, raw + raw // 64 + PNG_SLACK)


def check_png(png: bytes, params: FractalParams) -> None:
    from PIL import Image  # Pillow: only for uploads, not on every API start

    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            size = image.size
            if size == (params.width, params.height):
                image.load()  # every pixel decoded: truncated or corrupt data fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError(400, "body is not a decodable PNG image", "body") from None
    if size != (params.width, params.height):
        raise ApiError(400, f"image is {size[0]}x{size[1]}, the job is "
                            f"{params.width}x{params.height}", "body")
