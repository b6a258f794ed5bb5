"""The web page at / in a real browser (Debian's headless chromium, through selenium) against a
local API (SQLite): it loads without console errors, lists fractals with their states, shows
thumbnails of done ones as they finish without a reload, and rides out an API that hangs or
goes away (the last list kept and marked stale, then fresh again). One browser and one API
for the module; the failover through the lab's floating IP is in
tests/cluster/test_web_page_failover.py."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_service.client import FractalClient
from tests.support.browser import Page, browser, errors
from tests.support.processes import ApiServer, WorkerProcess, wait_until

SMALL = {"width": 40, "height": 40, "iterations": 32}
STALE_WITHIN_S = 15  # the page's 4 s timeout plus its 3 s refresh, with room


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("web-api"))
    server.start()
    yield server
    os.killpg(server.pid, signal.SIGCONT)  # (a test that hung it and failed midway)
    server.stop()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with browser(tmp_path_factory.mktemp("browser")) as opened:
        yield opened


def shows(page: Page, expected: dict[str, str]) -> bool:
    """The page shows each uuid with its state (a done one with its thumbnail decoded)."""
    cards = page.cards()
    return all(u in cards and cards[u].state == s and cards[u].caption.startswith(s)
               and (s != "done" or cards[u].thumbnail == SMALL["width"])
               for u, s in expected.items())


def test_lists_fractals_with_their_states_without_console_errors(api: ApiServer,
                                                                 page: Page) -> None:
    client = FractalClient(api.url)
    failing = client.create(SMALL)["uuid"]
    claim = client.claim("by-hand", 30)
    assert claim is not None and claim.uuid == failing
    client.fail(claim, "out of memory (on purpose)")
    pending = [client.create(SMALL)["uuid"] for _ in range(2)]
    expected = {failing: "failed", **dict.fromkeys(pending, "pending")}
    page.open(api.url + "/")
    wait_until(lambda: shows(page, expected), 10, f"the page to show {expected}")
    assert "updated" in page.status
    assert not errors(page.console()), "console errors on a healthy page"


def test_done_fractals_appear_with_thumbnails_without_a_reload(api: ApiServer, page: Page,
                                                               tmp_path: Path) -> None:
    client = FractalClient(api.url)
    made = [client.create(SMALL)["uuid"] for _ in range(2)]
    page.open(api.url + "/")
    wait_until(lambda: shows(page, dict.fromkeys(made, "pending")), 10, "them pending")
    # Finished by a worker while the page is open: the page must see it by itself.
    worker = WorkerProcess(api.url, "web-worker", tmp_path)
    worker.start()
    try:
        wait_until(lambda: shows(page, dict.fromkeys(made, "done")), 30,
                   "the worker's results as thumbnails on the open page")
    finally:
        worker.stop()
    assert page.never_reloaded
    assert not errors(page.console())


def test_a_hung_then_gone_api_leaves_the_list_marked_stale_then_fresh(api: ApiServer,
                                                                      page: Page) -> None:
    FractalClient(api.url).create(SMALL)
    page.open(api.url + "/")
    before = wait_until(lambda: "updated" in page.status and page.cards(), STALE_WITHIN_S,
                        "the list")
    page.console()  # (what came before)
    # Hung (every process of the server stopped): connections are accepted, never answered,
    # as through a floating IP whose holder died. The page must not wait for them.
    os.killpg(api.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: "unreachable" in page.status, STALE_WITHIN_S,
                   "the page to say the API does not answer")
        assert "no answer" in page.status and "showing the list of" in page.status
        assert page.cards() == before, "the list went away with the API"
    finally:
        os.killpg(api.pid, signal.SIGCONT)
    wait_until(lambda: "updated" in page.status, STALE_WITHIN_S, "the page fresh again")
    # Gone (refused), then back on its address with the same data.
    api.stop()
    wait_until(lambda: "unreachable" in page.status, STALE_WITHIN_S, "the page to see it gone")
    assert page.cards() == before
    api.start()
    added = FractalClient(api.url).create(SMALL)["uuid"]
    wait_until(lambda: shows(page, {added: "pending"}), STALE_WITHIN_S,
               "a fractal made after the outage on the page")
    assert "updated" in page.status and page.never_reloaded
    # Only the refused requests themselves are logged (the browser's own network errors);
    # no script error, no abandoned request.
    logged = errors(page.console())
    assert all("/v1/fractals" in e["message"] and "ERR_CONNECTION_REFUSED" in e["message"]
               for e in logged), logged


def test_a_missing_browser_fails_saying_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    from tests.support import browser as support

    monkeypatch.setattr(support, "CHROMEDRIVER", str(tmp_path / "chromedriver"))
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        support.require_chromium()
