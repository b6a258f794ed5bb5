"""Real PNGs for tests: results must decode to their job's width and height."""

from __future__ import annotations

import hashlib
import io
import os

from PIL import Image


def png(width: int, height: int, *, noise: bool = False, level: int = 6) -> bytes:
    """A PNG of that size: flat grey, or random noise (which barely compresses)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (90, 90, 90))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=level)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
