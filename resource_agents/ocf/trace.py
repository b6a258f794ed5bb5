"""Action traces as resource-agents writes them: `crm resource trace RSC OP` works on our agents.

crmsh sets the op attribute `trace_ra=1`, which reaches the agent as OCF_RESKEY_trace_ra
(ocf-shellfuncs: OCF_TRACE_RA defaults to it). The shell agents then run under `set -x` into
OCF_TRACE_FILE (an absolute path, or a file descriptor 3-9) or
$HA_VARLIB/trace_ra/TYPE/INSTANCE.ACTION.YYYY-MM-DD.HH:MM:SS; `crm resource untrace` removes
the attribute and the traces stop. A Python agent's `set -x` is a profile hook: every call into
the agent's own code with its duration (names only, never argument values), plus the events the
code reports (`event`, `cloud_call`: method, path, status, duration), the environment with
secrets masked, the exit code and reason.

Secrets: parameters declared `secret`, any variable whose name says pass/secret/token/key, and
every value handed to `secret()` (a token the agent loads) are replaced by *** in every line.
Costs nothing when tracing is off: one dictionary look-up per action.
"""

from __future__ import annotations

import os
import sys
import time

# ocf_is_true in ocf-shellfuncs
_TRUE = ("yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON")
_SECRET_NAMES = ("PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
_MASK = "***"
_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = os.path.dirname(_HERE)  # resource_agents/: the code whose calls are traced
# The toolkit's own plumbing (parsing, dispatch, logging) would drown the agent's steps.
_QUIET = tuple(os.path.join(_HERE, f"{name}.py")
               for name in ("trace", "log", "params", "agent", "env", "codes", "metadata"))

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import TextIO

_current: Tracer | None = None


def enabled(environ: Mapping[str, str]) -> bool:
    return environ.get("OCF_TRACE_RA", environ.get("OCF_RESKEY_trace_ra", "")) in _TRUE


def event(text: str) -> None:
    """A step worth seeing in a trace; nothing when this action is not traced."""
    if _current is not None:
        _current.write(text)


def cloud_call(method: str, path: str, status: int | str, seconds: float) -> None:
    if _current is not None:
        _current.write(f"cloud {method} {path} -> {status} in {seconds * 1000:.1f} ms")


def secret(value: str | None) -> None:
    """Never show this value in the trace (a token, a password read from a file)."""
    if _current is not None and value:
        _current.secrets.add(value)


def destination(agent: str, action: str, environ: Mapping[str, str]) -> str | int | None:
    """Where the trace goes: a path, a file descriptor, or None for stderr (a terminal)."""
    given = environ.get("OCF_TRACE_FILE", "")
    if given in ("3", "4", "5", "6", "7", "8", "9"):
        return int(given)
    if given.startswith("/") and "/" in given[1:]:
        return given
    if not given and sys.stderr.isatty():
        return None  # run by hand: like the shell agents, trace to the terminal
    top = environ.get("OCF_RESKEY_trace_dir") or os.path.join(
        environ.get("HA_VARLIB") or "/var/lib/heartbeat", "trace_ra")
    kind = environ.get("OCF_RESOURCE_TYPE") or agent
    instance = environ.get("OCF_RESOURCE_INSTANCE") or "default"
    stamp = time.strftime("%Y-%m-%d.%H:%M:%S")
    return os.path.join(top, kind, f"{instance}.{action}.{stamp}")


class Tracer:
    def __init__(self, stream: TextIO, secrets: Iterable[str] = (), owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned  # a file this tracer opened, closed at the end
        self.secrets = {s for s in secrets if s}
        self.started = time.monotonic()
        self._calls: dict[int, float] = {}  # frame id -> when it was called

    @classmethod
    def open(cls, agent: str, action: str, environ: Mapping[str, str],
             secret_params: Iterable[str] = ()) -> Tracer | None:
        """A tracer for this action when tracing is asked for; a trace that cannot be written
        never fails the action (logged by the caller's exception handler as a warning)."""
        if not enabled(environ):
            return None
        where = destination(agent, action, environ)
        if where is None:
            stream = sys.stderr
        elif isinstance(where, int):
            stream = os.fdopen(os.dup(where), "a", buffering=1)
        else:
            os.makedirs(os.path.dirname(where), exist_ok=True)
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            stream = os.fdopen(fd, "a", buffering=1)
        masked = {environ.get(f"OCF_RESKEY_{name}", "") for name in secret_params}
        return cls(stream, masked, owned=where is not None)

    # -- writing -------------------------------------------------------------------------
    def write(self, text: str) -> None:
        for value in self.secrets:
            text = text.replace(value, _MASK)
        elapsed = time.monotonic() - self.started
        self.stream.write(f"+ {time.strftime('%H:%M:%S')} +{elapsed:7.3f}s {text}\n")

    def begin(self, agent: str, version: str, action: str, environ: Mapping[str, str],
              secret_params: Iterable[str] = ()) -> None:
        global _current
        _current = self
        self.write(f"ocf:{agent} {version} {action} (pid {os.getpid()})")
        hidden = {f"OCF_RESKEY_{name}" for name in secret_params}
        for key in sorted(environ):
            if key.startswith(("OCF_", "HA_", "PCMK_")):
                shown = _MASK if key in hidden or _secret_name(key) else environ[key]
                self.write(f"env {key}={shown}")
        sys.setprofile(self._profile)

    def end(self, code: int, reason: str) -> None:
        global _current
        sys.setprofile(None)
        self.write(f"exit {code}" + (f": {reason}" if reason else ""))
        _current = None
        if self.owned:
            self.stream.close()

    def _profile(self, frame: object, what: str, _arg: object) -> None:
        # Our own functions only (not the standard library's, not SDK internals), by name.
        code = frame.f_code  # type: ignore[attr-defined]
        path = code.co_filename
        if not path.startswith(_PACKAGE) or path in _QUIET or what not in ("call", "return"):
            return
        name = f"{os.path.relpath(path, _PACKAGE)[:-3].replace(os.sep, '.')}.{code.co_qualname}"
        if what == "call":
            self.write(f"{'  ' * len(self._calls)}call {name}")
            self._calls[id(frame)] = time.monotonic()
        elif (began := self._calls.pop(id(frame), None)) is not None:
            took = (time.monotonic() - began) * 1000
            self.write(f"{'  ' * len(self._calls)}return {name} after {took:.1f} ms")


def _secret_name(key: str) -> bool:
    upper = key.removeprefix("OCF_RESKEY_").upper()
    return any(word in upper for word in _SECRET_NAMES)
