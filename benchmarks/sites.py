"""The two-site lab (cluster/geo/sites.py: the Fractal service at site A or site B, booth's
ticket, the name in the lab zone) in each topology, one after the other in one run: the sites
in two regions of one cloud (`regions`), in two clouds that share nothing (`clouds`). TRIALS
times each, from site A:

- site A crashed (every node): when the name answers from B (the API, by its name, from the
  world's client);
- site A cut off from B and the arbitrator: when A stops (its floating IP silent and its own
  Pacemaker no longer runs the address), when the name answers from B;
- site A's whole cloud lost (topology `clouds` only): A crashed and every API of its cloud
  answering 503: when the name answers from B;
- planned switchover (`booth revoke` at A, `grant` at B): the longest stretch without an
  answer by the name.

Every round of the watch (cluster/geo/watch.py, ~0.2 s plus the probes) asks both sites' floating
IPs and both sites' own Pacemaker: rounds in which both served must be 0. Targets (issue 16):
the name answers from B within 20 s (p50) of losing A; a switchover's gap <= 5 s.

Run: python -m benchmarks.sites [--trials N] [--topologies regions,clouds]
(root; ~2 minutes a trial, after ~4 of set-up, per topology)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks.report import write
from cluster.geo.sites import TOPOLOGIES, GeoLab
from cluster.geo.watch import SiteWatch

TRIALS = 5
ONE_CLOUD_EACH = {"site A's whole cloud lost"}  # topology `clouds` only: a cloud per site
TARGET_S = 20.0
SWITCHOVER_TARGET_S = 5.0


def _crash(geo: GeoLab) -> dict[str, float]:
    with SiteWatch(geo) as watch:
        geo.crash_site("site-a")
        named = watch.answered_by_name_from("site-b", 90)
    return {"name_at_b": named, "overlaps": len(watch.overlaps)}


def _cut(geo: GeoLab) -> dict[str, float]:
    with SiteWatch(geo) as watch:
        geo.cut("site-a")
        stopped = watch.until(lambda r: not r.serving("site-a"), 90)
        named = watch.answered_by_name_from("site-b", 90)
    return {"a_stopped": stopped, "name_at_b": named, "overlaps": len(watch.overlaps)}


def _cloud_lost(geo: GeoLab) -> dict[str, float]:
    """Topology `clouds`: site A crashed and every API of its cloud failing (503)."""
    with SiteWatch(geo) as watch, geo.cloud_lost("site-a"):
        named = watch.answered_by_name_from("site-b", 90)
    return {"name_at_b": named, "overlaps": len(watch.overlaps)}


def _switchover(geo: GeoLab) -> dict[str, float]:
    with SiteWatch(geo) as watch:
        geo.serve_from("site-b")
        named = watch.answered_by_name_from("site-b", 60)
    return {"name_at_b": named, "gap": max(watch.gaps_by_name(), default=0.0),
            "overlaps": len(watch.overlaps)}


def _stats(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"


def _run(topology: str, scenarios: dict, trials: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in scenarios}
    directory = Path(tempfile.mkdtemp(prefix="fgb-", dir="/tmp"))
    geo = GeoLab(directory, prefix="fgb", topology=topology)
    try:
        geo.up(lambda line: print(line, flush=True))
        for trial in range(trials):
            for scenario, run in scenarios.items():
                if scenario in ONE_CLOUD_EACH and topology != "clouds":
                    continue
                geo.reset("site-a")
                runs[scenario].append(run(geo))
                print(f"{topology} trial {trial + 1}: {scenario}: {runs[scenario][-1]}",
                      flush=True)
    finally:
        geo.down()
        shutil.rmtree(directory, ignore_errors=True)
    return runs


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="benchmarks.sites", description=__doc__)
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES),
                        help="comma-separated, measured in this order (%(default)s)")
    args = parser.parse_args(argv)
    topologies = args.topologies.split(",")
    if unknown := set(topologies) - set(TOPOLOGIES):
        parser.error(f"--topologies: {', '.join(sorted(unknown))}: not one of {TOPOLOGIES}")
    scenarios = {"site A crashed": _crash, "site A cut off": _cut,
                 "site A's whole cloud lost": _cloud_lost, "planned switchover": _switchover}
    trials = {topology: _run(topology, scenarios, args.trials) for topology in topologies}
    rows, lost = [], {}
    for topology, by_scenario in trials.items():
        for scenario, runs in by_scenario.items():
            if not runs:
                continue
            column = {key: [r[key] for r in runs] for key in runs[0]}
            rows.append([topology, scenario, len(runs), _stats(column.get("a_stopped", [])),
                         _stats(column.get("name_at_b", [])), _stats(column.get("gap", [])),
                         int(sum(column.get("overlaps", [])))])
        lost[topology] = statistics.median(
            [r["name_at_b"] for s in ("site A crashed", "site A cut off")
             for r in by_scenario[s]] or [float("nan")])
    note = (f"Seconds from the fault, p50 / max of {args.trials} trials per topology, the API "
            f"asked by its name from the world's client. regions: two regions of one lab "
            f"cloud; clouds: two lab clouds sharing nothing (two Keystones, users, Swifts). "
            f"Ticket: expire 10 s, acquire-after 5 s, renewal 5 s. Targets: the name answers "
            f"from B within {TARGET_S:g} s of losing A (p50 here: "
            + ", ".join(f"{t} {v:.1f} s" for t, v in lost.items())
            + f"); a switchover's gap <= {SWITCHOVER_TARGET_S:g} s; rounds with both sites "
            "serving (a floating IP answering or a site's own Pacemaker running the address) "
            "must be 0.")
    write("sites", {"trials": trials, "target_s": TARGET_S,
                    "switchover_target_s": SWITCHOVER_TARGET_S}, rows,
          ["topology", "scenario", "trials", "A stopped", "name answers from B", "gap by name",
           "rounds both serving"], note)
    return trials


if __name__ == "__main__":
    main()
