"""The campaign's report in Markdown: per fault kind the outage users saw (p50/p95/max) and the
settle time, every fault in order, the load's ledger, and the anomalies with log excerpts."""

from __future__ import annotations

import statistics
from collections import defaultdict

from cluster.lab.campaign.load import Ledger
from cluster.lab.campaign.run import FaultRecord, Outcome


def percentile(values: list[float], q: float) -> float:
    """Nearest rank (with few samples p95 is the max)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))]


def stats(values: list[float]) -> str:
    if not values:
        return "- | - | -"
    return (f"{statistics.median(values):.2f} | {percentile(values, 95):.2f} | "
            f"{max(values):.2f}")


def by_kind(records: list[FaultRecord]) -> list[str]:
    groups: dict[str, list[FaultRecord]] = defaultdict(list)
    for record in records:
        groups[record.kind].append(record)
    rows = ["| fault | n | outage p50 | p95 | max (s) | settle p50 | p95 | max (s) | failed |",
            "|---|---|---|---|---|---|---|---|---|"]
    for kind, group in sorted(groups.items()):
        outages = [r.outage_s for r in group if r.outage_s is not None]
        settles = [r.settle_s for r in group if r.settle_s is not None]
        rows.append(f"| {kind} | {len(group)} | {stats(outages)} | {stats(settles)} | "
                    f"{sum(bool(r.violations) for r in group)} |")
    return rows


def sequence(records: list[FaultRecord]) -> list[str]:
    rows = ["| # | fault | detail | served by | outage (s) | answering (s) | settle (s) | "
            "then on | failed actions healed |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        rows.append(f"| {r.number} | {r.kind} | {r.detail} | {r.serving_before} | {r.outage_s} "
                    f"| {r.recovered_s} | {r.settle_s} | {r.serving_after} | "
                    f"{len(r.failures)} |")
    return rows


def ledger(outcome: Outcome) -> list[str]:
    led = outcome.load.ledger
    nodes = sorted({node for _, node, ok in led.answers if ok and node})
    counts = ", ".join(f"{what} {ok} ok / {failed} failed"
                       for what, (ok, failed) in sorted(led.counts.items()))
    failed = ", ".join(f"{k} ×{v}" for k, v in sorted(led.failures.items()))
    seconds = max(outcome.load.stopped - outcome.load.started, 1e-9)
    latencies = ", ".join(f"{what} {p50:.2f} / {p95:.2f} s" for what in sorted(led.seconds)
                          if (p := led.latency(what)) for p50, p95 in [p])
    return [f"- submissions: {len(led.markers)} sent in {seconds:.0f} s "
            f"({len(led.markers) / seconds:.2f}/s), {len(led.accepted)} accepted "
            "(each retried with its Idempotency-Key until answered); held back "
            f"{led.held_s:.0f} s in all by {outcome.load.max_backlog} accepted fractals "
            "not done yet",
            f"- requests: {counts}",
            f"- answered in (p50 / p95): {latencies or 'nothing answered'}; at most "
            f"{led.most_in_flight} submissions awaiting their answer at once",
            f"- answering nodes seen: {', '.join(nodes) or 'none'}",
            f"- backlog after the last fault: {_drain(led)}",
            f"- checkers: node processes sampled {outcome.watch.apis.samples} times (longest gap "
            f"{outcome.watch.apis.gaps.longest:.2f} s), Neutron {len(outcome.watch.fip.samples)} "
            f"times (longest gap {outcome.watch.fip.gaps.longest:.2f} s, "
            f"{len(outcome.watch.fip.errors)} failed)",
            f"- failed requests by answer: {failed or 'none'}"]


def _drain(led: Ledger) -> str:
    if led.backlog is None:
        return "not measured (no listing)"
    done = (f"all done {led.drained_s:.0f} s after it" if led.drained_s is not None
            else "not all done within the bound")
    return f"{led.backlog} accepted fractals not done yet; {done}"


def anomalies(outcome: Outcome) -> list[str]:
    lines = []
    for r in outcome.records:
        for text, label in ((v, "VIOLATION") for v in r.violations):
            lines += [f"- #{r.number} {r.kind} ({r.detail}) — {label}: {text.splitlines()[0]}",
                      *(["", "```", *text.splitlines()[1:], "```"]
                        if len(text.splitlines()) > 1 else [])]
        lines += [f"- #{r.number} {r.kind} ({r.detail}): {n}" for n in r.notes]
        if r.failures:
            lines.append(f"- #{r.number} {r.kind}: failed actions cleaned up by the heal: "
                         + "; ".join(r.failures))
    lines += [f"- end — VIOLATION: {v}" for v in outcome.violations]
    lines += [f"- end: {n}" for n in outcome.notes]
    return lines or ["- none"]


def markdown(outcome: Outcome, command: str) -> str:
    verdict = "passed" if outcome.passed else "FAILED"
    return "\n".join([
        f"# Random fault campaign: seed {outcome.seed}, {len(outcome.records)} faults, "
        f"{verdict}", "",
        f"`{command}` — {outcome.took_s:.0f} s. Outage: the longest stretch without an answer "
        "to `GET /healthz` (every 0.1 s through the floating IP) from the fault until settled, "
        "from the last answer before failed probes (or the fault) to the next answer; "
        "answering: until `GET /v1/fractals` answered; settle: from the heal "
        "(boot, links, cloud cleared, cleanup) to a whole, quiet cluster answering.", "",
        "## Per fault kind", "", *by_kind(outcome.records), "",
        "## Sequence", "", *sequence(outcome.records), "",
        "## Load and checkers", "", *ledger(outcome), "",
        "## Anomalies", "", *anomalies(outcome), ""])
