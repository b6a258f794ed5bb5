"""The web page through the floating IP, in a real browser (Debian's headless chromium in the
lab's client namespace, where users reach the service): it lists the lab's fractals with
thumbnails, and the same open page, never reloaded, keeps working across the crash of the node
serving the API: fractals made after the takeover appear done, with their thumbnails. The page
on a local API (loading, states, a hung API) is tests/browser/test_web_page.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from cluster.lab.lab import SERVICE_ADDRESS, Lab
from tests.cluster.conftest import Cluster, Pace
from tests.cluster.test_failover import api_node
from tests.support.browser import Page, browser, errors
from tests.support.processes import wait_until

pytestmark = pytest.mark.cluster
SMALL = {"width": 40, "height": 40, "iterations": 32}


@pytest.fixture(scope="module")
def page(ha_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not isinstance(ha_cluster, Lab):
        pytest.fail("the browser runs in the lab's client namespace: lab only", pytrace=False)
    with browser(tmp_path_factory.mktemp("lab-browser"), netns=ha_cluster.client_netns) as p:
        yield p


def submit(lab: Cluster, pace: Pace) -> str:
    """One fractal, accepted through the floating IP (retried with the same key meanwhile)."""
    headers = {"Idempotency-Key": f"web-page-{secrets.token_hex(6)}"}
    record = wait_until(lambda: lab.client("POST", "/v1/fractals", SMALL, timeout=5,
                                           headers=headers), 30 * pace.slow, "a submission")
    return record["uuid"]


def done_with_thumbnails(page: Page, uuids: list[str]) -> bool:
    cards = page.cards()
    return all(u in cards and cards[u].state == "done" and cards[u].thumbnail == SMALL["width"]
               for u in uuids)


def test_the_open_page_keeps_working_across_the_api_nodes_crash(healthy: Cluster, pace: Pace,
                                                                 page: Page) -> None:
    lab = healthy
    page.open(f"http://{SERVICE_ADDRESS}:{lab.service.api_port}/")
    before = [submit(lab, pace) for _ in range(2)]
    wait_until(lambda: done_with_thumbnails(page, before), 60 * pace.slow,
               "the lab's fractals done, with thumbnails, through the floating IP")
    assert not errors(page.console()), "console errors on the healthy lab"
    victim = api_node(lab, pace)
    lab.node(victim).crash()
    wait_until(lambda: (w := api_node(lab, pace)) != victim and w, pace.failover_bound_s,
               "the takeover")
    after = submit(lab, pace)
    wait_until(lambda: done_with_thumbnails(page, [*before, after]), 60 * pace.slow,
               "a fractal made after the takeover, done on the open page")
    assert "updated" in page.status and page.never_reloaded
    # Only requests the browser could not complete while the address moved may be logged.
    logged = errors(page.console())
    assert all("/v1/fractals" in e["message"] and e["source"] == "network"
               for e in logged), logged
    print(f"web page across {victim}'s crash: {len(logged)} failed requests logged")
