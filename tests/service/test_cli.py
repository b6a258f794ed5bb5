"""The `fractal` CLI end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import free_port


def fractal(api_url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fractal_service.cli.main", "--api", api_url,
                           *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_create_wait_list_get_delete(spawn, tmp_path: Path) -> None:
    api = spawn.api()
    spawn.worker(api.url, "cli-worker")
    created = fractal(api.url, "create", "--count", "3", "--width", "96", "--height", "64",
                      "--iterations", "50", "--wait")
    assert created.returncode == 0, created.stderr
    uuids = created.stdout.split()
    assert len(uuids) == 3
    assert "rendering [" in created.stderr  # the progress bar

    listing = fractal(api.url, "list", "--state", "done")
    assert all(u in listing.stdout for u in uuids)
    assert "96x64" in listing.stdout

    got = fractal(api.url, "get", uuids[0], "-o", str(tmp_path / "f.png"))
    assert got.returncode == 0
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")

    assert fractal(api.url, "delete", uuids[0]).returncode == 0
    missing = fractal(api.url, "show", uuids[0])
    assert missing.returncode == 1
    assert "404" in missing.stderr


def test_bad_parameters_are_reported_by_field(api) -> None:
    result = fractal(api.url, "create", "--width", "999999")
    assert result.returncode == 1
    assert "width" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_api_is_one_clear_line(tmp_path: Path) -> None:
    # Retrying for a minute (the default) is tested in test_cli_retries.py; one second here.
    result = fractal(f"http://127.0.0.1:{free_port()}", "--retry-for", "1", "list")
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach the API" in result.stderr and "refused" in result.stderr
    assert "Traceback" not in result.stderr
