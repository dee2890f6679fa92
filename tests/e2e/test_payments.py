"""Selling a product: a winner's order awaits payment until pay_by, is paid through the
provider's signed webhook, or expires and its unit goes to the next buyer on the waitlist."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.e2e

VISA, DECLINED = "pm_card_visa", "pm_card_chargeDeclined"


def invariant(stats: dict) -> None:
    assert stats["paid"] + stats["awaiting_payment"] + stats["remaining"] == stats["stock"], stats


async def win(api, token: str, sale_id: str) -> dict:
    reply = await api.purchase(token, sale_id)
    assert reply.status == 202, reply
    return await api.wait_final(token, reply.body["ticket_id"])


async def test_a_winner_pays_the_sale_price_once(api, admin_token):
    product = await api.create_product(admin_token, name="Sneaker", amount=12_900)
    sale = await api.create_sale(
        admin_token,
        stock=2,
        product_id=product["product_id"],
        price={"amount": 9_900, "currency": "EUR"},
    )
    assert sale["product"] == product and sale["price"] == {"amount": 9_900, "currency": "EUR"}
    assert sale["payment_window_seconds"] == 600
    alice, bob = await api.user("alice"), await api.user("bob")
    ticket = await win(api, alice, sale["sale_id"])
    assert (ticket["status"], ticket["order_status"]) == ("confirmed", "awaiting_payment")
    order = (await api.order(alice, ticket["order_id"])).body
    assert order["status"] == "awaiting_payment" and order["pay_by"] is not None
    assert order["price"] == {"amount": 9_900, "currency": "EUR"}
    assert order["product"]["name"] == "Sneaker"
    # Another buyer cannot see it or pay it; a client-sent amount is refused.
    assert (await api.order(bob, ticket["order_id"])).status == 404
    assert (await api.pay(bob, ticket["order_id"])).status == 404
    amount = await api.call(
        "POST",
        f"/api/v1/orders/{ticket['order_id']}/payments",
        token=alice,
        json={"payment_method": VISA, "amount": 1},
    )
    assert amount.status == 422
    unknown = await api.pay(alice, ticket["order_id"], "pm_card_unknown")
    assert (unknown.status, unknown.body["error"]["code"]) == (422, "unknown_payment_method")

    first = await api.pay(alice, ticket["order_id"], key="pay-1")
    again = await api.pay(alice, ticket["order_id"], key="pay-1")
    assert first.status == again.status == 202
    assert first.body["status"] == "processing"
    assert again.body["payment_id"] == first.body["payment_id"]
    assert first.body["amount"] == {"amount": 9_900, "currency": "EUR"}
    paid = await api.wait_order(alice, ticket["order_id"], ("paid",))
    assert paid["paid_at"] is not None
    other = await api.pay(alice, ticket["order_id"], key="pay-2")
    assert (other.status, other.body["error"]["code"]) == (409, "already_paid")
    shown = await api.wait_ticket(alice, ticket["ticket_id"], lambda t: t["order_status"] == "paid")
    assert shown["status"] == "confirmed"
    stats = await api.stats(admin_token, sale["sale_id"])
    assert (stats["paid"], stats["awaiting_payment"], stats["remaining"]) == (1, 0, 1)
    assert stats["revenue"] == {"amount": 9_900, "currency": "EUR"}
    invariant(stats)
    assert [o["status"] for o in (await api.call("GET", "/api/v1/orders", token=alice)).body] == [
        "paid"
    ]


async def test_a_declined_card_leaves_the_order_to_pay_with_another(api, admin_token):
    sale = await api.create_sale(admin_token, stock=1)
    alice, bob = await api.user("alice"), await api.user("bob")
    ticket = await win(api, alice, sale["sale_id"])
    declined = await api.pay(alice, ticket["order_id"], DECLINED)
    assert declined.status == 202
    payments = f"/api/v1/orders/{ticket['order_id']}/payments"
    for _ in range(200):
        listed = (await api.call("GET", payments, token=alice)).body
        if listed[0]["status"] != "processing":
            break
        await asyncio.sleep(0.05)
    assert [(p["status"], p["failure_code"]) for p in listed] == [("failed", "card_declined")]
    assert (await api.order(alice, ticket["order_id"])).body["status"] == "awaiting_payment"
    assert (await api.call("GET", payments, token=bob)).status == 404
    retry = await api.pay(alice, ticket["order_id"], VISA)
    assert retry.status == 202
    await api.wait_order(alice, ticket["order_id"], ("paid",))
    listed = (await api.call("GET", payments, token=alice)).body
    assert [p["status"] for p in listed] == ["failed", "succeeded"]


async def test_an_unpaid_order_expires_and_its_unit_goes_to_the_first_on_the_waitlist(
    api, admin_token
):
    sale = await api.create_sale(admin_token, stock=1, payment_window_seconds=5, waitlist_size=2)
    alice, bob, carol, dave = [await api.user(n) for n in ("alice", "bob", "carol", "dave")]
    won = await win(api, alice, sale["sale_id"])
    waiting = []
    for token in (bob, carol):
        reply = await api.purchase(token, sale["sale_id"])
        assert reply.status == 202, reply
        waiting.append(
            await api.wait_ticket(token, reply.body["ticket_id"], lambda t: t["status"] != "queued")
        )
    assert [(t["status"], t["position"]) for t in waiting] == [("waitlisted", 1), ("waitlisted", 2)]
    # The waitlist is full: the sale is sold out to anyone else.
    full = await api.purchase(dave, sale["sale_id"])
    assert full.status in (202, 409)
    if full.status == 202:
        assert (await api.wait_final(dave, full.body["ticket_id"]))["reason"] == "sold_out"
    invariant(await api.stats(admin_token, sale["sale_id"]))

    # Alice never pays: her order expires, and Bob gets the unit with a window of his own.
    expired = await api.wait_order(alice, won["order_id"], ("expired",), timeout=15)
    assert expired["expired_at"] is not None
    late = await api.pay(alice, won["order_id"])
    assert (late.status, late.body["error"]["code"]) == (409, "order_not_payable")
    bobs = await api.wait_final(bob, waiting[0]["ticket_id"], timeout=10)
    assert (bobs["status"], bobs["order_status"]) == ("confirmed", "awaiting_payment")
    carols = await api.ticket(carol, waiting[1]["ticket_id"])
    assert (carols.body["status"], carols.body["position"]) == ("waitlisted", 1)
    assert (await api.pay(bob, bobs["order_id"])).status == 202
    await api.wait_order(bob, bobs["order_id"], ("paid",))
    stats = await api.stats(admin_token, sale["sale_id"])
    assert (stats["paid"], stats["expired"], stats["released"], stats["waitlisted"]) == (1, 1, 1, 1)
    invariant(stats)


async def test_a_buyer_whose_order_expired_may_buy_again(api, admin_token):
    sale = await api.create_sale(admin_token, stock=2, payment_window_seconds=5)
    alice = await api.user("alice")
    first = await win(api, alice, sale["sale_id"])
    assert (await win(api, alice, sale["sale_id"]))["reason"] == "limit_reached"
    await api.wait_order(alice, first["order_id"], ("expired",), timeout=15)
    # The release reaches the decider through the sale's line, a moment after the expiry.
    for _ in range(100):
        if (await api.stats(admin_token, sale["sale_id"]))["released"] == 1:
            break
        await asyncio.sleep(0.05)
    again = await win(api, alice, sale["sale_id"])
    assert again["status"] == "confirmed"
