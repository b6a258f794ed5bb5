"""One campaign: a seeded random sequence of faults on a running lab, under load, watched.

Each fault: inject; wait (bounded) for the service to answer through the floating IP; heal as
an operator would (clear the cloud, restore links, boot what is off, clean up failures); wait
for the cluster to settle; check the address, Neutron and the answering node agree. At the end:
every accepted fractal done, none stored twice, the cluster clean, never two APIs at once."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cluster import operations
from cluster.lab.campaign import checkers, faults
from cluster.lab.campaign.load import NODE_HEADER, Load
from cluster.lab.campaign.watch import Watch
from cluster.lab.lab import Lab

FORM_BOUND_S = 120.0  # healed nodes rejoin and the cluster settles within this
DONE_BOUND_S = 180.0  # after the last fault, every accepted fractal is done within this
STOP_BOUND_S = 30.0  # a survivor without quorum stops the API within this
ANSWER_AFTER_HEAL_S = 120.0  # healed and settled, the service answers /v1 within this
AGREE_AGAIN_S = 5.0  # a disagreement is looked at again this much later
ADDRESS_LOG = "fractal-ip"  # what the log excerpt of a disagreement is about
FENCE_BOUND_S = 90.0  # a lost node is fenced within this (stonith-timeout 60 s, and a slow cloud)
Say = Callable[[str], None]


class CampaignError(Exception):
    """The lab cannot be brought back to a whole cluster: the campaign cannot go on."""


@dataclass
class FaultRecord:
    number: int
    kind: str
    detail: str
    serving_before: str
    outage_s: float | None = None
    recovered_s: float | None = None  # inject -> the service answers /v1 again
    settle_s: float | None = None  # heal -> the cluster whole and quiet, the service answering
    serving_after: str | None = None
    failures: list[str] = field(default_factory=list)  # failed actions cleaned up by the heal
    violations: list[str] = field(default_factory=list)  # fail the campaign
    notes: list[str] = field(default_factory=list)  # anomalies worth a look


@dataclass
class Outcome:
    seed: int
    records: list[FaultRecord]
    load: Load
    watch: Watch
    violations: list[str]  # the end checks'
    notes: list[str]
    took_s: float

    @property
    def passed(self) -> bool:
        return not self.violations and not any(r.violations for r in self.records)


def serving(lab: Lab) -> tuple[str, str]:
    """(the serving node: the address's, the DC), waiting (bounded) for the address to be
    placed. Every node runs an API (fractal-api-clone)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = lab.status()
        if state and state.quorate and len(state.serving("fractal-ip")) == 1:
            return state.serving("fractal-ip")[0], state.dc or ""
        time.sleep(0.5)
    raise CampaignError(f"the API is not placed on one node: {lab.status()}")


def answering(lab: Lab) -> str | None:
    """The node that answers /v1 through the floating IP, or None."""
    answer = lab.request("GET", "/v1/fractals?limit=1", timeout=3)
    return answer.headers.get(NODE_HEADER, "?") if answer and answer.status == 200 else None


def node_behind_address(lab: Lab) -> str | None:
    """The node whose API answers /healthz through the floating IP (no store involved: a slow
    store does not hide it); three tries."""
    for _ in range(3):
        answer = lab.request("GET", "/healthz", timeout=5)
        if answer is not None and answer.status == 200:
            return answer.headers.get(NODE_HEADER, "?")
    return None


def wait_answering(lab: Lab, bound_s: float) -> float | None:
    """Seconds until the service answers /v1 through the floating IP, None past `bound_s`."""
    began = time.monotonic()
    while time.monotonic() - began < bound_s:
        if answering(lab):
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def excerpt(lab: Lab, about: str = "") -> str:
    """What an operator would look at first: crm_mon, and the DC's last complaints; with
    `about`, every running node's last log lines that mention it too."""
    running = [n for n in lab.nodes if n.running]
    if not running:
        return "no node running"
    view = running[0].exec(["crm_mon", "-1"], check=False, timeout=20).stdout
    state = lab.status()
    dc = state.dc if state and state.dc else running[0].name
    log = lab.dir / "nodes" / dc / "var-log-pacemaker" / "pacemaker.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    loud = [ln for ln in lines if " error: " in ln or " warning: " in ln][-6:]
    shown = [*view.strip().splitlines()[:20], f"-- {dc} pacemaker.log --", *loud]
    for node in running if about else []:
        log = lab.dir / "nodes" / node.name / "var-log-pacemaker" / "pacemaker.log"
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        shown += [f"-- {node.name}: {about} --", *[ln for ln in lines if about in ln][-12:]]
    return "\n".join(shown)


def await_fenced(lab: Lab, record: FaultRecord, victims: list[str]) -> None:
    """Until the quorate partition has fenced the lost nodes: a node booted before its fencing
    ends would be powered off again by it."""
    try:
        operations.await_fenced(lab, victims, timeout=FENCE_BOUND_S)
    except TimeoutError as exc:
        record.violations.append(f"{exc}\n{excerpt(lab)}")


def heal(lab: Lab, record: FaultRecord, steps: list[Callable[[], None]],
         victims: list[str]) -> None:
    """As an operator: undo the fault, boot what is off, forget the failures, settle."""
    if victims:
        await_fenced(lab, record, victims)
    for step in steps:
        step()
    for node in lab.nodes:
        if not node.running:  # crashed, or fenced (stonith-action=off)
            lab.boot_node(node)
    try:
        lab.wait_formed(timeout=FORM_BOUND_S)
    except TimeoutError as exc:
        raise CampaignError(f"the cluster did not re-form: {exc}\n{excerpt(lab)}") from None
    state = lab.status()
    record.failures = [f"{f.get('op_key')} on {f.get('node')}: "
                       f"{f.get('exitreason') or f.get('status')}"
                       for f in (state.failures if state else [])]
    operations.clear_failures(lab, timeout=FORM_BOUND_S)


def survivor_stops(lab: Lab, record: FaultRecord, survivor: str) -> None:
    """Without quorum the lone survivor must stop the API (no-quorum-policy=stop)."""
    node = lab.node(survivor)
    deadline = time.monotonic() + STOP_BOUND_S
    while time.monotonic() < deadline:
        if not node.exec(["pgrep", "-x", "fractal-api"], check=False).stdout.strip():
            record.notes.append(f"{survivor} (no quorum) stopped the API after "
                                f"{STOP_BOUND_S - (deadline - time.monotonic()):.1f} s")
            return
        time.sleep(0.25)
    record.violations.append(f"{survivor} kept the API running {STOP_BOUND_S:.0f} s without "
                             f"quorum\n{excerpt(lab)}")


def start_clean(lab: Lab, say: Say) -> None:
    """A whole, quiet cluster answering, before the first fault: earlier failures (the lab's
    own start on a loaded host) are not the campaign's."""
    record = FaultRecord(0, "start", "", "")
    heal(lab, record, [], [])
    if record.failures:
        say("before the campaign, cleaned up: " + "; ".join(record.failures))
    if wait_answering(lab, ANSWER_AFTER_HEAL_S) is None:
        raise CampaignError(f"the service does not answer before the first fault\n"
                            f"{excerpt(lab)}")


def check_agreement(lab: Lab, watch: Watch, record: FaultRecord) -> None:
    """Settled: crm_mon's address and API, Neutron's association and the node that answers
    are one and the same node."""
    state = lab.status()
    ip = state.serving("fractal-ip") if state else []
    api = state.where("fractal-api") if state else []
    watch.fip.sample()
    neutron = watch.fip.at(time.time())
    answered = node_behind_address(lab)
    record.serving_after = ip[0] if len(ip) == 1 else None
    if not (len(ip) == 1 and ip[0] in api and neutron == ip[0] and answered == ip[0]):
        seen = f"address on {ip}, API on {api}, Neutron associates {neutron}, {answered} answered"
        # Once more a little later: a moment of a move, or a lasting disagreement.
        time.sleep(AGREE_AGAIN_S)
        state = lab.status()
        ip = state.serving("fractal-ip") if state else []
        watch.fip.sample()
        later = (f"address on {ip}, Neutron associates {watch.fip.at(time.time())}, "
                 f"{node_behind_address(lab)} answered")
        record.violations.append(f"settled, yet they disagree: {seen}; {AGREE_AGAIN_S:.0f} s "
                                 f"later: {later}\n{excerpt(lab, ADDRESS_LOG)}")


def play(lab: Lab, rng: random.Random, kind: str, number: int, watch: Watch) -> FaultRecord:
    """One fault, from injection to a settled cluster."""
    where, dc = serving(lab)
    plan = faults.KINDS[kind](faults.Scene(lab, rng, where, dc))
    record = FaultRecord(number, plan.kind, plan.detail, where)
    began = time.monotonic()
    plan.inject()
    if plan.quorum_lost_on:
        survivor_stops(lab, record, plan.quorum_lost_on)
    held = plan.hold_s - (time.monotonic() - began)
    if held > 0:
        time.sleep(held)
    healed_first = bool(plan.hold_s)  # held faults are healed before the service is asked
    if healed_first:
        heal_began = time.monotonic()
        heal(lab, record, plan.heal_steps, plan.victims)
    waited = wait_answering(lab, plan.bound_s)
    if waited is None:
        record.violations.append(f"the service did not answer /v1 within {plan.bound_s:.0f} s"
                                 f"\n{excerpt(lab)}")
    else:
        record.recovered_s = round(time.monotonic() - began, 2)
    if not healed_first:
        heal_began = time.monotonic()
        heal(lab, record, plan.heal_steps, plan.victims)
    if wait_answering(lab, ANSWER_AFTER_HEAL_S) is None:
        record.violations.append(f"the service did not answer /v1 {ANSWER_AFTER_HEAL_S:.0f} s "
                                 f"after the heal\n{excerpt(lab)}")
    record.settle_s = round(time.monotonic() - heal_began, 2)
    record.outage_s = round(watch.outage(began, time.monotonic()), 2)
    check_agreement(lab, watch, record)
    if not plan.interrupts and record.outage_s > 1.0:
        record.notes.append(f"users saw {record.outage_s:.1f} s of outage from a fault that "
                            "should not interrupt the service")
    unexpected = [f for f in record.failures
                  if not (plan.detected_by and f.startswith(plan.detected_by))]
    if not plan.interrupts and unexpected:
        record.notes.append("failed actions from a fault the cluster should ride out: "
                            + "; ".join(unexpected))
    return record


def all_done(lab: Lab, load: Load) -> tuple[list[dict], set[str]]:
    """The store's listing, and the accepted uuids not done yet (bounded wait). The ledger
    gets the backlog left at the end of the load and how long the workers took to clear it."""
    ledger = load.ledger
    deadline = time.monotonic() + DONE_BOUND_S
    while True:
        try:
            listed = checkers.list_all(lab)
        except AssertionError:
            listed = []
        state = {f["uuid"]: f["state"] for f in listed}
        pending = {u for u in ledger.accepted if state.get(u) != "done"}
        if ledger.backlog is None and listed:
            ledger.backlog = len(pending)
        if not pending:
            ledger.drained_s = round(time.monotonic() - load.stopped, 1)
        if not pending or time.monotonic() > deadline:
            return listed, pending
        time.sleep(2)


def describe(uuid: str, fractal: dict | None) -> str:
    if fractal is None:
        return f"{uuid}: not in the store's listing"
    return (f"{uuid}: {fractal.get('state')}, {fractal.get('attempts')} attempts, created "
            f"{fractal.get('created_at')}, last started {fractal.get('started_at')}, "
            f"error {fractal.get('error')!r}")


def end_checks(lab: Lab, load: Load, watch: Watch) -> tuple[list[str], list[str]]:
    """(violations, notes) of the whole run."""
    bad, notes = [], []
    ledger = load.ledger
    listed, pending = all_done(lab, load)
    if not ledger.accepted:
        bad.append("no fractal was accepted during the campaign")
    if pending:
        seen = {f["uuid"]: f for f in listed}
        bad.append(f"{len(pending)} accepted fractals not done {DONE_BOUND_S:.0f} s after the "
                   "last fault:\n" + "\n".join(describe(u, seen.get(u)) for u in sorted(pending)))
    twice = checkers.stored_twice(Counter(f.get("xa") for f in listed), ledger.markers)
    if twice:
        bad.append(f"{len(twice)} submissions stored more than once: "
                   f"{dict(list(twice.items())[:5])}")
    missing = [u for u, m in ledger.accepted.items() if m not in {f.get("xa") for f in listed}]
    if missing:
        bad.append(f"{len(missing)} accepted fractals missing from the store: {missing[:5]}")
    configuration = lab.nodes[0].exec(["crm", "configure", "show"], check=False).stdout
    bad += [f"cluster not clean: {x}" for x in checkers.leftovers(lab.status(), configuration)]
    if twice := watch.apis.problems():
        bad.append(f"the service address in two places: {twice[:5]}")
    bad += [f"split answers: {x}" for x in checkers.interleaved(
        (t, node) for t, node, ok in ledger.answers if ok and node)]
    bad += [f"image not a PNG: {u}" for u in ledger.bad_images]
    bad += [f"creation refused: {x}" for x in ledger.rejected]
    bad += [f"accepted fractal not found: {x}" for x in ledger.not_found[:5]]
    for name, gaps in (("node processes", watch.apis.gaps), ("Neutron", watch.fip.gaps)):
        if gaps.longest > 0.5:
            notes.append(f"checker of {name}: longest gap between samples "
                         f"{gaps.longest:.2f} s (aim: 0.5 s)")
    if watch.fip.errors:
        notes.append(f"Neutron association: {len(watch.fip.errors)} samples failed, the last: "
                     f"{watch.fip.errors[-1]}")
    return bad, notes


def campaign(lab: Lab, count: int, seed: int, say: Say, work: Path,
             only: list[str] | None = None) -> Outcome:
    """`count` faults drawn with `seed` (from the kinds in `only`, if given); the lab must be
    up."""
    rng = random.Random(seed)
    kinds = faults.draw(rng, count, only)
    say(f"seed {seed}: {count} faults: {', '.join(kinds)}")
    began = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    watch = Watch(lab, work / "probes.log")
    records: list[FaultRecord] = []
    try:
        load = Load(lab).start()
        try:
            start_clean(lab, say)
            for number, kind in enumerate(kinds, start=1):
                records.append(play(lab, rng, kind, number, watch))
                say(progress_line(records[-1], count))
        except CampaignError as exc:  # reported, with what was seen up to there
            say(f"campaign aborted: {exc}")
            aborted = [f"aborted after {len(records)} faults: {exc}"]
        else:
            aborted = []
        finally:
            load.stop()
        violations, notes = (aborted, []) if aborted else end_checks(lab, load, watch)
    finally:
        watch.stop()
    return Outcome(seed, records, load, watch, violations, notes,
                   round(time.monotonic() - began, 1))


def progress_line(record: FaultRecord, count: int) -> str:
    verdict = "FAIL" if record.violations else "ok"
    return (f"[{record.number}/{count}] {record.kind}: {record.detail} — outage "
            f"{record.outage_s} s, answering after {record.recovered_s} s, settled in "
            f"{record.settle_s} s, now on {record.serving_after} — {verdict}"
            + "".join(f"\n    ! {v.splitlines()[0]}" for v in record.violations)
            + "".join(f"\n    · {n}" for n in record.notes))
