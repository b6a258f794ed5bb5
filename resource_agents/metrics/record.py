"""What each agent action leaves for the exporter: one small text file per resource instance.

Written by the agents at the end of every action (`action_done`, which the agents' package
registers as the OCF toolkit's after-action hook), so it is on the monitor's hot path: only
`os` and `time`, no json (it imports `re`), no prometheus_client.
A write is read + parse of a few hundred bytes, then tmp + rename (atomic for the reader);
Pacemaker runs one operation per resource at a time, so one writer per file.

File: $HA_RSCTMP/fractal-metrics/<instance>.state, one fact per line:

    agent api                                    the agent (ocf:fractal:<agent>)
    resource fractal-api                         the instance, clone suffix (":N") removed
    c monitor 0 1234                             actions by action and exit code (counter)
    s monitor 11.87                              seconds spent in that action (sum)
    l monitor 0 0.0093 1795597976.12 reason...   last: exit code, seconds, epoch time, reason
    g associated 1                               agent fact: gauge
    a failovers 2                                agent fact: counter
    o association_duration_seconds 3 1.2 0.4     agent fact: observations (count sum last)
"""

from __future__ import annotations

import os
import time

DIRNAME = "fractal-metrics"
SUFFIX = ".state"

# Typing names are for checkers only: importing `typing` costs every monitor run ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from resource_agents.ocf.agent import Agent


class State:
    """One instance's record, as read back from its file."""

    __slots__ = ("agent", "counts", "facts", "last", "resource", "sums")

    def __init__(self, agent: str = "", resource: str = "") -> None:
        self.agent = agent
        self.resource = resource
        self.counts: dict[tuple[str, str], int] = {}  # (action, exit code) -> count
        self.sums: dict[str, float] = {}  # action -> seconds
        self.last: dict[str, tuple[int, float, float, str]] = {}  # action -> (rc, s, t, why)
        # name -> (kind, values): g (value,), a (total,), o (count, sum, last)
        self.facts: dict[str, tuple[str, tuple[float, ...]]] = {}


def _one_line(text: str) -> str:
    return " ".join(text.split())[:250]


def parse(text: str) -> State:
    state = State()
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        try:
            if kind == "agent":
                state.agent = rest
            elif kind == "resource":
                state.resource = rest
            elif kind == "c":
                action, code, count = rest.split(" ")
                state.counts[(action, code)] = int(count)
            elif kind == "s":
                action, seconds = rest.split(" ")
                state.sums[action] = float(seconds)
            elif kind == "l":
                action, code, seconds, when, *why = rest.split(" ")
                state.last[action] = (int(code), float(seconds), float(when), " ".join(why))
            elif kind in ("g", "a", "o"):
                name, *values = rest.split(" ")
                state.facts[name] = (kind, tuple(float(v) for v in values))
        except ValueError:
            continue  # a damaged line loses that fact, never the file
    return state


def render(state: State) -> str:
    lines = [f"agent {state.agent}", f"resource {state.resource}"]
    lines += [f"c {a} {c} {n}" for (a, c), n in state.counts.items()]
    lines += [f"s {a} {s:.6f}" for a, s in state.sums.items()]
    lines += [f"l {a} {rc} {s:.6f} {t:.3f} {why}".rstrip()
              for a, (rc, s, t, why) in state.last.items()]
    lines += [f"{kind} {name} {' '.join(repr(v) for v in values)}"
              for name, (kind, values) in state.facts.items()]
    return "\n".join(lines) + "\n"


def path_for(rsctmp: str, instance: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance)
    return os.path.join(rsctmp, DIRNAME, safe + SUFFIX)


def resource_of(instance: str) -> str:
    """'fractal-worker:1' -> 'fractal-worker': the id crm_mon uses, so metrics join."""
    head, sep, tail = instance.rpartition(":")
    return head if sep and tail.isdigit() else instance


def update(path: str, agent: str, resource: str, action: str, code: int, seconds: float,
           reason: str = "", facts: dict[str, tuple[str, float]] | None = None,
           now: float | None = None) -> None:
    try:
        with open(path) as fh:
            state = parse(fh.read())
    except OSError:
        state = State()
        os.makedirs(os.path.dirname(path), exist_ok=True)  # first record of this instance
    state.agent, state.resource = agent, resource
    key = (action, str(code))
    state.counts[key] = state.counts.get(key, 0) + 1
    state.sums[action] = state.sums.get(action, 0.0) + seconds
    state.last[action] = (code, seconds, time.time() if now is None else now, _one_line(reason))
    for name, (kind, value) in (facts or {}).items():
        old = state.facts.get(name, (kind, ()))[1]
        if kind == "g":
            state.facts[name] = ("g", (value,))
        elif kind == "a":
            state.facts[name] = ("a", ((old[0] if old else 0.0) + value,))
        elif kind == "o":
            count, total = (old[0], old[1]) if len(old) == 3 else (0.0, 0.0)
            state.facts[name] = ("o", (count + 1, total + value, value))
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(render(state))
    os.replace(tmp, path)


# The actions worth a record: the lifecycle. meta-data, validate-all and usage are asked by
# tools (crmsh, ocf-tester) and say nothing about the resource.
RECORDED = frozenset({"start", "stop", "monitor", "status", "reload-agent", "promote",
                      "demote", "migrate_to", "migrate_from", "notify"})


def action_done(agent: Agent, action: str, code: int, reason: str) -> None:
    """Run by Agent.run after every action (resource_agents/agents registers it). Never fails
    the action: metrics are not worth a wrong exit code (a full or read-only HA_RSCTMP loses
    the record, nothing else)."""
    if action not in RECORDED:
        return
    ocf = agent.ocf
    if action == "monitor" and not ocf.interval:
        action = "probe"  # Pacemaker's name for a one-shot monitor: "not running" is normal
    try:
        update(path_for(ocf.rsctmp, ocf.instance), agent.name, resource_of(ocf.instance),
               action, code, time.monotonic() - agent.started, reason, agent.facts)
    except Exception:  # see the docstring
        pass


def read_all(rsctmp: str) -> list[State]:
    """Every instance's record on this node (the exporter's side)."""
    directory = os.path.join(rsctmp, DIRNAME)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    states = []
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        try:
            with open(os.path.join(directory, name)) as fh:
                state = parse(fh.read())
        except OSError:
            continue
        if state.agent and state.resource:
            states.append(state)
    return states
