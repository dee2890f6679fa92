"""The purchase use case on fakes: rules, batching, idempotency, failures; no server."""

from __future__ import annotations

import asyncio
import dataclasses
from uuid import UUID, uuid4

import pytest

from gateway.domain import AdmissionLimits, SaleSnapshot
from gateway.handlers import Purchases
from shared.contracts.errors import Conflict, NotFound, ServiceUnavailable
from shared.contracts.sales import SaleTerms, now_ms
from shared.contracts.topology import Names, partition_of
from shared.runtime import request_ids
from tests.unit.gateway.fakes import FakeIdempotency, FakeIntents, FakeSales, FakeTickets

PARTITIONS = 4


def sale(*, remaining=10, stock=10, starts_in_ms=-60_000, waiting=0, sale_id=None):
    now = now_ms()
    return SaleSnapshot(
        sale_id=sale_id or uuid4(),
        name="drop",
        starts_at_ms=now + starts_in_ms,
        ends_at_ms=now + 3_600_000,
        per_user_limit=1,
        stock=stock,
        remaining=remaining,
        accepted=stock - remaining,
        rejected=0,
        enqueued=stock - remaining + waiting,
        version=1,
        terms=SaleTerms.from_hash(uuid4(), {"name": "drop"}),
    )


def sale_in(partition: int) -> UUID:
    while True:
        sale_id = uuid4()
        if partition_of(sale_id, PARTITIONS) == partition:
            return sale_id


class World:
    def __init__(self, *sales: SaleSnapshot, limits: AdmissionLimits | None = None) -> None:
        self.sales = FakeSales(*sales)
        self.tickets = FakeTickets()
        self.intents = FakeIntents()
        self.idempotency = FakeIdempotency()
        self.purchases = Purchases(
            sales=self.sales,
            tickets=self.tickets,
            intents=self.intents,
            idempotency=self.idempotency,
            names=Names("ns", PARTITIONS),
            limits=limits
            or AdmissionLimits(demand_factor=20, demand_slack=1000, partition_max_waiting=10**6),
            linger=0.001,
            max_batch=50,
        )


async def test_a_purchase_is_queued_with_its_record_and_request_id():
    open_sale = sale()
    world = World(open_sale)
    user = uuid4()
    token = request_ids.bind("rid-7")
    try:
        ticket_id, status = await world.purchases.place(user, open_sale.sale_id, None)
    finally:
        request_ids.unbind(token)
    assert status == "queued"
    [(partition, [intent], ids)] = world.intents.messages
    assert partition == partition_of(open_sale.sale_id, PARTITIONS)
    assert (intent.ticket_id, intent.user_id, intent.sale_id) == (
        ticket_id,
        str(user),
        str(open_sale.sale_id),
    )
    assert ids == ["rid-7"]
    assert (await world.tickets.get(ticket_id, str(user))).status == "queued"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("shape", "error", "code"),
    [
        ({"starts_in_ms": 60_000}, Conflict, "sale_not_active"),
        ({"remaining": 0}, Conflict, "sold_out"),
        ({"remaining": 1, "waiting": 1_100}, Conflict, "demand_exceeds_stock"),
    ],
)
async def test_what_could_only_be_rejected_is_refused_without_queueing(shape, error, code):
    snapshot = sale(**shape)  # built now: the clock moves while the suite runs
    world = World(snapshot)
    with pytest.raises(error) as refused:
        await world.purchases.place(uuid4(), snapshot.sale_id, None)
    assert refused.value.code == code
    assert world.intents.messages == [] and world.tickets.records == {}


async def test_an_unknown_sale_is_404():
    with pytest.raises(NotFound):
        await World().purchases.place(uuid4(), uuid4(), None)


async def test_a_deep_partition_is_503_overloaded():
    first, second = sale(waiting=30, sale_id=sale_in(0)), sale(waiting=30, sale_id=sale_in(0))
    limits = AdmissionLimits(demand_factor=20, demand_slack=1000, partition_max_waiting=50)
    world = World(first, second, limits=limits)
    with pytest.raises(ServiceUnavailable) as refused:
        await world.purchases.place(uuid4(), first.sale_id, None)
    assert refused.value.code == "overloaded"


async def test_purchases_that_arrive_together_share_one_message_per_partition():
    a, b = sale(sale_id=sale_in(0)), sale(sale_id=sale_in(1))
    world = World(a, b)
    await asyncio.gather(
        *(world.purchases.place(uuid4(), a.sale_id, None) for _ in range(20)),
        *(world.purchases.place(uuid4(), b.sale_id, None) for _ in range(5)),
    )
    sizes = sorted((partition, len(batch)) for partition, batch, _ in world.intents.messages)
    assert sizes == [(0, 20), (1, 5)]


async def test_batches_grow_while_confirms_are_slow():
    open_sale = sale()
    world = World(open_sale)
    world.intents.gate = asyncio.Event()
    placing = [asyncio.create_task(world.purchases.place(uuid4(), open_sale.sale_id, None))]
    await asyncio.sleep(0.01)  # the first batch is out, awaiting its confirm
    placing += [
        asyncio.create_task(world.purchases.place(uuid4(), open_sale.sale_id, None))
        for _ in range(30)
    ]
    await asyncio.sleep(0.01)
    world.intents.gate.set()
    await asyncio.gather(*placing)
    sizes = [len(batch) for _, batch, _ in world.intents.messages]
    assert sum(sizes) == 31 and len(sizes) <= 3, sizes  # not one message per purchase


