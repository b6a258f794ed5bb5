"""GET /: a small self-refreshing page listing fractals with thumbnails."""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response

bp = Blueprint("web", __name__)
_PAGE = resources.files("fractal_service.api").joinpath("static/index.html").read_bytes()


@bp.get("/")
def index():
    return Response(_PAGE, mimetype="text/html")
