"""The random mixed-fault campaign on the three-node lab (issue 24; issue 13's continuous load
across a fault sequence): 10 faults drawn with a fresh seed each run (printed first; set
FRACTAL_HA_CAMPAIGN_SEED to replay one), creations, reads and downloads through the floating IP
the whole time, checkers independent of the cluster's own view. The report is printed."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from cluster.lab.campaign.report import markdown
from cluster.lab.campaign.run import campaign
from cluster.lab.lab import Lab

pytestmark = pytest.mark.campaign
SEED_ENV = "FRACTAL_HA_CAMPAIGN_SEED"
FAULTS = 10


def test_random_fault_campaign(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(10**6))
    def say(line: str) -> None:  # live, past pytest's capture: a run is minutes long
        with capsys.disabled():
            print(line, flush=True)

    say(f"\ncampaign seed {seed} (replay: {SEED_ENV}={seed})")
    outcome = campaign(lab, FAULTS, seed, say, tmp_path)
    report = markdown(outcome, f"{SEED_ENV}={seed} pytest -m campaign")
    (tmp_path / "campaign.md").write_text(report)
    print(report)
    assert outcome.passed, report
