"""The three-node lab for the metrics tests, shared with tests/cluster when it is up.

tests/cluster/conftest.py boots the session's lab (`lab`). A pytest session runs tests/cluster
before tests/metrics, and its lab stays up until the session ends; importing its fixture here
would make a second FixtureDef, hence a second lab with the same namespace prefix. So: reuse the
lab that fixture booted (found through the lab.json it wrote in this session's base temp), or,
when tests/metrics runs alone, boot one the same way under a prefix of our own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.lab.lab import Lab
from tests.support.processes import wait_until


def _running_lab(base: Path) -> Lab | None:
    for record in sorted(base.glob("lab*/lab.json")):
        try:
            json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        found = Lab.open(record.parent)
        if all(n.running for n in found.nodes):
            return found
    return None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    shared = _running_lab(tmp_path_factory.getbasetemp())
    if shared is not None:
        yield shared  # tests/cluster's: it takes it down at the end of the session
        return
    # Booted as tests/cluster/conftest.py does, under our own prefix.
    own = Lab(tmp_path_factory.mktemp("lab"), prefix=f"fhm{os.getpid()}")
    try:
        own.boot()
        own.wait_formed()
        own.configure()
        wait_until(lambda: own.client("GET", "/healthz"), 120, "the API at the service address")
        yield own
    finally:
        own.down()
