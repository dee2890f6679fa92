from uuid import uuid4

import pytest

from gateway.domain import AdmissionLimits, admit, ensure_purchasable
from shared.contracts.errors import Conflict, ServiceUnavailable
from shared.contracts.sales import SaleTerms, SaleView

LIMITS = AdmissionLimits(demand_factor=10, demand_slack=100, partition_max_waiting=5_000)


def test_demand_within_bounds_is_admitted():
    admit(remaining=50, waiting_for_sale=599, waiting_in_partition=599, limits=LIMITS)


def test_demand_far_beyond_the_stock_left_is_409():
    with pytest.raises(Conflict) as caught:
        admit(remaining=50, waiting_for_sale=600, waiting_in_partition=600, limits=LIMITS)
    assert caught.value.code == "demand_exceeds_stock"
    assert caught.value.headers["Retry-After"]


def test_a_deep_partition_is_503_with_retry_after():
    with pytest.raises(ServiceUnavailable) as caught:
        admit(remaining=10**6, waiting_for_sale=1, waiting_in_partition=5_000, limits=LIMITS)
    assert caught.value.code == "overloaded"
    assert caught.value.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("now", "remaining", "code"),
    [(500, 5, "sale_not_active"), (2_000, 5, "sale_not_active"), (1_500, 0, "sold_out")],
)
def test_window_and_sold_out_are_refused_before_enqueueing(now, remaining, code):
    sale = SaleView.of(
        uuid4(),
        name="x",
        stock=5,
        remaining=remaining,
        starts_at_ms=1_000,
        ends_at_ms=2_000,
        per_user_limit=1,
        now_ms=now,
        terms=SaleTerms.from_hash(uuid4(), {"name": "x"}),
    )
    with pytest.raises(Conflict) as caught:
        ensure_purchasable(sale.state)
    assert caught.value.code == code
