"""What a person does on the page, as the tests need it: log in, buy, read a ticket card."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, expect

TICKET_TIMEOUT_MS = 20_000


async def register(page: Page, username: str, password: str) -> None:
    """Create an account with the form; the page logs the new user in."""
    form = page.locator("#register-form")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Create account").click()
    await expect_logged_in(page, username)


async def log_in(page: Page, username: str, password: str) -> None:
    form = page.locator("#login-form")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Log in").click()
    await expect_logged_in(page, username)


async def expect_logged_in(page: Page, username: str) -> None:
    await expect(page.locator("#account-who")).to_contain_text(username)
    await expect(page.get_by_role("heading", level=1, name="Sales")).to_be_visible()


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", level=2, name="Log in")).to_be_visible()


def sale_card(page: Page, name: str) -> Locator:
    return page.locator(".sale-card").filter(
        has=page.get_by_role("heading", level=2, name=name, exact=True)
    )


def buy_button(page: Page, name: str) -> Locator:
    return sale_card(page, name).get_by_role("button", name=re.compile(r"^Buy\b"))


def tickets_of(page: Page, name: str) -> Locator:
    return sale_card(page, name).locator(".ticket")


async def go_to(page: Page, view: str) -> None:
    """Follow a main navigation link ("Sales", "My orders", "Admin")."""
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=view).click()
    await expect(page.get_by_role("heading", level=1, name=view)).to_be_visible()


async def expect_ticket(page: Page, name: str, status: str) -> Locator:
    """The newest ticket card of the sale, once it shows ``status``."""
    card = tickets_of(page, name).first
    await expect(card).to_have_attribute("data-status", status, timeout=TICKET_TIMEOUT_MS)
    return card
