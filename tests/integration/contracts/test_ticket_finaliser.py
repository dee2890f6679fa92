"""The order service's TicketFinaliser: Redis and the fake move tickets forward only."""

from __future__ import annotations

from uuid import uuid4

import pytest

from order_service.adapters.redis_tickets import RedisTicketFinaliser
from order_service.domain import outcomes_of
from shared.contracts.messages import PurchaseAccepted, PurchaseRejected
from shared.contracts.redis_layout import Keys, TicketField
from tests.unit.order.fakes import FakeTicketFinaliser

pytestmark = pytest.mark.integration


class Real:
    def __init__(self, redis_client, namespace):
        self.keys = Keys(namespace)
        self.redis = redis_client
        self.adapter = RedisTicketFinaliser(redis_client, self.keys)

    async def seen(self, ticket_id):
        fields = await self.redis.hgetall(self.keys.ticket(ticket_id))
        return fields.get(TicketField.STATUS), fields.get(TicketField.REASON)


class Fake:
    def __init__(self):
        self.adapter = FakeTicketFinaliser()

    async def seen(self, ticket_id):
        status, reason, _ = self.adapter.status.get(ticket_id, (None, None, None))
        return status, reason


@pytest.fixture(params=["fake", "redis"])
def tickets(request, redis_client, namespace):
    return Fake() if request.param == "fake" else Real(redis_client, namespace)


async def test_final_states_and_never_back(tickets):
    sale_id = uuid4()
    won = PurchaseAccepted(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), decided_at_ms=1)
    contradiction = PurchaseRejected(  # a late, contradictory message for the same ticket
        ticket_id=won.ticket_id,
        sale_id=sale_id,
        user_id=won.user_id,
        reason="sold_out",
        decided_at_ms=2,
    )
    await tickets.adapter.finalise(outcomes_of([won]))
    assert await tickets.seen(won.ticket_id) == ("confirmed", None)
    await tickets.adapter.finalise(outcomes_of([contradiction]))
    assert await tickets.seen(won.ticket_id) == ("confirmed", None)  # final is final


async def test_the_gateways_are_told(redis_client, namespace):
    keys = Keys(namespace)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(keys.ticket_updates)
    await pubsub.get_message(timeout=1)  # the confirmation of the subscription
    event = PurchaseAccepted(ticket_id=uuid4(), sale_id=uuid4(), user_id=uuid4(), decided_at_ms=1)
    await RedisTicketFinaliser(redis_client, keys).finalise(outcomes_of([event]))
    message = await pubsub.get_message(timeout=2)
    assert message is not None and str(event.ticket_id) in message["data"]
    await pubsub.aclose()
