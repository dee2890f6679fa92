"""Ticket records: memory first (this gateway's board), Redis behind it (every gateway's)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import cast

import redis.asyncio as aioredis

from gateway.adapters.memory_tickets import TicketBoard
from gateway.domain import Intent, Ticket
from shared.contracts.redis_layout import Keys, SaleField, TicketField, lua_script, tag_of

_READ = [
    TicketField.SALE_ID,
    TicketField.USER_ID,
    TicketField.STATUS,
    TicketField.REASON,
    TicketField.ORDER_ID,
    TicketField.SEQ,
    TicketField.ORDER_STATUS,
    TicketField.WAITLIST_SEQ,
    TicketField.DRAWN_POSITION,
]

# How long the record of a ticket the gateway answered 503 for is kept (seconds).
_REFUSED_TICKET_TTL = 24 * 3600

# The records of a whole batch in one call (the per-command cost of a client pipeline is
# what a gateway would otherwise spend most on). Each ticket gets its place in its sale's
# line, "seq", from the sale's enqueued counter: seq minus the decisions taken so far is its
# approximate position. One call per hash tag (a cluster runs a script on one slot's node):
# the tickets of sales of one tag, which are in that slot too. The batch travels as one
# argument, "ticket,sale,user" per ticket separated by spaces, and the seqs come back as one
# string, "seq,seq,...": encoding three arguments and parsing one reply integer per ticket
# cost the gateway ~4 µs of every purchase (redis-py's pack_command and reply parser).
# KEYS: the first ticket's sale key. ARGV: prefix, the batch, the tickets' status ("queued",
# or "waiting_room": counted in line too, as the draw puts them in it ahead of later ones).
_ISSUE = lua_script("""
local seqs = {}
for tid, sid, uid in string.gmatch(ARGV[2], "([^ ,]+),([^ ,]+),([^ ,]+)") do
  local seq = redis.call("HINCRBY", sale_key(sid), SALE.enqueued, 1)
  redis.call("HSET", ticket_key(tid), TICKET.sale_id, sid, TICKET.user_id, uid,
             TICKET.status, ARGV[3], TICKET.seq, seq)
  seqs[#seqs + 1] = seq
end
return table.concat(seqs, ",")
""")

# KEYS: the sale's room-buyers hash. ARGV: prefix, user, ticket. Takes the buyer's ticket out
# of the room only if it is still that ticket.
_LEAVE_ROOM = lua_script("""
if redis.call("HGET", KEYS[1], ARGV[2]) == ARGV[3] then redis.call("HDEL", KEYS[1], ARGV[2]) end
return 0
""")


class RedisTicketRecords:
    """Polls and streams are answered from the board; Redis is the record every gateway
    shares (and the one a board entry is re-read from when it may be stale)."""

    def __init__(self, client: aioredis.Redis, keys: Keys, board: TicketBoard) -> None:
        self._redis = client
        self._keys = keys
        self.board = board
        self._issue = client.register_script(_ISSUE)
        self._leave_room = client.register_script(_LEAVE_ROOM)

    async def issue(self, purchases: Sequence[Intent], status: str = "queued") -> None:
        # On the board first: the decider's update may arrive before the 202 is sent.
        ids = [(p.ticket_id, p.sale_id, p.user_id) for p in purchases]
        tickets = [
            self.board.issued(ticket_id, user, sale, status) for ticket_id, sale, user in ids
        ]
        groups: dict[str, list[int]] = {}
        for i, (_, sale_id, _) in enumerate(ids):
            groups.setdefault(tag_of(sale_id), []).append(i)
        try:
            results = await asyncio.gather(
                *(
                    self._issue(
                        keys=[self._keys.sale(ids[group[0]][1])],
                        args=[
                            self._keys.prefix,
                            " ".join([",".join(ids[i]) for i in group]),
                            status,
                        ],
                    )
                    for group in groups.values()
                )
            )
        except BaseException:
            for ticket_id, _, _ in ids:
                self.board.forget(ticket_id)
            raise
        for group, seqs in zip(groups.values(), results, strict=True):
            for i, seq in zip(group, cast(str, seqs).split(","), strict=True):
                tickets[i].seq = int(seq)

    async def join_room(self, sale_id: str, user_id: str, ticket_id: str) -> str | None:
        key = self._keys.room_buyers(sale_id)
        if await self._redis.hsetnx(key, user_id, ticket_id):
            return None
        held = cast(str | None, await self._redis.hget(key, user_id))
        # Gone again in between (its purchase failed): this one may have it after all.
        return held if held is not None else await self.join_room(sale_id, user_id, ticket_id)

    async def leave_room(self, sale_id: str, user_id: str, ticket_id: str) -> None:
        await self._leave_room(
            keys=[self._keys.room_buyers(sale_id)], args=[self._keys.prefix, user_id, ticket_id]
        )

    async def withdraw(self, purchases: Sequence[Intent]) -> None:
        """Take back the batch's enqueued count, and let its records expire (not delete
        them: a lost confirm may hide an intent that is in line, whose decision then still
        lands on its record)."""
        for p in purchases:
            self.board.forget(p.ticket_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id, count in Counter(p.sale_id for p in purchases).items():
                pipe.hincrby(self._keys.sale(sale_id), SaleField.ENQUEUED, -count)
            for p in purchases:
                pipe.expire(self._keys.ticket(p.ticket_id), _REFUSED_TICKET_TTL)
            await pipe.execute()

    async def get(self, ticket_id: str, owner: str) -> Ticket | None:
        ticket = self.board.fresh(ticket_id)
        if ticket is None:
            ticket = await self._read(ticket_id)
            if ticket is None:
                return None
            self.board.remember(ticket_id, ticket)
        return ticket if ticket.user_id == owner else None

    async def _read(self, ticket_id: str) -> Ticket | None:
        values = await self._redis.hmget(self._keys.ticket(ticket_id), _READ)
        sale_id, user_id, status, reason, order_id, seq, order_status, waitlist_seq, drawn = cast(
            list[str | None], values
        )
        if sale_id is None or user_id is None or status is None:
            return None
        return Ticket(
            user_id,
            sale_id,
            status,
            reason,
            order_id,
            seq=int(seq or 0),
            order_status=order_status or None,
            waitlist_seq=int(waitlist_seq or 0),
            drawn_position=int(drawn or 0),
        )

    def watch(self, ticket_id: str) -> asyncio.Event:
        return self.board.watch(ticket_id)

    def unwatch(self, ticket_id: str, event: asyncio.Event) -> None:
        self.board.unwatch(ticket_id, event)

    async def ping(self) -> None:
        await self._redis.ping()
