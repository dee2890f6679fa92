"""Buying a product on the page: the product card, the pay step with its countdown and test
cards, the waitlist that gets a unit live when a winner does not pay, and all of it in German."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import PASSWORD, screenshot_path
from tests.browser.pages import (
    buy_button,
    expect_ticket,
    go_to,
    log_in,
    register,
    sale_card,
)

pytestmark = pytest.mark.e2e

# A reservation paid, expired or refunded reaches the ticket within a few seconds.
ORDER_TIMEOUT_MS = 20_000
NBSP = "\u00a0"


def pay_step(ticket: Locator, name: str = "Pay") -> Locator:
    """The ticket's pay step, a region named by its heading."""
    return ticket.get_by_role("region", name=name)


async def seconds_left(timer: Locator) -> int:
    """The countdown's time in seconds, from "4 min 59 s left to pay" or "12 s left to pay"."""
    text = await timer.inner_text()
    match = re.match(r"^(?:(\d+) min )?(\d+) s\b", text)
    assert match, text
    return int(match.group(1) or 0) * 60 + int(match.group(2))


async def test_a_winner_sees_the_product_pays_with_the_visa_card_and_reads_paid(
    open_page, api, admin_token, stack
):
    product = await api.create_product(
        admin_token,
        name="Trail runner",
        amount=12_999,
        description="Light trail shoes, sizes 38 to 46.",
        # Served by the gateway itself: the page's policy lets it load only its own pictures.
        image_url=f"{stack.gateway.url}/app/icon.svg",
    )
    sale = await api.create_sale(
        admin_token,
        stock=3,
        name="Trail runner drop",
        product_id=product["product_id"],
        price={"amount": 7_999, "currency": "EUR"},
    )
    opened = await open_page()
    page = opened.page
    await register(page, "paula", PASSWORD)

    card = sale_card(page, "Trail runner drop")
    await expect(card.get_by_role("img", name="Trail runner")).to_be_visible()
    assert await card.get_by_role("img").evaluate("(img) => img.naturalWidth > 0")
    await expect(card.locator(".product__name")).to_have_text("Trail runner")
    await expect(card.locator(".product__description")).to_have_text(
        "Light trail shoes, sizes 38 to 46."
    )
    # The sale price, and the list price struck through; both named for screen readers.
    await expect(card.locator(".price__sale")).to_have_text("Sale price: €79.99")
    await expect(card.locator(".price__list s")).to_have_text("€129.99")
    await expect(card.locator(".price__list")).to_have_text("List price: €129.99")
    await expect(card.locator(".sale-card__terms")).to_have_text(
        "Pay within 10 min 00 s of winning"
    )

    await buy_button(page, "Trail runner drop").click()
    ticket = await expect_ticket(page, "Trail runner drop", "confirmed")
    await expect(ticket).to_have_attribute("data-order-status", "awaiting_payment")
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "It's yours: the order is confirmed. Pay before the time runs out to keep it."
    )
    pay = pay_step(ticket)
    await expect(pay.locator(".pay__amount")).to_have_text("€79.99")
    timer = pay.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^(9|10) min \d\d s left to pay$"))
    await expect(pay.locator(".pay__deadline")).to_have_text(re.compile(r"^Pay by \d\d:\d\d:\d\d$"))
    # The countdown moves by itself, once a second.
    before = await seconds_left(timer)
    await expect(timer).not_to_have_text(await timer.inner_text(), timeout=3_000)
    assert await seconds_left(timer) < before
    cards = pay.get_by_role("group", name="Choose a test card").get_by_role("radio")
    await expect(cards).to_have_count(3)
    await expect(pay.get_by_role("radio", name="Visa (succeeds)")).to_be_checked()
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("pay-step.png"), animations="disabled")

    await pay.get_by_role("radio", name="Visa (succeeds)").check()
    await pay.get_by_role("button", name="Pay €79.99").click()
    await expect(ticket).to_have_attribute("data-order-status", "paid", timeout=ORDER_TIMEOUT_MS)
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "Paid: it's yours, and the order is complete."
    )
    await expect(ticket.locator(".badge--paid")).to_have_text("Paid")
    await expect(pay).to_have_count(0)
    await expect(page.locator("#announce-polite")).to_contain_text("Trail runner drop: Paid")
    order_id = await ticket.locator(".ticket__order").inner_text()
    order = (await api.order(await api.login("paula", PASSWORD), order_id)).body
    assert (order["status"], order["sale_id"]) == ("paid", sale["sale_id"])

    await go_to(page, "My orders")
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    await expect(row.locator('[data-label="Price"]')).to_have_text("€79.99")
    await expect(row.locator('[data-label="Status"]')).to_have_text("Paid")


