"""The payment webhook takes only what the provider signed, fresh and once; nobody pays or
sees another buyer's order, nor names the amount."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest

from order_service.payments import WebhookData, WebhookEvent
from order_service.settings import DEVELOPMENT_WEBHOOK_SECRET
from order_service.webhook_signature import HEADER, sign
from tests.security.helpers import assert_error, raw
from tests.support.api import Api, Reply

pytestmark = pytest.mark.e2e

WEBHOOK = "/api/v1/payments/webhook"
SECRET = DEVELOPMENT_WEBHOOK_SECRET  # the stack sets no PAYMENT_WEBHOOK_SECRET
WRONG_SECRET = "whsec_somebody_else_entirely"


@pytest.fixture
def stack_env(stack_env):
    # pm_card_slow stays unanswered for the whole test: a live charge the forgeries aim at.
    return {**stack_env, "SIMULATED_SLOW_PAYMENT_SECONDS": "600"}


def succeeded(payment: dict, **data: object) -> bytes:
    """A payment.succeeded body about ``payment`` (the API's payment object), new event id."""
    fields: dict[str, object] = {
        "payment_id": payment["payment_id"],
        "order_id": payment["order_id"],
        "amount": payment["amount"]["amount"],
        "currency": payment["amount"]["currency"],
        **data,
    }
    event = WebhookEvent(
        id=f"evt_{uuid4().hex}",
        type="payment.succeeded",
        created=int(time.time()),
        data=WebhookData.model_validate(fields),
    )
    return event.model_dump_json().encode()


async def post_webhook(api: Api, body: bytes, signature: str | None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[HEADER] = signature
    return await raw(api.session, "POST", api.base + WEBHOOK, data=body, headers=headers)


async def win(api: Api, token: str, sale_id: str) -> dict:
    reply = await api.purchase(token, sale_id)
    assert reply.status == 202, reply
    ticket = await api.wait_final(token, reply.body["ticket_id"])
    assert ticket["status"] == "confirmed", ticket
    return ticket


async def test_only_signed_fresh_new_events_about_our_payments_are_taken(api, admin_token):
    sale = await api.create_sale(admin_token, stock=2, per_user_limit=2)
    alice = await api.user("alice")
    pending, settled = [await win(api, alice, sale["sale_id"]) for _ in range(2)]
    started = await api.pay(alice, pending["order_id"], "pm_card_slow")
    assert started.status == 202, started
    live = started.body
    assert live["status"] == "processing"

    now = int(time.time())
    body = succeeded(live)  # what the provider will say about the live charge
    forged = succeeded(live, amount=live["amount"]["amount"] + 1)
    stranger = succeeded({**live, "payment_id": str(uuid4())})
    forgeries = [
        ("no signature", body, None, "signature_missing"),
        ("empty signature", body, " ", "signature_missing"),
        ("not key=value", body, "garbage", "signature_malformed"),
        ("no timestamp", body, "v1=" + "0" * 64, "signature_malformed"),
        ("timestamp not a number", body, "t=soon,v1=" + "0" * 64, "signature_malformed"),
        ("no v1", body, f"t={now}", "signature_malformed"),
        ("wrong secret", body, sign(body, WRONG_SECRET, now), "signature_mismatch"),
        ("10 minutes old", body, sign(body, SECRET, now - 600), "signature_too_old"),
        ("10 minutes ahead", body, sign(body, SECRET, now + 600), "signature_too_old"),
        ("signed another body", forged, sign(body, SECRET, now), "signature_mismatch"),
        ("amount changed, signed", forged, sign(forged, SECRET, now), "webhook_mismatch"),
        ("payment unknown, signed", stranger, sign(stranger, SECRET, now), "webhook_mismatch"),
    ]  # fmt: skip
    for what, payload, signature, code in forgeries:
        reply = await post_webhook(api, payload, signature)
        assert_error(reply, 400, code)
        order = (await api.order(alice, pending["order_id"])).body
        assert (order["status"], order["paid_at"]) == ("awaiting_payment", None), what
    ticket = (await api.ticket(alice, pending["ticket_id"])).body
    assert ticket["order_status"] == "awaiting_payment"
    # The live charge is still the order's only one: it was not settled by any of these.
    busy = await api.pay(alice, pending["order_id"], "pm_card_visa")
    assert_error(busy, 409, "payment_in_progress")

    # A real payment of the other order, through the simulated provider's own webhook.
    paying = await api.pay(alice, settled["order_id"], "pm_card_visa")
    assert paying.status == 202, paying
    paid = await api.wait_order(alice, settled["order_id"], ("paid",))
    assert paid["paid_at"] is not None
    # A correctly signed second answer about that charge (new event id) is taken and
    # changes nothing: the charge is settled.
    again = succeeded(paying.body)
    signature = sign(again, SECRET, int(time.time()))
    first = await post_webhook(api, again, signature)
    assert (first.status, first.body) == (200, {"received": True}), first
    assert (await api.order(alice, settled["order_id"])).body == paid
    # The same body and signature captured and sent again: a replay.
    replay = await post_webhook(api, again, signature)
    assert_error(replay, 400, "webhook_replayed")
    assert (await api.order(alice, settled["order_id"])).body == paid


async def test_another_buyers_order_cannot_be_seen_or_paid_and_the_amount_is_not_the_clients(
    api, admin_token
):
    sale = await api.create_sale(admin_token, stock=1)
    alice, bob = await api.user("alice"), await api.user("bob")
    order_id = (await win(api, alice, sale["sale_id"]))["order_id"]
    missing = str(uuid4())

    theirs, nothing = await api.order(bob, order_id), await api.order(bob, missing)
    assert_error(theirs, 404)
    assert theirs.body == nothing.body
    for key in (None, "bobs-key"):
        pay, pay_missing = await api.pay(bob, order_id, key=key), await api.pay(bob, missing)
        assert_error(pay, 404)
        assert pay.body == pay_missing.body
    # The amount is the order's: a client naming one is refused, whatever it names.
    for amount in (1, 0, {"amount": 1, "currency": "EUR"}):
        reply = await api.call(
            "POST",
            f"/api/v1/orders/{order_id}/payments",
            token=alice,
            json={"payment_method": "pm_card_visa", "amount": amount},
        )
        assert_error(reply, 422)
    order = (await api.order(alice, order_id)).body
    assert (order["status"], order["paid_at"]) == ("awaiting_payment", None)
    # Nothing was charged by any of these: the buyer's own payment is the first.
    mine = await api.pay(alice, order_id, key="alices-key")
    assert mine.status == 202, mine
    assert mine.body["amount"] == order["price"]
    await api.wait_order(alice, order_id, ("paid",))
