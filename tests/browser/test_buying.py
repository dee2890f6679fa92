"""Buyers on the page: an account, a purchase followed live to its order, a sold-out sale."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PASSWORD, screenshot_path
from tests.browser.pages import (
    buy_button,
    expect_ticket,
    go_to,
    log_in,
    log_out,
    register,
    sale_card,
    tickets_of,
)

pytestmark = pytest.mark.e2e

SALE = "Limited sneakers"


async def test_a_buyer_sees_the_ticket_confirmed_live_and_the_next_buyer_is_told_sold_out(
    open_page, api, admin_token
):
    await api.create_sale(admin_token, stock=1, name=SALE)
    # Other sales around it, as on a real day (and for the screenshot).
    headphones = await api.create_sale(admin_token, stock=40, name="Studio headphones")
    for i in range(7):
        reply = await api.purchase(await api.user(f"early{i}", PASSWORD), headphones["sale_id"])
        assert reply.status == 202
    await api.create_sale(
        admin_token, stock=120, name="Winter jackets", starts_in=timedelta(minutes=42)
    )
    alice = await open_page()
    page = alice.page

    await register(page, "alice", PASSWORD)
    await log_out(page)
    await expect(page.locator("#auth-notice")).to_have_text("You have logged out.")
    await log_in(page, "alice", PASSWORD)

    card = sale_card(page, SALE)
    await expect(card.locator(".stock__text")).to_have_text("1 of 1 left")
    await expect(card.locator(".badge").first).to_have_text("On sale")
    await buy_button(page, SALE).click()
    ticket = await expect_ticket(page, SALE, "confirmed")
    await expect(ticket).to_contain_text("It's yours: the order is confirmed.")
    order_id = await ticket.locator(".ticket__order").inner_text()
    ticket_id = await ticket.get_attribute("data-ticket-id")
    assert re.fullmatch(r"[0-9a-f-]{36}", order_id)

    # Followed through the ticket's event stream, never by polling.
    streamed = [url for url in alice.watch.requests if url.endswith(f"/tickets/{ticket_id}/events")]
    polled = [url for url in alice.watch.requests if url.endswith(f"/tickets/{ticket_id}")]
    assert len(streamed) == 1 and polled == []
    # The sale's stream moved the stock bar and the state.
    await expect(card.locator(".stock__text")).to_have_text("0 of 1 left")
    await expect(card.locator(".badge").first).to_have_text("Sold out")
    await expect(page.locator("#announce-polite")).to_contain_text(f"{SALE}: Confirmed")
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("sale-page-confirmed.png"), animations="disabled")

    await go_to(page, "My orders")
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    await expect(row).to_contain_text(SALE)
    await expect(row).to_contain_text(ticket_id or "")

    bob = await open_page()
    await register(bob.page, "bob", PASSWORD)
    await buy_button(bob.page, SALE).click()
    bobs_card = sale_card(bob.page, SALE)
    # Sold out is answered at once (409 sold_out); a purchase that was still queued would
    # be rejected with the same reason. Either way the buyer reads why.
    sold_out = bobs_card.locator(".sale-card__message, .ticket--rejected").first
    await expect(sold_out).to_contain_text("Sold out")
    announced = bob.page.locator("#announce-alert, #announce-polite").filter(has_text="Sold out")
    await expect(announced).to_have_count(1)
    await bob.page.mouse.move(0, 0)
    await bob.page.screenshot(path=screenshot_path("sold-out.png"), animations="disabled")


async def test_a_purchase_with_the_keyboard_alone(open_page, api, admin_token):
    await api.create_sale(admin_token, stock=5, name="Keyboard special")
    await api.register("kim", PASSWORD)
    opened = await open_page()
    page = opened.page

    async def tab_to(matches: str, limit: int = 40) -> None:
        """Press Tab until the focused element matches the CSS selector ``matches``."""
        for _ in range(limit):
            await page.keyboard.press("Tab")
            if await page.evaluate("(s) => document.activeElement.matches(s)", matches):
                return
        raise AssertionError(f"{matches} not reached with Tab")

    await tab_to("#login-username")
    await page.keyboard.type("kim")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1, name="Sales")).to_be_focused()

    await tab_to(".sale-card .buy")
    focused = page.locator(":focus")
    await expect(focused).to_have_accessible_name("Buy Keyboard special")
    # The focus is visible: a solid outline of at least 2 px.
    outline = await focused.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] == "solid" and float(outline[1].removesuffix("px")) >= 2, outline
    await page.keyboard.press("Enter")
    await expect_ticket(page, "Keyboard special", "confirmed")
    # The button kept the focus through the purchase: the next Enter would buy again.
    await expect(buy_button(page, "Keyboard special")).to_be_focused()
    assert await tickets_of(page, "Keyboard special").count() == 1
