"""When the network misbehaves: a lost answer, a broken ticket stream, a gateway restart."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Route, expect

from tests.browser.conftest import PASSWORD
from tests.browser.pages import buy_button, expect_ticket, log_in, sale_card, tickets_of
from tests.support.api import Api

pytestmark = pytest.mark.e2e


async def test_a_lost_answer_is_retried_with_the_same_key_and_buys_once(
    open_page, api, admin_token
):
    sale = await api.create_sale(admin_token, stock=10, per_user_limit=5, name="Retry boots")
    token = await api.user("rita", PASSWORD)
    opened = await open_page()
    page = opened.page
    opened.watch.allow(r"net::ERR_CONNECTION_RESET")
    keys: list[str | None] = []

    async def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            await route.fetch()  # the purchase reaches the server and is queued...
            await route.abort("connectionreset")  # ...but its answer never arrives
        else:
            await route.continue_()

    await page.route("**/api/v1/sales/*/purchases", lose_the_first_answer)
    await log_in(page, "rita", PASSWORD)
    await buy_button(page, "Retry boots").click()
    await expect_ticket(page, "Retry boots", "confirmed")

    assert len(keys) == 2 and keys[0] == keys[1] and keys[0], keys
    await expect(tickets_of(page, "Retry boots")).to_have_count(1)
    orders = (await api.call("GET", "/api/v1/orders", token=token)).body
    assert [o["sale_id"] for o in orders] == [sale["sale_id"]]

    # A second click is a second purchase, with a key of its own.
    await buy_button(page, "Retry boots").click()
    await expect(tickets_of(page, "Retry boots")).to_have_count(2)
    await expect(tickets_of(page, "Retry boots").first).to_have_attribute(
        "data-status", "confirmed", timeout=20_000
    )
    assert len(keys) == 3 and keys[2] not in keys[:2]


async def test_a_ticket_is_polled_when_its_stream_fails(open_page, api, admin_token):
    await api.create_sale(admin_token, stock=3, name="Polled gloves")
    await api.register("paula", PASSWORD)
    opened = await open_page()
    page = opened.page
    opened.watch.allow(r"net::ERR_FAILED")
    await page.route("**/api/v1/tickets/*/events", lambda route: route.abort())
    await log_in(page, "paula", PASSWORD)
    await buy_button(page, "Polled gloves").click()
    ticket = await expect_ticket(page, "Polled gloves", "confirmed")
    ticket_id = await ticket.get_attribute("data-ticket-id")
    polls = [u for u in opened.watch.requests if u.endswith(f"/api/v1/tickets/{ticket_id}")]
    assert polls, "the ticket was not polled"


async def test_the_sale_stream_reconnects_after_the_gateway_restarts(
    open_page, api, admin_token, stack
):
    sale = await api.create_sale(admin_token, stock=20, per_user_limit=20, name="Comeback caps")
    buyer = await api.user("carl", PASSWORD)
    opened = await open_page()
    page = opened.page
    # While the gateway is down, reconnection attempts fail; that is what is tested.
    opened.watch.allow(r"net::ERR_CONNECTION_REFUSED|net::ERR_EMPTY_RESPONSE|net::ERR_FAILED")
    await log_in(page, "carl", PASSWORD)
    meta = page.locator("#sales-meta")
    await expect(meta).to_have_text("Live")

    stack.gateway.stop()
    await expect(meta).to_have_text("Reconnecting…")
    await stack.gateway.restart()
    await expect(meta).to_have_text("Live", timeout=20_000)

    # A new client session: the old one's pooled connections died with the gateway.
    async with aiohttp.ClientSession() as session:
        reply = await Api(session, stack.gateway.url).purchase(buyer, sale["sale_id"])
    assert reply.status == 202
    # The new stream delivers changes again.
    await expect(sale_card(page, "Comeback caps").locator(".stock__text")).to_have_text(
        "19 of 20 left", timeout=15_000
    )
