"""`python -m inventory_service reconcile [SALE_ID ...] [--repair]`: does Redis agree with
Postgres, and rebuild it from Postgres where it does not; `requeue-dead-letters [SALE_ID ...]`:
move the purchases dead-lettered while their sale was missing back into line
(docs/RECONCILE.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TextIO
from uuid import UUID

from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from inventory_service.adapters.amqp_dead_letters import AmqpDeadLetters
from inventory_service.adapters.amqp_queues import Lines, QueueInspector
from inventory_service.adapters.postgres_sales import PostgresSaleRecords
from inventory_service.adapters.postgres_ticket_outcomes import PostgresTicketOutcomes
from inventory_service.adapters.redis_queued_tickets import RedisQueuedTickets
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.handlers import SaleReconciliation, reconcile, requeue_dead_letters
from inventory_service.settings import InventorySettings
from shared.contracts.redis_layout import Keys
from shared.contracts.topology import Names
from shared.runtime.resources import open_amqp, open_postgres, open_redis_of
from shared.runtime.web import DEPENDENCY_ERRORS

# Exit statuses: 0 every sale agrees (and its dead letters were moved), 1 drift found (or
# left), 3 repair refused (lines not drained, or a decider still running), 4 dead letters not
# all moved (the broker refused one: run again). 2 stays the configuration error of every
# entry point.
AGREES, DRIFT, NOT_DRAINED, NOT_MOVED = 0, 1, 3, 4


async def run_reconcile(
    settings: InventorySettings, sale_ids: Sequence[UUID], *, repair: bool, out: TextIO
) -> int:
    pool = await open_postgres(settings.database_url)
    client = await open_redis_of(settings)
    connection = await open_amqp(settings.amqp_url, name="inventory_service reconcile")
    try:
        lines = await QueueInspector(connection, Names.of(settings)).inspect()
        print(_lines(lines), file=out)
        if repair and (lines.in_flight or lines.deciders):
            print(
                "repair refused: stop every inventory_service and let the lines drain first"
                f" ({lines.in_flight} messages in flight, {lines.deciders} deciders consuming);"
                " see docs/RECONCILE.md",
                file=out,
            )
            return NOT_DRAINED
        results = await reconcile(
            sale_ids or None,
            repair=repair,
            records=PostgresSaleRecords(pool),
            outcomes=PostgresTicketOutcomes(pool),
            store=RedisSaleStore(client, Keys(settings.namespace)),
        )
        for result in results:
            print(_table(result), file=out)
        drifting = [r for r in results if r.drift]
        print(f"{len(results)} sales checked, {len(drifting)} drifting", file=out)
        if drifting:
            if repair:
                print("dead letters left in place: the sales still drift", file=out)
            return DRIFT
        if not repair:
            return AGREES
        # Runbook step 6: the purchases dead-lettered while the sales were missing go back
        # into line now, before any decider runs again.
        return await _requeue(settings, sale_ids, connection, client, out)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await client.aclose()
        await pool.close()


async def run_requeue(settings: InventorySettings, sale_ids: Sequence[UUID], *, out: TextIO) -> int:
    """Move the dead-lettered purchases of sales that exist back into line; 0 when done."""
    client = await open_redis_of(settings)
    connection = await open_amqp(settings.amqp_url, name="inventory_service requeue")
    try:
        return await _requeue(settings, sale_ids, connection, client, out)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await client.aclose()


async def _requeue(
    settings: InventorySettings,
    sale_ids: Sequence[UUID],
    connection: AbstractRobustConnection,
    client: Redis,
    out: TextIO,
) -> int:
    keys = Keys(settings.namespace)
    async with AmqpDeadLetters.opened(
        connection, Names.of(settings), confirm_timeout=settings.publish_timeout
    ) as letters:
        try:
            report = await requeue_dead_letters(
                sale_ids or None,
                letters=letters,
                store=RedisSaleStore(client, keys),
                tickets=RedisQueuedTickets(client, keys),
            )
        except DEPENDENCY_ERRORS as exc:
            print(f"dead letters not all moved ({exc!r}): run the command again", file=out)
            return NOT_MOVED
    print("\n".join(report.lines()), file=out)
    return AGREES


def _lines(lines: Lines) -> str:
    note = "" if not lines.in_flight else ": Redis may be legitimately ahead of Postgres"
    return (
        f"in flight: {lines.in_flight} messages (intents to decide, decisions to persist)"
        f"{note}; deciders consuming: {lines.deciders};"
        f" dead letters: {lines.dead_letters.ready} messages"
    )


def _table(result: SaleReconciliation) -> str:
    state = "DRIFT" if result.drift else "ok"
    if result.repaired:
        state += " (rebuilt from Postgres)"
    rows = [f"sale {result.sale_id} {result.name!r}: {state}"]
    width = max(len(c.what) for c in result.checks)
    for c in result.checks:
        mark = "ok" if c.agrees else "DRIFT"
        rows.append(f"  {c.what:<{width}}  redis {c.redis!s:>8}  expected {c.expected:>8}  {mark}")
    return "\n".join(rows)
