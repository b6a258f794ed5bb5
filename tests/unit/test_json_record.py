"""fractal_service.json_record: what the cached logins (the store's token, the floating-IP
agent's session) are read and written with."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fractal_service import json_record

TYPES = {"token": str, "expires_at": (int, float), "verify": (bool, str)}
GOOD = {"token": "t", "expires_at": 1.5, "verify": True}


def test_a_record_round_trips_private_and_atomic(tmp_path: Path) -> None:
    path = str(tmp_path / "new" / "record.json")
    json_record.save(path, GOOD)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert json_record.load(path, TYPES, "record") == (GOOD, "")
    assert os.listdir(tmp_path / "new") == ["record.json"]  # no temporary file left


@pytest.mark.parametrize(("text", "why"), [
    ("{not json", "unreadable (JSONDecodeError)"),
    (json.dumps([GOOD]), "not a record"),
    (json.dumps({**GOOD, "extra": 1}), "not a record"),
    (json.dumps({"token": "t", "expires_at": 1}), "not a record"),
    (json.dumps({**GOOD, "expires_at": True}), "wrong types in expires_at"),  # bool: no number
    (json.dumps({**GOOD, "token": None, "verify": 3}), "wrong types in token, verify"),
])
def test_a_bad_record_is_refused_with_its_reason(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "record.json"
    path.write_text(text)
    assert json_record.load(str(path), TYPES, "record") == (None, why)


def test_no_record_is_no_reason(tmp_path: Path) -> None:
    assert json_record.load(str(tmp_path / "absent.json"), TYPES, "record") == (None, "")
