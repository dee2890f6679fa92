"""Redis adapter: the records of tickets whose intents go back into line after Redis lost them.

A ticket still in line when Redis lost its data lost its record too (the gateway wrote it), and
a gateway finds no ticket without one: its buyer would read 404 for a ticket that is about to
be decided. So before such a purchase goes back into line its record is written again as the
gateway writes it, queued, with a place in its sale's line. The sale's enqueued count (set to
its decided count by a rebuild) takes the purchase in again, so that the demand in line and
the ticket's position are right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import cast

import redis.asyncio as aioredis

from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys, SaleField, TicketField


class RedisQueuedTickets:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    async def restore(self, purchases: Sequence[PlacePurchase]) -> None:
        """Write each undecided purchase's record (queued, unless a status is already further
        on) and count it in its sale's line. A purchase with a decision is left alone: it was
        decided before, and deciding it again only repeats that decision.

        Plain commands, not one script, so that it works on any layout of the keys. A crash
        part way is repaired by running again (the intents are still dead letters then),
        which may count a purchase in line twice: only the approximate position and the
        admission control read that count, never a decision.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for p in purchases:
                pipe.hget(self._keys.ticket(p.ticket_id), TicketField.DECISION)
            decisions = cast(list[str | None], await pipe.execute())
        undecided = [p for p, d in zip(purchases, decisions, strict=True) if d is None]
        if not undecided:
            return
        per_sale = Counter(p.sale_id for p in undecided)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id, n in per_sale.items():
                pipe.hincrby(self._keys.sale(sale_id), SaleField.ENQUEUED, n)
            last = dict(zip(per_sale, cast(list[int], await pipe.execute()), strict=True))
        # Places in line, in the order the purchases go back.
        seq = {sale_id: int(last[sale_id]) - n for sale_id, n in per_sale.items()}
        async with self._redis.pipeline(transaction=False) as pipe:
            for p in undecided:
                seq[p.sale_id] += 1
                key = self._keys.ticket(p.ticket_id)
                pipe.hset(
                    key,
                    mapping={
                        TicketField.SALE_ID: str(p.sale_id),
                        TicketField.USER_ID: str(p.user_id),
                        TicketField.SEQ: seq[p.sale_id],
                    },
                )
                pipe.hsetnx(key, TicketField.STATUS, "queued")
            await pipe.execute()