async def test_an_unpaid_unit_goes_live_to_the_buyer_on_the_waitlist(open_page, api, admin_token):
    await api.create_sale(
        admin_token, stock=1, name="Last pair", payment_window_seconds=5, waitlist_size=1
    )
    await api.register("anna", PASSWORD)
    await api.register("ben", PASSWORD)
    anna = (await open_page()).page
    ben = (await open_page()).page
    await log_in(anna, "anna", PASSWORD)
    await log_in(ben, "ben", PASSWORD)
    await ben.evaluate("() => { window.notReloaded = true; }")

    await buy_button(anna, "Last pair").click()
    annas = await expect_ticket(anna, "Last pair", "confirmed")
    await expect(pay_step(annas).get_by_role("timer")).to_have_text(
        re.compile(r"^\d s left to pay$")
    )

    # No unit left, but room on the waitlist: Ben's card says so, and his purchase waits.
    await expect(sale_card(ben, "Last pair").locator(".sale-card__waitlist")).to_have_text(
        "No unit left: buying now puts you on the waitlist (0 waiting)."
    )
    await buy_button(ben, "Last pair").click()
    bens = await expect_ticket(ben, "Last pair", "waitlisted")
    await expect(bens.locator(".ticket__position")).to_have_text("#1 on the waitlist")
    await expect(bens.locator(".ticket__text")).to_have_text(
        "On the waitlist: you are number 1. "
        "A unit a winner does not pay for in time goes to the first in line."
    )
    await ben.mouse.move(0, 0)
    await ben.screenshot(path=screenshot_path("waitlisted.png"), animations="disabled")

    # Anna does not pay: her reservation expires, and her page says so.
    await expect(annas).to_have_attribute("data-order-status", "expired", timeout=ORDER_TIMEOUT_MS)
    await expect(annas.locator(".ticket__text")).to_have_text(
        "Expired: the order was not paid in time, so its unit went back to other buyers."
    )
    await expect(annas.locator(".badge--expired")).to_have_text("Expired")
    await expect(pay_step(annas)).to_have_count(0)

    # The released unit reaches Ben live: his ticket moves on and the pay step appears.
    await expect(bens).to_have_attribute("data-status", "confirmed", timeout=ORDER_TIMEOUT_MS)
    await expect(bens).to_have_attribute("data-order-status", "awaiting_payment")
    await expect(pay_step(bens).get_by_role("timer")).to_have_text(
        re.compile(r"^\d s left to pay$")
    )
    await expect(pay_step(bens).get_by_role("button", name=re.compile(r"^Pay "))).to_be_visible()
    assert await ben.evaluate("() => window.notReloaded") is True
    await ben.mouse.move(0, 0)
    await ben.screenshot(path=screenshot_path("waitlist-served.png"), animations="disabled")


async def register_in_german(page: Page, username: str) -> None:
    form = page.locator("#register-form")
    await form.get_by_label("Benutzername").fill(username)
    await form.get_by_label("Passwort").fill(PASSWORD)
    await form.get_by_role("button", name="Konto erstellen").click()
    await expect(page.get_by_role("heading", level=1, name="Aktionen")).to_be_visible()


