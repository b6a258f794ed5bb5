"""The action dispatcher every agent shares: parse, validate, run, map to an OCF exit code."""

from __future__ import annotations

import os
import sys
import time

from resource_agents.ocf.codes import Exit, OcfError
from resource_agents.ocf.env import OcfEnv
from resource_agents.ocf.params import Parameter, parse_all

# Typing names are for checkers only: importing `typing` costs every monitor run ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping
    from typing import Any, ClassVar

    from resource_agents.ocf.trace import Tracer


class Action:
    __slots__ = ("depth", "interval", "name", "timeout")

    def __init__(self, name: str, timeout: float, interval: float = 0, depth: int = 0) -> None:
        self.name = name
        self.timeout = timeout  # seconds: the default Pacemaker shows operators
        self.interval = interval
        self.depth = depth


# The actions every agent serves besides its lifecycle, with their advertised timeouts.
SERVICE_ACTIONS = (
    Action("status", timeout=10),
    Action("validate-all", timeout=10),
    Action("reload-agent", timeout=10),
    Action("meta-data", timeout=5),
)

# Actions that may run on a node where the configuration is wrong or incomplete: a stop that
# failed because of a parameter would get the node fenced, and a probe must say "not running".
LENIENT = {"stop", "monitor", "status"}

# Called after every action with (agent, action name, exit code, exit reason): how a package of
# agents adds its own bookkeeping (the Fractal agents' records for their exporter) while this
# toolkit knows nothing of it. A hook must be cheap: it runs on every monitor.
_after_action: list[Callable[[Agent, str, int, str], None]] = []


def after_action(hook: Callable[[Agent, str, int, str], None]) -> None:
    """Register `hook` to run after every action of every Agent (once, however often asked)."""
    if hook not in _after_action:
        _after_action.append(hook)


class Agent:
    name: ClassVar[str]
    version: ClassVar[str] = "1.0"
    shortdesc: ClassVar[str]
    longdesc: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]]
    actions: ClassVar[tuple[Action, ...]]

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.ocf = OcfEnv.from_environ(self.environ)
        self.params: dict[str, Any] = {}
        self.started = time.monotonic()
        self._log: logging.Logger | None = None
        # Facts an action reports beyond its exit code, for the after-action hooks:
        # name -> ("g" gauge | "a" counter increment | "o" observation, value).
        self.facts: dict[str, tuple[str, float]] = {}

    @property
    def log(self) -> logging.Logger:
        # Built on first use: a healthy monitor logs nothing and should not pay for `logging`.
        if self._log is None:
            from resource_agents.ocf import log as ocf_log

            self._log = ocf_log.setup(self.name, self.ocf.instance, self.environ)
        return self._log

    # -- to implement ----------------------------------------------------------------------
    def validate(self) -> None:
        """Semantic checks beyond each parameter's own; raise OcfError."""

    def start(self) -> Exit:
        raise OcfError(Exit.ERR_UNIMPLEMENTED, "start is not implemented")

    def stop(self) -> Exit:
        raise OcfError(Exit.ERR_UNIMPLEMENTED, "stop is not implemented")

    def monitor(self) -> Exit:
        raise OcfError(Exit.ERR_UNIMPLEMENTED, "monitor is not implemented")

    def more_actions(self) -> dict[str, Callable[[], Exit]]:
        """Actions beyond the lifecycle that an agent serves (e.g. migrate_to), by name."""
        return {}

    def reload_agent(self) -> Exit:
        # Reloadable parameters are read afresh by every action; nothing to signal.
        return Exit.SUCCESS

    # -- shared ----------------------------------------------------------------------------
    def remaining(self, margin: float = 1.0) -> float:
        """Seconds left of this op's timeout, keeping `margin` to report before being killed."""
        return self.ocf.timeout - (time.monotonic() - self.started) - margin

    def usage(self) -> str:
        names = "|".join(a for a in dict.fromkeys(a.name for a in self.actions))
        return f"usage: {self.name} {{{names}}}"

    def run(self, argv: list[str]) -> int:
        if len(argv) < 2:
            print(self.usage(), file=sys.stderr)
            return Exit.ERR_ARGS
        action = argv[1]
        reason = ""
        tracer = self._trace(action)
        try:
            code = int(self._dispatch(action))
        except OcfError as exc:
            self._exit_reason(exc.reason)
            code, reason = int(exc.code), exc.reason
        except Exception as exc:  # never a traceback to the cluster: a code and a reason
            self.log.debug("unexpected error in %s", action, exc_info=True)
            reason = f"{action} failed: {type(exc).__name__}: {exc}"
            self._exit_reason(reason)
            code = int(Exit.ERR_GENERIC)
        if tracer is not None:
            tracer.end(code, reason)
        for hook in _after_action:
            try:
                hook(self, action, code, reason)
            except Exception:  # bookkeeping is not worth a wrong exit code for the cluster
                self.log.debug("after-action hook %r failed", hook, exc_info=True)
        return code

    def _trace(self, action: str) -> Tracer | None:
        """`crm resource trace`: this action's trace file, when asked for (ocf/trace.py)."""
        if "OCF_TRACE_RA" not in self.environ and "OCF_RESKEY_trace_ra" not in self.environ:
            return None  # the common case, without even importing the module
        from resource_agents.ocf import trace

        if not trace.enabled(self.environ) or action in ("meta-data", "usage", "help"):
            return None
        hidden = [p.name for p in self.parameters if p.secret]
        try:
            tracer = trace.Tracer.open(self.name, action, self.environ, hidden)
        except OSError as exc:  # an unwritable trace directory must not fail the action
            self.log.warning("cannot write a trace: %s", exc)
            return None
        if tracer is not None:
            tracer.begin(self.name, self.version, action, self.environ, hidden)
        return tracer

    def _exit_reason(self, reason: str) -> None:
        from resource_agents.ocf import log as ocf_log

        ocf_log.exit_reason(self.log, reason, self.environ)

    def _dispatch(self, action: str) -> Exit:
        if action == "meta-data":
            from resource_agents.ocf.metadata import build  # lxml: only here

            sys.stdout.buffer.write(build(self))
            return Exit.SUCCESS
        if action in ("usage", "help"):
            print(self.usage())
            return Exit.SUCCESS
        handlers = {"start": self.start, "stop": self.stop, "monitor": self.monitor,
                    "status": self.monitor, "validate-all": lambda: Exit.SUCCESS,
                    "reload-agent": self.reload_agent, **self.more_actions()}
        if action not in handlers:
            print(self.usage(), file=sys.stderr)
            return Exit.ERR_UNIMPLEMENTED
        self.params = self._parse(lenient=action in LENIENT)
        if action not in LENIENT:
            self.validate()
        return handlers[action]()

    def _parse(self, lenient: bool) -> dict[str, Any]:
        if not lenient:
            return parse_all(self.parameters, self.environ)
        values = {}
        for p in self.parameters:
            try:
                values[p.name] = p.parse(self.environ.get(f"OCF_RESKEY_{p.name}"))
            except OcfError as exc:
                self.log.warning("%s; using the default", exc.reason)
                values[p.name] = p.default
        return values


def main(agent_class: type[Agent], argv: list[str] | None = None) -> int:
    return agent_class().run(sys.argv if argv is None else argv)