async def test_a_failed_batch_fails_exactly_its_requests_and_is_withdrawn():
    a, b = sale(sale_id=sale_in(0)), sale(sale_id=sale_in(1))
    world = World(a, b)
    world.intents.fail_with = ConnectionError("the broker went away")
    world.intents.gate = asyncio.Event()
    placing = asyncio.gather(
        *(world.purchases.place(uuid4(), a.sale_id, None) for _ in range(3)),
        return_exceptions=True,
    )
    await asyncio.sleep(0.01)
    world.intents.gate.set()
    results = await placing
    refused = [r for r in results if isinstance(r, ServiceUnavailable)]
    assert len(refused) == 3, results
    assert all(r.headers["Retry-After"] == "1" for r in refused)
    assert world.tickets.records == {} and len(world.tickets.withdrawn) == 3
    assert world.tickets.enqueued[str(a.sale_id)] == 0
    # The next batch, and other partitions, are not affected.
    await world.purchases.place(uuid4(), b.sale_id, None)
    await world.purchases.place(uuid4(), a.sale_id, None)


async def test_when_the_records_cannot_be_written_nothing_is_queued():
    open_sale = sale()
    world = World(open_sale)
    world.tickets.fail_with = TimeoutError()
    with pytest.raises(ServiceUnavailable):
        await world.purchases.place(uuid4(), open_sale.sale_id, None)
    assert world.intents.messages == []


async def test_a_bug_in_a_batch_is_not_turned_into_a_503():
    open_sale = sale()
    world = World(open_sale)
    user = uuid4()
    world.intents.fail_with = KeyError("a bug")
    with pytest.raises(KeyError):  # a 500 with its log line, not a "retry shortly"
        await world.purchases.place(user, open_sale.sale_id, "k")
    # The key was let go: a retry is tried again rather than "in progress" for a day.
    assert (await world.purchases.place(user, open_sale.sale_id, "k"))[1] == "queued"


async def test_a_repeated_key_gets_the_same_ticket_even_after_the_window():
    open_sale = sale()
    world = World(open_sale)
    user = uuid4()
    first = await world.purchases.place(user, open_sale.sale_id, "key-1")
    world.sales.sales[open_sale.sale_id] = sale(remaining=0, sale_id=open_sale.sale_id)
    assert await world.purchases.place(user, open_sale.sale_id, "key-1") == first
    assert len(world.intents.messages) == 1
    # Another user's key of the same name is theirs alone.
    with pytest.raises(Conflict):  # the sale is sold out now
        await world.purchases.place(uuid4(), open_sale.sale_id, "key-1")


async def test_a_repeat_while_the_first_is_queued_is_told_to_wait():
    open_sale = sale()
    world = World(open_sale)
    world.intents.gate = asyncio.Event()
    user = uuid4()
    first = asyncio.create_task(world.purchases.place(user, open_sale.sale_id, "key-1"))
    await asyncio.sleep(0.01)
    with pytest.raises(Conflict) as waiting:
        await world.purchases.place(user, open_sale.sale_id, "key-1")
    assert waiting.value.code == "request_in_progress"
    assert waiting.value.headers["Retry-After"] == "1"
    world.intents.gate.set()
    ticket_id, _ = await first
    assert (await world.purchases.place(user, open_sale.sale_id, "key-1"))[0] == ticket_id


async def test_a_failed_request_frees_its_key():
    open_sale = sale()
    world = World(open_sale)
    user = uuid4()
    world.intents.fail_with = ConnectionError()
    with pytest.raises(ServiceUnavailable):
        await world.purchases.place(user, open_sale.sale_id, "key-1")
    _, status = await world.purchases.place(user, open_sale.sale_id, "key-1")
    assert status == "queued" and len(world.intents.messages) == 1


async def test_close_queues_what_is_waiting():
    open_sale = sale()
    world = World(open_sale)
    placing = asyncio.create_task(world.purchases.place(uuid4(), open_sale.sale_id, None))
    await asyncio.sleep(0)
    await world.purchases.close()
    assert (await placing)[1] == "queued"


def sale_with_room(starts_in_ms=60_000):
    """A sale whose waiting room is open now (opened a minute ago, starts later)."""
    base = sale(starts_in_ms=starts_in_ms)
    room = base.terms.model_copy(update={"waiting_room_opens_ms": now_ms() - 60_000})
    return dataclasses.replace(base, terms=room)


async def test_a_buyer_holds_one_waiting_room_ticket_and_the_room_is_not_shortened():
    # Demand far beyond the stock would be 409 in a line; the room takes it.
    room_sale = dataclasses.replace(sale_with_room(), enqueued=10**6)
    world = World(room_sale, limits=AdmissionLimits(1, 0, 10**6))
    user = uuid4()
    ticket_id, status = await world.purchases.place(user, room_sale.sale_id, None)
    assert status == "waiting_room"
    assert world.tickets.records[ticket_id].status == "waiting_room"
    with pytest.raises(Conflict) as again:
        await world.purchases.place(user, room_sale.sale_id, None)
    assert again.value.code == "already_in_waiting_room"
    assert len(world.intents.messages) == 1


async def test_a_waiting_room_purchase_that_fails_frees_its_key_and_its_place():
    room_sale = sale_with_room()
    world = World(room_sale)
    user = uuid4()
    world.tickets.fail_with = ConnectionError("redis went away")  # at joining the room
    with pytest.raises(ServiceUnavailable):
        await world.purchases.place(user, room_sale.sale_id, "key-1")
    world.intents.fail_with = ConnectionError("the broker went away")  # joined, not queued
    with pytest.raises(ServiceUnavailable):
        await world.purchases.place(user, room_sale.sale_id, "key-1")
    assert world.tickets.rooms == {}
    _, status = await world.purchases.place(user, room_sale.sale_id, "key-1")
    assert status == "waiting_room"
