"""The inventory service's use cases on fakes: no server, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from inventory_service import handlers
from inventory_service.domain import NewSale, SaleRequest, StockIncreased
from shared.contracts.messages import (
    AddStock,
    PlacePurchase,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
)
from shared.contracts.products import Money, NewProduct
from shared.contracts.sales import datetime_to_ms
from tests.unit.inventory.fakes import (
    FakeCommandLine,
    FakeDecisionPublisher,
    FakeOrderCounts,
    FakeProducts,
    FakeSaleRecords,
    FakeSaleStore,
)

NOW = datetime.now(UTC)


def new_sale(stock: int = 2, limit: int = 1) -> NewSale:
    return NewSale(
        name="drop",
        stock=stock,
        starts_at=NOW - timedelta(minutes=1),
        ends_at=NOW + timedelta(hours=1),
        per_user_limit=limit,
    )


def core(counters):
    """The counters of a sale without a waitlist or releases."""
    return {k: counters[k] for k in ("stock", "remaining", "accepted", "rejected")}


def purchase(sale_id, user=None, at=None) -> PlacePurchase:
    return PlacePurchase(
        ticket_id=uuid4(),
        sale_id=sale_id,
        user_id=user or uuid4(),
        requested_at_ms=at if at is not None else datetime_to_ms(NOW),
    )


@pytest.fixture
def deps():
    return {
        "store": FakeSaleStore(),
        "records": FakeSaleRecords(),
        "publisher": FakeDecisionPublisher(),
    }


async def decide(deps, commands, ids=None):
    ids = ids if ids is not None else [f"r{i}" for i in range(len(commands))]
    await handlers.decide_intents(commands, ids, **deps)


async def test_a_batch_is_decided_in_line_order_and_published_with_its_request_ids(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale(stock=2, limit=1))
    alice = uuid4()
    batch = [
        purchase(sale_id, alice),
        purchase(sale_id, alice),
        purchase(sale_id),
        purchase(sale_id),
    ]
    await decide(deps, batch)

    [(events, ids)] = deps["publisher"].published  # one message for the whole batch
    assert [type(e) for e in events] == [
        PurchaseAccepted,
        PurchaseRejected,  # alice's second: the per-user limit
        PurchaseAccepted,
        PurchaseRejected,  # the stock is gone
    ]
    assert [getattr(e, "reason", None) for e in events] == [
        None,
        "limit_reached",
        None,
        "sold_out",
    ]
    assert [e.ticket_id for e in events] == [p.ticket_id for p in batch]
    assert ids == ["r0", "r1", "r2", "r3"]
    assert core(await deps["store"].counters(sale_id)) == {
        "stock": 2,
        "remaining": 0,
        "accepted": 2,
        "rejected": 2,
    }


async def test_a_redelivered_batch_repeats_its_decisions_and_takes_nothing_twice(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale(stock=1))
    first, second = purchase(sale_id), purchase(sale_id)
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=3, requested_at_ms=0)
    await decide(deps, [first, top_up, second])
    await decide(deps, [first, top_up, second])  # the ack was lost: the broker redelivers

    (once, once_ids), (again, again_ids) = deps["publisher"].published
    # The same decisions (only the time they were announced differs, and the payment
    # deadline counted from it: the order service keeps the first).
    announced = {"decided_at_ms", "pay_by_ms"}
    assert [e.model_dump(exclude=announced) for e in once] == [
        e.model_dump(exclude=announced) for e in again
    ]
    assert once_ids == again_ids
    assert core(await deps["store"].counters(sale_id)) == {
        "stock": 4,
        "remaining": 2,
        "accepted": 2,
        "rejected": 0,
    }
    assert deps["records"].stock_changes == {top_up.command_id: (sale_id, 3)}


async def test_items_of_an_unknown_sale_are_dead_lettered_and_the_rest_decided(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale())
    known, unknown = purchase(sale_id), purchase(uuid4())
    await decide(deps, [unknown, known], ids=["a", "b"])
    assert deps["publisher"].dead == [([unknown], ["a"], "unknown_sale")]
    [(events, ids)] = deps["publisher"].published
    assert [(e.ticket_id, i) for e, i in zip(events, ids, strict=True)] == [(known.ticket_id, "b")]


async def test_top_ups_are_recorded_durably_and_published(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale(stock=1))
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=5, requested_at_ms=0)
    await decide(deps, [top_up])
    assert deps["records"].stock_changes == {top_up.command_id: (sale_id, 5)}
    [event] = deps["publisher"].events
    assert isinstance(event, StockAdded)
    assert (event.stock, event.remaining, event.quantity) == (6, 6, 5)


@pytest.mark.parametrize("failing", ["publish", "dead_letter", "record"])
async def test_a_failure_raises_and_the_redelivery_completes_the_batch(deps, failing):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale(stock=1))
    batch = [
        purchase(sale_id),
        purchase(uuid4()),  # unknown sale
        AddStock(command_id=uuid4(), sale_id=sale_id, quantity=1, requested_at_ms=0),
    ]
    target = deps["records"] if failing == "record" else deps["publisher"]
    target.fail_with = ConnectionError("the server went away")
    with pytest.raises(ConnectionError):
        await decide(deps, batch)
    # Nothing was acked, so the broker redelivers the batch: the same decisions, once.
    await decide(deps, batch)
    [(events, _)] = deps["publisher"].published
    assert isinstance(events[0], PurchaseAccepted)
    assert isinstance(events[1], StockAdded) and events[1].stock == 2
    assert core(await deps["store"].counters(sale_id)) == {
        "stock": 2,
        "remaining": 1,
        "accepted": 1,
        "rejected": 0,
    }
    assert len(deps["records"].stock_changes) == 1


async def test_a_store_failure_decides_nothing(deps):
    sale_id = uuid4()
    await deps["store"].create(sale_id, new_sale())
    deps["store"].fail_with = TimeoutError()
    with pytest.raises(TimeoutError):
        await decide(deps, [purchase(sale_id)])
    assert deps["publisher"].published == []
    assert (await deps["store"].counters(sale_id))["remaining"] == 2


async def test_create_sale_writes_the_durable_record_first(deps):
    products = FakeProducts()
    product_id = uuid4()
    await products.insert(
        product_id, NewProduct(name="p", price=Money(amount=500, currency="EUR")), uuid4()
    )
    deps["store"].fail_with = ConnectionError()
    with pytest.raises(ConnectionError):
        await handlers.create_sale(
            SaleRequest(**new_sale().model_dump(exclude={"product_id"}), product_id=product_id),
            uuid4(),
            default_payment_window=600,
            products=products,
            records=deps["records"],
            store=deps["store"],
        )
    # The record exists; the start-up repair puts the missing counters in place.
    assert len(deps["records"].sales) == 1
    restored = await handlers.restore_missing_sales(
        records=deps["records"], order_counts=FakeOrderCounts(), store=deps["store"]
    )
    assert restored == 1
    [sale_id] = deps["records"].sales
    assert (await deps["store"].counters(sale_id))["remaining"] == 2


async def test_restore_rebuilds_only_missing_counters_from_the_orders(deps):
    present, lost = uuid4(), uuid4()
    for sale_id in (present, lost):
        await deps["records"].insert(sale_id, new_sale(stock=10), uuid4())
    await deps["store"].create(present, new_sale(stock=10), remaining=7)
    restored = await handlers.restore_missing_sales(
        records=deps["records"],
        order_counts=FakeOrderCounts({present: 3, lost: 4}),
        store=deps["store"],
    )
    assert restored == 1
    assert (await deps["store"].counters(present))["remaining"] == 7  # left alone
    assert core(await deps["store"].counters(lost)) == {
        "stock": 10,
        "remaining": 6,
        "accepted": 4,
        "rejected": 0,
    }


async def test_add_stock_goes_through_the_line_and_reports_its_effect():
    store = FakeSaleStore()
    sale_id = uuid4()
    await store.create(sale_id, new_sale(stock=2))
    line = FakeCommandLine(store)
    command_id, outcome = await handlers.add_stock(
        sale_id, 3, line=line, store=store, request_id="rid-1"
    )
    assert outcome == StockIncreased(command_id, stock=5, remaining=5)
    [(command, request_id)] = line.enqueued
    assert isinstance(command, AddStock)
    assert (command.command_id, command.quantity, request_id) == (command_id, 3, "rid-1")


async def test_add_stock_behind_a_long_line_is_reported_queued():
    store = FakeSaleStore()
    sale_id = uuid4()
    await store.create(sale_id, new_sale())
    _, outcome = await handlers.add_stock(
        sale_id, 1, line=FakeCommandLine(store=None), store=store, wait=0.05
    )
    assert outcome is None
