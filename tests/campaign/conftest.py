"""The campaign's tests run last in a session, the long random campaign at the very end: they
share the session's lab with tests/cluster and tests/metrics, and a campaign that cannot bring
the lab back whole must not fail the others."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: (item.get_closest_marker("campaign") is not None,
                                 item.path.name == "test_campaign.py"))
