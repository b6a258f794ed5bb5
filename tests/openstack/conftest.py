"""The lab cloud's tests. Their `lab_cloud` fixture lives in tests/conftest.py (body in
tests/support/cloud.py), so one cloud serves the whole run, Object Storage tests included."""

from __future__ import annotations

import pytest

from tests.support.cloud import LabCloud, session_members

__all__ = ["LabCloud", "session_members"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "openstack: needs the lab cloud (real Keystone, Neutron)")
