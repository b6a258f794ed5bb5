"""Agent parameters: declared once, typed, checked, and described in the meta-data."""

from __future__ import annotations

from resource_agents.ocf.codes import Exit, OcfError

# Typing names are for checkers only: importing `typing` costs every monitor run ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


class Parameter:
    """One OCF_RESKEY_* parameter. A plain class, not a dataclass: importing dataclasses costs
    ~11 ms, paid by every monitor on every node."""

    __slots__ = ("check", "choices", "default", "deprecated", "longdesc", "maximum", "minimum",
                 "name", "reloadable", "required", "secret", "shortdesc", "type",
                 "unique_group")

    def __init__(
        self,
        name: str,
        shortdesc: str,
        *,
        longdesc: str = "",
        type: type = str,  # str, int, float or bool (OCF content types string/integer/boolean)
        default: Any = None,
        required: bool = False,
        unique_group: str | None = None,  # OCF 1.1: the combination must be unique
        reloadable: bool = False,  # changing it needs only reload-agent, not a restart
        deprecated: str | None = None,  # the replacement's description, when set
        minimum: float | None = None,
        maximum: float | None = None,
        choices: tuple[str, ...] = (),
        check: Callable[[Any], str | None] | None = None,  # returns an error text or None
        secret: bool = False,  # never echoed in reasons or logs
    ) -> None:
        self.name, self.shortdesc, self.longdesc, self.type = name, shortdesc, longdesc, type
        self.default, self.required, self.unique_group = default, required, unique_group
        self.reloadable, self.deprecated = reloadable, deprecated
        self.minimum, self.maximum, self.choices = minimum, maximum, choices
        self.check, self.secret = check, secret

    @property
    def ocf_type(self) -> str:
        return {int: "integer", float: "string", bool: "boolean"}.get(self.type, "string")

    def parse(self, raw: str | None) -> Any:
        if raw is None or raw == "":
            if self.required:
                raise OcfError(Exit.ERR_CONFIGURED, f"parameter {self.name} is required")
            return self.default
        value = self._convert(raw)
        if self.minimum is not None and value < self.minimum:
            self._bad(raw, f"must be >= {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            self._bad(raw, f"must be <= {self.maximum:g}")
        if self.choices and value not in self.choices:
            self._bad(raw, f"must be one of {', '.join(self.choices)}")
        if self.check is not None and (problem := self.check(value)):
            self._bad(raw, problem)
        return value

    def _convert(self, raw: str) -> Any:
        text = raw.strip()
        if self.type is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            self._bad(raw, "must be a boolean (true/false)")
        if self.type in (int, float):
            try:
                value = self.type(text)
            except ValueError:
                self._bad(raw, f"must be {'an integer' if self.type is int else 'a number'}")
            if value != value or value in (float("inf"), float("-inf")):
                self._bad(raw, "must be a finite number")
            return value
        if "\x00" in raw or "\n" in raw:
            self._bad(raw, "must be a single line")
        return raw

    def _bad(self, raw: str, problem: str) -> None:
        shown = "" if self.secret else f" {_quote(raw)}"
        raise OcfError(Exit.ERR_CONFIGURED, f"parameter {self.name}{shown} {problem}")


def parse_all(declared: tuple[Parameter, ...], environ: Mapping[str, str]) -> dict[str, Any]:
    """Typed values for every declared parameter from OCF_RESKEY_<name>."""
    return {p.name: p.parse(environ.get(f"OCF_RESKEY_{p.name}")) for p in declared}


def _quote(raw: str) -> str:
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    return repr(shown)
