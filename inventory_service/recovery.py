"""Start-up repair: every sale in Postgres has its hash in Redis."""

from __future__ import annotations

import logging

from inventory_service.repository import SaleRepository
from inventory_service.store import SaleStore

log = logging.getLogger(__name__)


async def restore_missing_sales(repository: SaleRepository, store: SaleStore) -> int:
    """Create the Redis hash of each sale that lacks one; return how many were created.

    A hash is missing after a crash between the two writes of sale creation (then it has
    no orders and the rebuild is exact) or after Redis lost its data, which the shipped
    Redis settings (AOF, fsync always) prevent. In the second case decisions still in the
    broker are not counted, so the rebuild is logged loudly for an operator to check.
    """
    restored = 0
    for sale_id, sale, orders in await repository.all_with_orders():
        remaining = max(sale.stock - orders, 0)
        if await store.create(sale_id, sale, remaining=remaining):
            restored += 1
            level = logging.WARNING if orders else logging.INFO
            log.log(
                level,
                "sale counters rebuilt from Postgres",
                extra={"sale_id": str(sale_id), "orders": orders, "remaining": remaining},
            )
    return restored
