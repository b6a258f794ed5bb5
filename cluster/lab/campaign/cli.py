"""`fractal-ha lab campaign --faults N --seed S [--report PATH]`: the random fault campaign on
the running lab (`fractal-ha lab up` first); exit 0 when every check held."""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cluster.lab.lab import Lab


def add_parser(sub) -> None:
    p = sub.add_parser("campaign", help="a seeded random sequence of faults under load, "
                                        "watched by independent checkers, with a report")
    p.add_argument("--faults", type=int, default=10, help="how many faults (default 10)")
    p.add_argument("--seed", type=int, help="the random sequence's seed (default: a fresh one, "
                                            "printed first)")
    p.add_argument("--report", type=Path, help="where to write the Markdown report (default: "
                                               "campaign-SEED.md in the lab's directory)")
    p.add_argument("--only", help="draw from these fault kinds alone (comma-separated)")
    p.add_argument("--append", action="store_true",
                   help="append the report to PATH (e.g. benchmarks/results/campaign.md) as "
                        "a section of its own, instead of replacing the file")


def cmd_campaign(lab: Lab, args: argparse.Namespace) -> int:
    # Imported here: the lab CLI also runs as the compute service's power hook (fencing), which
    # must not pay for the campaign's imports.
    from cluster.lab.campaign.report import markdown
    from cluster.lab.campaign.run import campaign

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    print(f"seed {seed}", flush=True)
    if not any(n.running for n in lab.nodes):
        print("fractal-ha lab: the lab is down (fractal-ha lab up)", file=sys.stderr)
        return 1
    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    only = args.only.split(",") if args.only else None
    outcome = campaign(lab, args.faults, seed, say, lab.dir / f"campaign-{seed}", only)
    command = shlex.join(["fractal-ha", "lab", "campaign", "--faults", str(args.faults),
                          "--seed", str(seed)])
    report = args.report or lab.dir / f"campaign-{seed}.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(outcome, command)
    if args.append and report.exists():
        text = report.read_text().rstrip("\n") + "\n\n" + as_section(text)
    report.write_text(text)
    say(f"{'passed' if outcome.passed else 'FAILED'}: report in {report}")
    return 0 if outcome.passed else 1


def as_section(report: str) -> str:
    """A run's report one heading level down: a section under another file's title."""
    return "\n".join("#" + line if line.startswith("#") else line
                     for line in report.splitlines()) + "\n"
