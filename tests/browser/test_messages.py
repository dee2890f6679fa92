"""The API's errors as the page words them: accounts, throttling, sessions, closed sales."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.pages import buy_button, register, sale_card

pytestmark = pytest.mark.e2e


async def test_account_errors_are_explained(open_page, api):
    await api.register("taken", PASSWORD)
    page = (await open_page()).page

    signup = page.locator("#register-form")
    await signup.get_by_label("Username").fill("a b")
    await signup.get_by_label("Password").fill("short")
    await signup.get_by_role("button", name="Create account").click()
    await expect(signup.locator(".form-error")).to_contain_text("Please check: Username:")
    username = signup.get_by_label("Username")
    password = signup.get_by_label("Password")
    # Each field at fault is marked, described by the server's words, and focused first.
    await expect(username).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_accessible_description(re.compile(r"8-72 bytes"))
    await expect(username).to_be_focused()
    await expect(page.locator("#announce-alert")).to_contain_text("Please check")

    await username.fill("TAKEN")
    await password.fill(PASSWORD)
    await signup.get_by_role("button", name="Create account").click()
    await expect(signup.locator(".form-error")).to_have_text(
        "That username is already taken (letter case doesn't count). Choose another one."
    )
    await expect(username).not_to_have_attribute("aria-invalid", "true")

    login = page.locator("#login-form")
    await login.get_by_label("Username").fill("taken")
    for _ in range(5):  # the auth service allows 5 failures per username in its window
        await login.get_by_label("Password").fill("not-the-password")
        await login.get_by_role("button", name="Log in").click()
        await expect(login.locator(".form-error")).to_have_text("Wrong username or password.")
        await expect(login.get_by_role("button", name="Log in")).not_to_have_attribute(
            "aria-disabled", "true"
        )
    await login.get_by_role("button", name="Log in").click()
    await expect(login.locator(".form-error")).to_have_text(
        re.compile(r"^Too many failed log-in attempts\. Try again in \d+ min \d\d s\.$")
    )


def forged_token(name: str, *, expires_in: int) -> str:
    """A JWT that looks right to the page but that no server signed."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "00000000-0000-4000-8000-000000000000",
        "name": name,
        "role": "user",
        "iat": now,
        "exp": now + expires_in,
        "iss": "flashsale-auth",
        "aud": "flashsale",
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_a_refused_or_expired_token_drops_back_to_log_in_with_a_message(open_page):
    opened = await open_page()
    page = opened.page
    # A token the server refuses (401 on the first request that needs it).
    await page.evaluate(
        "(t) => sessionStorage.setItem('flashsale.token', t)",
        forged_token("mallory", expires_in=600),
    )
    await page.reload()
    await expect(page.locator("#account-who")).to_have_text("mallory")
    # GET /api/v1/orders needs the token.
    await page.get_by_role("link", name="My orders").click()
    await expect(page.locator("#auth-notice")).to_have_text(
        "Your session has expired. Please log in again."
    )
    await expect(page.get_by_role("heading", level=2, name="Log in")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.getItem('flashsale.token')") is None

    # A token past its expiry is dropped when the page starts, before any request.
    await page.evaluate(
        "(t) => sessionStorage.setItem('flashsale.token', t)",
        forged_token("mallory", expires_in=-5),
    )
    await page.reload()
    await page.wait_for_selector("body[data-ready]")
    await expect(page.locator("#auth-notice")).to_have_text(
        "Your session has expired. Please log in again."
    )
    await expect(page.locator("#site-nav")).to_be_hidden()


async def test_a_sale_that_is_not_open_says_when_it_opens_and_its_countdown_runs(
    open_page, api, admin_token
):
    await api.create_sale(
        admin_token, stock=5, name="Midnight drop", starts_in=timedelta(minutes=90)
    )
    page = (await open_page()).page
    await register(page, "early", PASSWORD)
    card = sale_card(page, "Midnight drop")
    await expect(card.locator(".badge").first).to_have_text("Upcoming")
    countdown = card.locator(".countdown")
    await expect(countdown).to_have_text(re.compile(r"^Starts in 1 h (29|30) min$"))
    await expect(buy_button(page, "Midnight drop")).to_have_attribute("aria-disabled", "true")
    # Focusable and usable though marked disabled: Enter explains why nothing is bought.
    await buy_button(page, "Midnight drop").focus()
    await page.keyboard.press("Enter")
    await expect(card.locator(".sale-card__message")).to_have_text(
        re.compile(r"^This sale has not started yet: it opens .+ \(in 1 h (29|30) min\)\.$")
    )
    await expect(card.locator(".ticket")).to_have_count(0)
