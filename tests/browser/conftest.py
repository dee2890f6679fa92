"""The web page in a real browser (system Chromium, headless) against the real stack.

The stack is the e2e one (its fixtures are used as they are). Every page a test opens is
watched: it must load nothing from outside the gateway, log no console error and throw no
uncaught exception (checked when the test ends).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    async_playwright,
)

from tests.support.processes import ARTIFACTS

# The browser is Debian's Chromium, never a download (`playwright install` needs a network
# this project does not have). CHROMIUM_PATH points elsewhere if need be.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "browser"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "correct-horse"

# Chromium logs every HTTP error answer to fetch() as a console error. The API's documented
# 4xx answers are expected where a test provokes them (the page shows them in words), so
# those lines alone are let through; any other console error fails the test.
_API_ERROR_LOG = re.compile(
    r"^Failed to load resource: the server responded with a status of 4\d\d"
)


@dataclass
class PageWatch:
    """What one browser context did: every request, console error and page error."""

    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "") if message.location else ""
        if _API_ERROR_LOG.match(message.text) and url.startswith(f"{self.origin}/api/v1/"):
            return
        if any(pattern.search(message.text) for pattern in self.allowed):
            return
        self.console_errors.append(f"{message.text} ({url})")

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def allow(self, pattern: str) -> None:
        """Let console errors matching ``pattern`` through (a test that provokes them)."""
        self.allowed.append(re.compile(pattern))

    def check(self) -> None:
        foreign = [url for url in self.requests if not url.startswith(f"{self.origin}/")]
        assert foreign == [], f"the page loaded from outside the gateway: {foreign}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.page_errors == [], f"uncaught errors: {self.page_errors}"


@dataclass
class OpenedPage:
    page: Page
    context: BrowserContext
    watch: PageWatch


OpenPage = Callable[..., Awaitable[OpenedPage]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install Debian's package "
            "`chromium` (apt-get install -y chromium), or set CHROMIUM_PATH to another one",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def open_page(browser, stack) -> AsyncIterator[OpenPage]:
    """Opens the page in a new browser context (its own sessionStorage); checked at the end."""
    opened: list[OpenedPage] = []

    async def open_(
        *, viewport: dict[str, int] | None = None, path: str = "/", **options: Any
    ) -> OpenedPage:
        # en-GB unless the test asks for another language (locale="de-DE").
        options.setdefault("locale", "en-GB")
        context = await browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        watch = PageWatch(stack.gateway.url)
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        await page.goto(stack.gateway.url + path)
        await page.wait_for_selector("body[data-ready]")
        result = OpenedPage(page, context, watch)
        opened.append(result)
        return result

    yield open_
    for item in opened:
        await item.context.close()
    for item in opened:
        item.watch.check()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
