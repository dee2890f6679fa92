import json
from uuid import uuid4

import pytest
from pydantic import ValidationError

from inventory_service.domain import (
    Accepted,
    NewSale,
    Rejected,
    SaleCounters,
    StockIncreased,
    UnknownSale,
    decide_batch,
    decide_purchase,
)
from shared.contracts.messages import AddStock, PlacePurchase

START, END = 1_000, 2_000


def sale(stock=2, limit=1):
    return SaleCounters(
        stock=stock, remaining=stock, starts_at_ms=START, ends_at_ms=END, per_user_limit=limit
    )


def intent(user=None, at=1_500, sale_id=None):
    return PlacePurchase(
        ticket_id=uuid4(), sale_id=sale_id or uuid4(), user_id=user or uuid4(), requested_at_ms=at
    )


@pytest.mark.parametrize(
    ("at", "accepted"),
    [(START - 1, False), (START, True), (END - 1, True), (END, False), (END + 5, False)],
)
def test_window_includes_start_and_excludes_end(at, accepted):
    s = sale()
    i = intent(at=at)
    decision = decide_purchase(s, i)
    assert decision == (
        Accepted(i.ticket_id) if accepted else Rejected(i.ticket_id, "sale_not_active")
    )
    assert s.remaining == (1 if accepted else 2)


def test_stock_runs_out_then_sold_out():
    s = sale(stock=2)
    decisions = [decide_purchase(s, intent()) for _ in range(4)]
    assert [type(d) for d in decisions] == [Accepted, Accepted, Rejected, Rejected]
    assert decisions[2:] == [Rejected(d.ticket_id, "sold_out") for d in decisions[2:]]
    assert (s.remaining, s.accepted, s.rejected) == (0, 2, 2)


def test_per_user_limit():
    s = sale(stock=10, limit=2)
    user = uuid4()
    decisions = [decide_purchase(s, intent(user=user)) for _ in range(3)]
    assert isinstance(decisions[0], Accepted) and isinstance(decisions[1], Accepted)
    assert decisions[2] == Rejected(decisions[2].ticket_id, "limit_reached")
    assert s.buyers[user] == 2 and s.remaining == 8


def test_sold_out_is_reported_before_the_limit():
    s = sale(stock=1)
    user = uuid4()
    decide_purchase(s, intent(user=user))
    second = intent(user=user)
    assert decide_purchase(s, second) == Rejected(second.ticket_id, "sold_out")


def test_redelivery_repeats_the_first_decision_without_a_second_decrement():
    sale_id = uuid4()
    sales = {sale_id: sale(stock=1)}
    first = intent(sale_id=sale_id)
    decided: dict = {}
    assert decide_batch(sales, [first], decided) == [Accepted(first.ticket_id)]
    second = intent(sale_id=sale_id)
    # The first intent comes again (a redelivery) next to a new one.
    assert decide_batch(sales, [first, second], decided) == [
        Accepted(first.ticket_id),
        Rejected(second.ticket_id, "sold_out"),
    ]
    assert sales[sale_id].remaining == 0 and sales[sale_id].accepted == 1


def test_add_stock_takes_effect_at_its_place_in_line_and_is_idempotent():
    sale_id = uuid4()
    sales = {sale_id: sale(stock=1)}
    top_up = AddStock(command_id=uuid4(), sale_id=sale_id, quantity=1, requested_at_ms=1_500)
    a, b, c = (intent(sale_id=sale_id) for _ in range(3))
    decided: dict = {}
    out = decide_batch(sales, [a, b, top_up, c, top_up], decided)
    assert out == [
        Accepted(a.ticket_id),
        Rejected(b.ticket_id, "sold_out"),
        StockIncreased(top_up.command_id, 2, 1),
        Accepted(c.ticket_id),
        StockIncreased(top_up.command_id, 2, 1),
    ]
    assert sales[sale_id].stock == 2 and sales[sale_id].remaining == 0


def test_unknown_sale_is_not_recorded():
    decided: dict = {}
    i = intent()
    assert decide_batch({}, [i], decided) == [UnknownSale(i.sale_id)]
    assert decided == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "nul\x00byte"},
        {"starts_at": "0001-01-01T00:00:00+23:59"},
        {"ends_at": "9999-12-31T23:59:59-01:00"},
        {"starts_at": "2030-01-01T00:00:00"},  # no offset
        {"ends_at": "2029-12-31T00:00:00Z"},  # before the start
        {"stock": 0},
        {"per_user_limit": 0},
    ],
)
def test_new_sale_refuses_what_cannot_be_stored_or_makes_no_sense(fields):
    base = {
        "name": "drop",
        "stock": 5,
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
    }
    with pytest.raises(ValidationError):
        NewSale.model_validate_json(json.dumps({**base, **fields}), strict=True)
