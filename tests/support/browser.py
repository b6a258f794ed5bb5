"""Debian's chromium, headless, driven by selenium through Debian's chromedriver: the web page
as a user's browser sees it. Optionally inside a network namespace (the lab's client, the only
place the floating IP is reached from), with the browser alone moved there: chromedriver talks
to it over a pipe (--remote-debugging-pipe), so no port has to cross namespaces."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--remote-debugging-pipe", "--disable-crash-reporter", "--window-size=1024,768")


def require_chromium() -> None:
    """Missing browser: the test fails saying what to install (never a silent skip)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"the browser tests need Debian's chromium and chromium-driver "
                    f"({', '.join(missing)} missing): run scripts/setup.sh "
                    "(apt-get install chromium chromium-driver)", pytrace=False)


@contextmanager
def browser(workdir: Path, netns: str | None = None) -> Iterator[Page]:
    """One headless chromium for a test module; quit (by chromedriver, which started it) at
    the end."""
    require_chromium()
    # Imported here: only the browser tests need selenium.
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager never downloads a driver or a browser: Debian's are given.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = _launcher(workdir, netns) if netns else CHROMIUM
    for arg in (*ARGS, f"--user-data-dir={workdir / 'profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield Page(driver)
    finally:
        driver.quit()


def _launcher(workdir: Path, netns: str) -> str:
    """A chromium that starts inside `netns` (the pipe's descriptors pass through exec)."""
    script = workdir / "chromium-in-netns"
    script.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {CHROMIUM} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@dataclass(frozen=True)
class Card:
    uuid: str
    state: str
    caption: str
    thumbnail: int  # the thumbnail's decoded width in pixels; 0 if none or not loaded


@dataclass
class Page:
    driver: object  # selenium's WebDriver

    def open(self, url: str) -> None:
        self.driver.get(url)
        # Set on this document only: still there later means the page never reloaded.
        self.driver.execute_script("window.loadedOnce = true")

    @property
    def never_reloaded(self) -> bool:
        return self.driver.execute_script("return window.loadedOnce === true")

    def cards(self) -> dict[str, Card]:
        """The fractals the page shows, by uuid, as rendered (read in one script: atomic with
        respect to the page's own refreshes)."""
        rows = self.driver.execute_script("""
            return [...document.querySelectorAll('#grid figure')].map(f => {
              const img = f.querySelector('img');
              return [f.dataset.uuid, f.dataset.state, f.querySelector('figcaption').textContent,
                      img && img.complete ? img.naturalWidth : 0];
            });""")
        return {u: Card(u, s, c, w) for u, s, c, w in rows}

    @property
    def status(self) -> str:
        return self.driver.execute_script(
            "return document.getElementById('summary').textContent")

    def console(self) -> list[dict]:
        """The browser's log since the last call (console messages, failed loads, uncaught
        exceptions): chromedriver hands each entry out once."""
        return self.driver.get_log("browser")


def errors(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["level"] == "SEVERE"]
