"""Fixtures of the unit tests that talk to the fake cloud (tests/support/fake_cloud.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.fake_cloud import FakeCloud, clouds_yaml


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    fake = FakeCloud()
    yield fake
    fake.close()


@pytest.fixture
def clouds(cloud: FakeCloud, tmp_path: Path) -> Path:
    """A clouds.yaml with the fake cloud as `fake`."""
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds_yaml(cloud)))
    return path
