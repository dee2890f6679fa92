"""Tickets: issued and read memory-first (TicketBoard), Redis behind it (TicketStore)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from gateway.adapters.memory_tickets import Ticket, TicketBoard
from gateway.adapters.redis_sales import SaleCache
from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys, SaleField, TicketField, lua_script

_PENDING = "pending:"

_READ = [
    TicketField.SALE_ID,
    TicketField.USER_ID,
    TicketField.STATUS,
    TicketField.REASON,
    TicketField.ORDER_ID,
    TicketField.SEQ,
]

# How long the record of a ticket the gateway answered 503 for is kept (seconds).
_REFUSED_TICKET_TTL = 24 * 3600

# The records of a whole batch in one call (the per-command cost of a client pipeline is
# what a gateway would otherwise spend most on). Each ticket gets its place in its sale's
# line, "seq", from the sale's enqueued counter: seq minus the decisions taken so far is its
# approximate position. Returns the seqs in order.
# ARGV: prefix, then (ticket, sale, user) per ticket.
_ISSUE = lua_script("""
local seqs = {}
for i = 2, #ARGV, 3 do
  local sid = ARGV[i + 1]
  local seq = redis.call("HINCRBY", sale_key(sid), SALE.enqueued, 1)
  redis.call("HSET", ticket_key(ARGV[i]), TICKET.sale_id, sid, TICKET.user_id, ARGV[i + 2],
             TICKET.status, "queued", TICKET.seq, seq)
  seqs[#seqs + 1] = seq
end
return seqs
""")


class TicketStore:
    """Redis adapter: ticket records, the enqueued counters and idempotency keys."""

    def __init__(self, client: aioredis.Redis, keys: Keys, *, idempotency_ttl: int) -> None:
        self._redis = client
        self._keys = keys
        self._idempotency_ttl = idempotency_ttl
        self._issue = client.register_script(_ISSUE)

    async def create_queued(self, tickets: Sequence[tuple[str, str, str]]) -> list[int]:
        """Record every (ticket, sale, user) of a batch as queued, count it as enqueued for
        its sale, and return each ticket's place in its sale's line."""
        args = [self._keys.prefix]
        for ticket in tickets:
            args += ticket
        return [int(seq) for seq in await self._issue(args=args)]

    async def uncount(self, purchases: Sequence[PlacePurchase]) -> None:
        """A batch the broker did not confirm: take back its enqueued count, and let its
        records expire (not delete them: a lost confirm may hide an intent that is in line,
        whose decision then still lands on its record)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id, count in Counter(p.sale_id for p in purchases).items():
                pipe.hincrby(self._keys.sale(sale_id), SaleField.ENQUEUED, -count)
            for p in purchases:
                pipe.expire(self._keys.ticket(p.ticket_id), _REFUSED_TICKET_TTL)
            await pipe.execute()

    async def read(self, ticket_id: str) -> Ticket | None:
        values = await self._redis.hmget(self._keys.ticket(ticket_id), _READ)
        sale_id, user_id, status, reason, order_id, seq = cast(list[str | None], values)
        if sale_id is None or user_id is None or status is None:
            return None
        return Ticket(user_id, sale_id, status, reason, order_id, seq=int(seq or 0))

    # An idempotency key holds "pending:<ticket>" until the broker confirmed the intent and
    # "<ticket>" afterwards, so a repeat never gets a ticket that might not be queued.

    async def claimed_key(self, user_id: UUID, sale_id: UUID, key: str) -> str | None:
        """The value of ``key`` if an earlier request claimed it."""
        value = await self._redis.get(self._keys.idempotency(user_id, f"{sale_id}:{key}"))
        return cast(str | None, value)

    async def claim_key(
        self, user_id: UUID, sale_id: UUID, key: str, ticket_id: UUID
    ) -> str | None:
        """Claim ``key`` for ``ticket_id``; if it was claimed before, return its value."""
        previous = await self._redis.set(
            self._keys.idempotency(user_id, f"{sale_id}:{key}"),
            f"{_PENDING}{ticket_id}",
            nx=True,
            ex=self._idempotency_ttl,
            get=True,
        )
        return cast(str | None, previous)

    async def confirm_key(self, user_id: UUID, sale_id: UUID, key: str, ticket_id: UUID) -> None:
        await self._redis.set(
            self._keys.idempotency(user_id, f"{sale_id}:{key}"),
            str(ticket_id),
            ex=self._idempotency_ttl,
        )

    async def release_key(self, user_id: UUID, sale_id: UUID, key: str) -> None:
        await self._redis.delete(self._keys.idempotency(user_id, f"{sale_id}:{key}"))

    @staticmethod
    def is_pending(claimed: str) -> bool:
        return claimed.startswith(_PENDING)

    async def ping(self) -> None:
        await self._redis.ping()


class Tickets:
    """Memory first, Redis second: what polls, streams and the publisher use."""

    def __init__(self, store: TicketStore, board: TicketBoard, sales: SaleCache) -> None:
        self.store = store
        self.board = board
        self._sales = sales

    async def issue(self, purchases: Sequence[PlacePurchase]) -> None:
        """Record a batch as queued, here (first: updates may arrive before we answer) and
        in Redis (for every gateway)."""
        ids = [(str(p.ticket_id), str(p.sale_id), str(p.user_id)) for p in purchases]
        tickets = [self.board.issued(ticket_id, user, sale) for ticket_id, sale, user in ids]
        for ticket, seq in zip(tickets, await self.store.create_queued(ids), strict=True):
            ticket.seq = seq

    async def withdraw(self, purchases: Sequence[PlacePurchase]) -> None:
        """A batch the broker did not confirm: no ticket, and not waiting in line."""
        for p in purchases:
            self.board.forget(str(p.ticket_id))
        await self.store.uncount(purchases)

    async def get(self, ticket_id: str, owner: str) -> Ticket | None:
        """The ticket if ``owner`` owns it; None otherwise (no hint that it exists)."""
        ticket = self.board.fresh(ticket_id)
        if ticket is None:
            ticket = await self.store.read(ticket_id)
            if ticket is None:
                return None
            self.board.remember(ticket_id, ticket)
        return ticket if ticket.user_id == owner else None

    async def render(self, ticket_id: str, ticket: Ticket) -> bytes:
        """The API's ticket object; a queued ticket's position comes from its sale's count
        of decisions (what polls and ticket streams both show)."""
        decided = 0
        if ticket.status == "queued":
            sale = await self._sales.get(UUID(ticket.sale_id))
            decided = sale.decided if sale is not None else 0
        return ticket.to_json(ticket_id, decided)
