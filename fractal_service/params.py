"""What a fractal is: its parameters, their defaults and limits, and their validation.

One declaration serves the API (validation, error messages naming the field), the OpenAPI
document and the workers (which receive these parameters with each job).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("mandelbrot", "julia")


class ParamError(ValueError):
    """A bad parameter; `field` names it so the API can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Caps that keep one request from exhausting the API or a worker."""

    max_width: int = 4096
    max_height: int = 4096
    max_iterations: int = 10_000
    # width * height * iterations: bounds the worst-case compute time of one job.
    max_work: int = 2_000_000_000


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: type
    default: Any
    minimum: float | None = None
    maximum_attr: str | None = None  # name of the Limits attribute bounding it
    description: str = ""


# Defaults give a classic full view of each set.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("width", int, 512, 1, "max_width", "image width in pixels"),
    FieldSpec("height", int, 512, 1, "max_height", "image height in pixels"),
    FieldSpec("iterations", int, 256, 1, "max_iterations", "escape-time iteration cap"),
    FieldSpec("xa", float, None, None, None, "left edge of the complex-plane window"),
    FieldSpec("xb", float, None, None, None, "right edge of the complex-plane window"),
    FieldSpec("ya", float, None, None, None, "bottom edge of the complex-plane window"),
    FieldSpec("yb", float, None, None, None, "top edge of the complex-plane window"),
    FieldSpec("c_re", float, None, None, None, "real part of the Julia constant"),
    FieldSpec("c_im", float, None, None, None, "imaginary part of the Julia constant"),
)

WINDOWS = {
    "mandelbrot": {"xa": -2.2, "xb": 1.0, "ya": -1.2, "yb": 1.2},
    "julia": {"xa": -1.6, "xb": 1.6, "ya": -1.2, "yb": 1.2},
}
JULIA_DEFAULT_C = {"c_re": -0.8, "c_im": 0.156}


@dataclass(frozen=True)
class FractalParams:
    kind: str = "mandelbrot"
    width: int = 512
    height: int = 512
    iterations: int = 256
    xa: float = WINDOWS["mandelbrot"]["xa"]
    xb: float = WINDOWS["mandelbrot"]["xb"]
    ya: float = WINDOWS["mandelbrot"]["ya"]
    yb: float = WINDOWS["mandelbrot"]["yb"]
    c_re: float | None = None
    c_im: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def c(self) -> complex | None:
        if self.kind != "julia":
            return None
        return complex(self.c_re or 0.0, self.c_im or 0.0)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        if self.kind != "julia":
            data.pop("c_re")
            data.pop("c_im")
        return data

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FractalParams:
        """Rebuild from a stored or served record (already validated when it was created)."""
        names = {"kind"} | {f.name for f in FIELDS}
        return cls(**{k: v for k, v in record.items() if k in names})

    @classmethod
    def from_dict(cls, data: Any, limits: Limits | None = None) -> FractalParams:
        """Validate untrusted input; raise ParamError naming the first bad field."""
        limits = limits or Limits()
        if not isinstance(data, dict):
            raise ParamError("body", "must be a JSON object")
        known = {"kind"} | {f.name for f in FIELDS}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParamError(unknown[0], "unknown field")
        kind = data.get("kind", "mandelbrot")
        if kind not in KINDS:
            raise ParamError("kind", f"must be one of {', '.join(KINDS)}")
        values: dict[str, Any] = {"kind": kind}
        defaults = {**WINDOWS[kind], **(JULIA_DEFAULT_C if kind == "julia" else {})}
        for spec in FIELDS:
            if spec.name in data and data[spec.name] is None:
                # Absent means the default; null is not a number (nor a request for one).
                raise ParamError(spec.name, "must not be null (leave it out for the default)")
            if kind != "julia" and spec.name in ("c_re", "c_im"):
                if spec.name in data:
                    raise ParamError(spec.name, "only valid for kind julia")
                continue
            raw = data.get(spec.name)
            if raw is None:
                raw = spec.default if spec.default is not None else defaults[spec.name]
            values[spec.name] = _coerce(spec, raw, limits)
        if values["xa"] >= values["xb"]:
            raise ParamError("xb", "must be greater than xa")
        if values["ya"] >= values["yb"]:
            raise ParamError("yb", "must be greater than ya")
        work = values["width"] * values["height"] * values["iterations"]
        if work > limits.max_work:
            raise ParamError(
                "iterations",
                f"width*height*iterations = {work} exceeds the cap of {limits.max_work}",
            )
        return cls(**values)


def _coerce(spec: FieldSpec, raw: Any, limits: Limits) -> int | float:
    # bool is an int subclass in Python; JSON true is never a size.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        wanted = "an integer" if spec.type is int else "a number"
        raise ParamError(spec.name, f"must be {wanted}")
    if spec.type is int:
        if isinstance(raw, float) and not raw.is_integer():
            raise ParamError(spec.name, "must be an integer")
        value: int | float = int(raw)
    else:
        value = float(raw)
        if not math.isfinite(value) or abs(value) > 1e6:
            raise ParamError(spec.name, "must be a finite number within ±1e6")
    if spec.minimum is not None and value < spec.minimum:
        raise ParamError(spec.name, f"must be >= {spec.minimum:g}")
    if spec.maximum_attr is not None:
        maximum = getattr(limits, spec.maximum_attr)
        if value > maximum:
            raise ParamError(spec.name, f"must be <= {maximum}")
    return value
