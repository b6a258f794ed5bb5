"""The API against its own OpenAPI document with schemathesis (every check, authenticated):
examples, coverage, fuzzing of every operation and stateful sequences along the document's
links (create → show/image/delete, claim → heartbeat/release), answers checked for status
codes, content types, headers and schemas, auth that is ignored, 5xx.

One check is left out: positive_data_acceptance, which expects every schema-valid request to
be accepted, while the server also applies rules JSON Schema cannot say and the document
states in words (xb > xa and yb > ya, the work cap, X-Checksum = the body's sha256, a result
that decodes to the job's size)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ApiServer

EXCLUDED = "positive_data_acceptance"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("schemathesis"), auth="token")
    server.start()
    yield server
    server.stop()


def test_the_api_keeps_its_document(secured: ApiServer, tmp_path: Path) -> None:
    token = secured.token_file.read_text().strip()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run",
         f"{secured.url}/v1/openapi.json", "--checks", "all", "--exclude-checks", EXCLUDED,
         "--max-examples", "25", "--seed", "15",
         "--workers", "2", "-H", f"Authorization: Bearer {token}",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 failures" in done.stdout or "passed" in done.stdout, done.stdout[-2000:]
