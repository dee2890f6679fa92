"""The page in the reader's language: German for a German browser, English at a click (in
place, without a reload), the choice kept across reloads; dates and money for the locale."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import DESKTOP, PASSWORD, PageWatch, screenshot_path
from tests.browser.pages import sale_card

pytestmark = pytest.mark.e2e

OpenIn = Callable[[str], Awaitable[Page]]


@pytest.fixture
async def open_in(browser, stack) -> AsyncIterator[OpenIn]:
    """Opens the page in a new browser context whose language is `locale`; checked at the end.

    (`open_page` always opens it in en-GB, the language the other tests read.)
    """
    opened: list[tuple[BrowserContext, PageWatch]] = []

    async def open_(locale: str) -> Page:
        context = await browser.new_context(viewport=DESKTOP, locale=locale)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        watch = PageWatch(stack.gateway.url)
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        opened.append((context, watch))
        await page.goto(stack.gateway.url)
        await page.wait_for_selector("body[data-ready]")
        return page

    yield open_
    for context, _ in opened:
        await context.close()
    for _, watch in opened:
        watch.check()


async def test_a_german_browser_gets_german_and_english_is_a_switch_away(open_in):
    page = await open_in("de-DE")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page).to_have_title("Anmelden · Flash Sale")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Willkommen beim Flash Sale")
    switcher = page.get_by_label("Sprache")
    await expect(switcher).to_have_value("de")
    await expect(switcher.locator("option")).to_have_text(["English", "Deutsch"])

    login = page.locator("#login-form")
    await login.get_by_label("Benutzername").fill("nobody")
    await login.get_by_label("Passwort").fill("not-the-password")
    await login.get_by_role("button", name="Anmelden").click()
    error = login.locator(".form-error")
    await expect(error).to_have_text("Benutzername oder Passwort ist falsch.")

    # In place: the same document (the marker survives), every text in English, the error too.
    await page.evaluate("() => { window.notReloaded = true; }")
    await switcher.select_option("en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to the flash sale")
    await expect(login.get_by_label("Username")).to_have_value("nobody")
    await expect(error).to_have_text("Wrong username or password.")
    await expect(login.get_by_role("button", name="Log in")).to_be_visible()
    await expect(page.get_by_label("Language")).to_have_value("en")
    await expect(page).to_have_title("Log in · Flash sale")
    assert await page.evaluate("() => window.notReloaded") is True

    # The choice outlives a reload, although the browser still asks for German.
    await page.reload()
    await page.wait_for_selector("body[data-ready]")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=2, name="Create an account")).to_be_visible()
    await expect(page.get_by_label("Language")).to_have_value("en")


async def test_the_sales_are_worded_and_dated_in_the_active_language(open_in, api, admin_token):
    await api.create_sale(admin_token, stock=1250, per_user_limit=2, name="Sprachtest")
    page = await open_in("de-DE")
    form = page.locator("#register-form")
    await form.get_by_label("Benutzername").fill("greta")
    await form.get_by_label("Passwort").fill(PASSWORD)
    await form.get_by_role("button", name="Konto erstellen").click()

    await expect(page.get_by_role("heading", level=1, name="Aktionen")).to_be_visible()
    nav = page.get_by_role("navigation", name="Hauptmenü")
    await expect(nav.get_by_role("link")).to_have_text(["Aktionen", "Meine Bestellungen"])
    card = sale_card(page, "Sprachtest")
    await expect(card.locator(".badge").first).to_have_text("Im Verkauf")
    # German digit grouping, and the end time as German readers write it.
    await expect(card.locator(".stock__text")).to_have_text("1.250 von 1.250 übrig")
    await expect(card.locator(".sale-card__limit")).to_have_text("Höchstens 2 pro Person")
    await expect(card.locator(".sale-card__when")).to_have_text(
        re.compile(r"^Endet in \d+ Min\. \d\d Sek\. · \S+ \d{1,2}\. \S+ \d\d:\d\d$")
    )
    await expect(card.get_by_role("button")).to_have_accessible_name("Kaufen Sprachtest")
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("sales-german.png"), animations="disabled")

    await page.get_by_label("Sprache").select_option("en")
    await expect(page.get_by_role("heading", level=1, name="Sales")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link")).to_have_text(["Sales", "My orders"])
    await expect(card.locator(".badge").first).to_have_text("On sale")
    await expect(card.locator(".stock__text")).to_have_text("1,250 of 1,250 left")
    await expect(card.locator(".sale-card__when")).to_have_text(
        re.compile(r"^Ends in \d+ min \d\d s · ")
    )
    await expect(card.get_by_role("button")).to_have_accessible_name("Buy Sprachtest")
    await expect(page).to_have_title("Sales · Flash sale")


async def test_money_and_numbers_follow_the_locale(open_in):
    page = await open_in("de-DE")
    script = """async () => {
      const m = await import('/app/i18n.js');
      const show = () => [m.locale(), m.money(129900, "EUR"), m.money(1299, "JPY"),
                          m.money(-5, "EUR"), m.money(1234567, "KWD"), m.number(1234.5)];
      const german = show();
      m.setLanguage("en");
      return [german, show()];
    }"""
    german, english = await page.evaluate(script)
    nbsp = "\u00a0"
    assert german == [
        "de-DE",
        f"1.299,00{nbsp}€",
        f"1.299{nbsp}¥",
        f"-0,05{nbsp}€",
        f"1.234,567{nbsp}KWD",
        "1.234,5",
    ]
    # The browser has no English tag of its own: plain "en", US conventions.
    assert english == ["en", "€1,299.00", "¥1,299", "-€0.05", f"KWD{nbsp}1,234.567", "1,234.5"]