async def test_the_pay_step_in_german_with_a_declined_card_first(open_page, api, admin_token):
    product = await api.create_product(admin_token, name="Winterjacke", amount=149_900)
    await api.create_sale(
        admin_token,
        stock=2,
        name="Jackenaktion",
        product_id=product["product_id"],
        price={"amount": 129_900, "currency": "EUR"},
    )
    opened = await open_page(locale="de-DE")
    page = opened.page
    await register_in_german(page, "greta")

    card = sale_card(page, "Jackenaktion")
    # German grouping and decimals, the euro sign after the amount.
    await expect(card.locator(".price__sale")).to_have_text(f"Aktionspreis: 1.299,00{NBSP}€")
    await expect(card.locator(".price__list")).to_have_text(f"Listenpreis: 1.499,00{NBSP}€")
    await card.get_by_role("button", name=re.compile(r"^Kaufen\b")).click()
    ticket = await expect_ticket(page, "Jackenaktion", "confirmed")
    pay = pay_step(ticket, "Bezahlen")
    await expect(pay.get_by_role("timer")).to_have_text(
        re.compile(r"^Noch (9|10) Min\. \d\d Sek\. zum Bezahlen$")
    )
    await expect(pay.locator(".pay__deadline")).to_have_text(
        re.compile(r"^Bezahlen bis \d\d:\d\d:\d\d$")
    )

    await pay.get_by_role("radio", name="Abgelehnte Karte").check()
    button = pay.get_by_role("button", name=f"1.299,00{NBSP}€ bezahlen")
    await button.click()
    status = pay.locator(".pay__status")
    await expect(status).to_have_text(
        "Zahlung abgelehnt: die Bank hat die Karte abgelehnt. "
        "Wählen Sie eine andere Karte und versuchen Sie es erneut.",
        timeout=ORDER_TIMEOUT_MS,
    )
    await expect(ticket).to_have_attribute("data-order-status", "awaiting_payment")
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("pay-declined-german.png"), animations="disabled")

    # Another card, the same order: paid.
    await pay.get_by_role("radio", name="Visa (erfolgreich)").check()
    await button.click()
    await expect(ticket).to_have_attribute("data-order-status", "paid", timeout=ORDER_TIMEOUT_MS)
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "Bezahlt: Es gehört Ihnen, die Bestellung ist abgeschlossen."
    )

    # The words follow a switch of language, in place.
    await page.get_by_label("Sprache").select_option("en")
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "Paid: it's yours, and the order is complete."
    )
    await expect(card.locator(".price__sale")).to_have_text("Sale price: €1,299.00")


async def test_a_slow_payment_that_lands_after_the_deadline_is_refunded(
    open_page, api, admin_token
):
    await api.create_sale(admin_token, stock=1, name="Late socks", payment_window_seconds=5)
    page = (await open_page()).page
    await register(page, "lars", PASSWORD)
    await buy_button(page, "Late socks").click()
    ticket = await expect_ticket(page, "Late socks", "confirmed")
    pay = pay_step(ticket)
    await pay.get_by_role("radio", name="Slow card (succeeds after a delay)").check()
    # The slow card answers after about 3 s: asked with 2 s left, it lands too late.
    await expect(pay.get_by_role("timer")).to_have_text("2 s left to pay")
    await pay.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await expect(pay.locator(".pay__status")).to_have_text(
        "Payment processing: waiting for the bank's answer…"
    )
    await expect(ticket).to_have_attribute(
        "data-order-status", "refunded", timeout=ORDER_TIMEOUT_MS
    )
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "Refunded: your payment arrived after the deadline, so it was given back."
    )
    await expect(ticket.locator(".badge--refunded")).to_have_text("Refunded")
    await expect(page.locator("#announce-polite")).to_contain_text("Late socks: Refunded")
