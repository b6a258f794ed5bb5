"""The wheel holds the product only: the service, the agents and the `fractal-ha` command, not
the lab (cluster/), the benchmarks or the tests, and not the lab's dependencies (~6 s)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = {"fractal_service", "resource_agents", "fractal_ha"}


def build_wheel(tmp: Path) -> Path:
    # From a copy of the tree's files: an in-tree build reuses build/, where files of an
    # earlier build (the lab, when it was packaged) would end up in this wheel too.
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    src = tmp / "src"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # (a file deleted but not yet committed is listed too)
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp / "wheel"), str(src)], check=True, timeout=300)
    return next((tmp / "wheel").glob("fractal_ha-*.whl"))


def test_the_wheel_holds_the_product_only(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == PRODUCT
    # What the product needs at run time is there: the web page, the agents, the parser.
    for needed in ("fractal_service/api/static/index.html", "resource_agents/agents/api.py",
                   "resource_agents/metrics/crm_mon.py", "fractal_service/lease.py"):
        assert needed in names
    # PyYAML is the lab's (clouds.yaml): only behind the `lab` extra.
    requires = [line for line in metadata.decode().splitlines()
                if line.lower().startswith("requires-dist: pyyaml")]
    assert requires and all('extra == "lab"' in line for line in requires)


def test_lab_commands_outside_a_checkout_say_why(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # Installed from the wheel, `cluster` is missing: a one-line reason, not a traceback.
    from fractal_ha import cli

    monkeypatch.setitem(cli.COMMANDS, "lab", ("cluster_absent_here.cli", "main", "the lab"))
    assert cli.main(["lab", "up"]) == 2
    assert "runs from a checkout" in capsys.readouterr().err
