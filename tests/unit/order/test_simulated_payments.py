"""The simulated provider against a real local webhook endpoint: what it sends, signed how,
when, and what it does when our side fails or refuses."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import uuid4

import aiohttp
import pytest
from aiohttp import web

from order_service.adapters.simulated_payments import SimulatedPaymentProvider
from order_service.payments import (
    Charge,
    PaymentProvider,
    ProviderUnavailable,
    Refund,
    WebhookEvent,
    parse_event,
)
from order_service.webhook_signature import HEADER, InvalidSignature, verify

SECRET = "whsec_test"
PATH = "/api/v1/payments/webhook"
DROP = 0  # an answer that closes the connection instead


class Clock:
    """The provider's wall clock; each reading moves it ``step`` seconds on."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1_700_000_000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass
class Delivery:
    event: WebhookEvent
    signed_at: int
    arrived_at: float  # loop time
    content_type: str


class Webhook:
    """Our endpoint: verifies and records each call, answers from a script, then 200."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.deliveries: list[Delivery] = []
        self.refusals: list[str] = []
        self.answers: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            signed_at = verify(body, request.headers.get(HEADER), SECRET, now=int(self.clock.now))
        except InvalidSignature as exc:
            self.refusals.append(exc.code)
            return web.Response(status=400, text=exc.code)
        self.deliveries.append(
            Delivery(
                parse_event(body),
                signed_at,
                asyncio.get_running_loop().time(),
                request.content_type,
            )
        )
        answer = self.answers.pop(0) if self.answers else 200
        if answer == DROP:
            assert request.transport is not None
            request.transport.close()  # the client sees the connection go, with no answer
        return web.Response(status=answer)

    async def wait_for(self, count: int, within: float = 1.0) -> list[Delivery]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.deliveries) < count:
            assert loop.time() < deadline, f"{len(self.deliveries)} of {count} webhooks arrived"
            await asyncio.sleep(0.005)
        return self.deliveries


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def webhook(aiohttp_server, clock):
    hook = Webhook(clock)
    app = web.Application()
    app.router.add_post(PATH, hook.handle)
    server = await aiohttp_server(app)
    hook.url = str(server.make_url(PATH))
    yield hook
    assert hook.refusals == []  # every call the provider made was signed right


@pytest.fixture
async def make_provider(webhook, clock):
    async with aiohttp.ClientSession() as session:
        made: list[PaymentProvider] = []

        def make(**overrides) -> PaymentProvider:
            options = {"secret": SECRET, "delay": 0.01, "slow_delay": 0.3, "clock": clock}
            # Annotated as the port: mypy holds the adapter to the Protocol.
            provider: PaymentProvider = SimulatedPaymentProvider(
                session, webhook_url=webhook.url, **(options | overrides)
            )
            made.append(provider)
            return provider

        yield make
        for provider in made:
            await provider.close()


@pytest.fixture
def provider(make_provider):
    return make_provider()


def charge(method: str = "pm_card_visa", **overrides) -> Charge:
    fields = {
        "payment_id": uuid4(),
        "order_id": uuid4(),
        "amount": 4_200,
        "currency": "EUR",
        "payment_method": method,
        **overrides,
    }
    return Charge(**fields)


def refund_of(c: Charge) -> Refund:
    return Refund(
        payment_id=c.payment_id, order_id=c.order_id, amount=c.amount, currency=c.currency
    )


def test_it_accepts_the_test_cards_only(make_provider):
    provider = make_provider()
    assert provider.name == "simulated"
    assert all(
        provider.accepts(m) for m in ("pm_card_visa", "pm_card_chargeDeclined", "pm_card_slow")
    )
    assert not provider.accepts("pm_card_mastercard")
    assert not provider.accepts("")


async def test_visa_sends_one_signed_payment_succeeded(provider, webhook, clock):
    c = charge()
    await provider.charge(c)
    [delivery] = await webhook.wait_for(1)
    event = delivery.event
    assert event.type == "payment.succeeded"
    assert event.id.startswith("evt_")
    assert event.created == int(clock.now)
    assert (event.data.payment_id, event.data.order_id) == (c.payment_id, c.order_id)
    assert (event.data.amount, event.data.currency) == (4_200, "EUR")
    assert event.data.failure_code is None
    assert delivery.content_type == "application/json"
    await asyncio.sleep(0.05)
    assert len(webhook.deliveries) == 1


async def test_a_declined_card_sends_payment_failed(provider, webhook):
    c = charge("pm_card_chargeDeclined")
    await provider.charge(c)
    [delivery] = await webhook.wait_for(1)
    assert delivery.event.type == "payment.failed"
    assert delivery.event.data.failure_code == "card_declined"
    assert delivery.event.data.payment_id == c.payment_id


async def test_a_slow_card_answers_after_the_slow_delay(provider, webhook):
    started = asyncio.get_running_loop().time()
    await provider.charge(charge("pm_card_slow"))
    await asyncio.sleep(0.2)
    assert webhook.deliveries == []  # still pending
    [delivery] = await webhook.wait_for(1)
    assert delivery.event.type == "payment.succeeded"
    # The loop may wake a timer up to its clock resolution early.
    assert delivery.arrived_at - started >= 0.3 - 0.01


async def test_a_5xx_is_retried_with_the_same_event_freshly_signed(make_provider, webhook, clock):
    clock.step = 60  # every reading is a minute later: a fresh signature shows in t
    webhook.answers = [500]
    provider = make_provider()
    started = asyncio.get_running_loop().time()
    await provider.charge(charge())
    first, second = await webhook.wait_for(2)
    assert first.event == second.event  # same id, same body
    assert second.signed_at > first.signed_at
    assert second.arrived_at - first.arrived_at >= 0.2 - 0.01  # the first backoff
    assert second.arrived_at - started < 1
    await asyncio.sleep(0.05)
    assert len(webhook.deliveries) == 2


async def test_a_dropped_connection_is_retried(make_provider, webhook):
    webhook.answers = [DROP]
    provider = make_provider()
    await provider.charge(charge())
    first, second = await webhook.wait_for(2)
    assert first.event == second.event


async def test_retries_stop_after_the_last_one(make_provider, webhook, caplog):
    webhook.answers = [503, 503, 503]
    provider = make_provider(retries=1)
    await provider.charge(charge())
    await webhook.wait_for(2)
    await asyncio.sleep(0.5)  # past the next backoff (0.4 s)
    assert len(webhook.deliveries) == 2
    assert "webhook not delivered" in caplog.messages


async def test_a_4xx_is_not_retried(provider, webhook, caplog):
    webhook.answers = [400]
    with caplog.at_level(logging.WARNING):
        await provider.charge(charge())
        await webhook.wait_for(1)
        await asyncio.sleep(0.35)  # past the first backoff (0.2 s)
    assert len(webhook.deliveries) == 1
    assert "webhook refused" in caplog.messages


async def test_a_wrong_secret_is_refused_by_our_side_and_not_retried(make_provider, webhook):
    provider = make_provider(secret="not ours")
    await provider.charge(charge())
    await asyncio.sleep(0.35)
    assert webhook.refusals == ["signature_mismatch"]  # once: a 4xx is final
    webhook.refusals.clear()  # expected here; the fixture checks there are none elsewhere


async def test_a_refund_asked_twice_answers_once(provider, webhook):
    c = charge()
    await provider.refund(refund_of(c))
    await provider.refund(refund_of(c))
    [delivery] = await webhook.wait_for(1)
    assert delivery.event.type == "refund.succeeded"
    assert (delivery.event.data.payment_id, delivery.event.data.amount) == (c.payment_id, 4_200)
    await asyncio.sleep(0.05)
    assert len(webhook.deliveries) == 1


async def test_a_charge_asked_twice_answers_once(provider, webhook):
    c = charge()
    await provider.charge(c)
    await provider.charge(c)
    await webhook.wait_for(1)
    await asyncio.sleep(0.05)
    assert len(webhook.deliveries) == 1


async def test_close_cancels_a_pending_delivery(provider, webhook):
    await provider.charge(charge("pm_card_slow"))
    await provider.close()
    await asyncio.sleep(0.35)  # past the slow delay
    assert webhook.deliveries == []
    with pytest.raises(ProviderUnavailable):
        await provider.charge(charge())


async def test_an_unknown_method_is_a_caller_error(provider, webhook):
    with pytest.raises(ValueError, match="unknown payment method"):
        await provider.charge(charge("pm_card_mastercard"))
