"""Redis adapter: finalise ticket records where the gateway reads them, and show their
order's status on them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import redis.asyncio as aioredis

from order_service.adapters.postgres_payments import OrderChange
from order_service.domain import Outcome, order_status_of
from shared.contracts.redis_layout import Keys, lua_script, tag_of

# A batch's tickets of one hash tag in one call (a client pipeline pays per command; a
# cluster runs a script on one slot's node): each ticket's final state, then one message
# telling every gateway (they answer polls and streams from memory).
# KEYS: the first ticket's key. ARGV: prefix, the JSON update list, then (ticket, status,
# reason, order, order status) per ticket.
_FINALISE = lua_script("""
for i = 3, #ARGV, 5 do
  local key = ticket_key(ARGV[i])
  if moves_forward(redis.call("HGET", key, TICKET.status), ARGV[i + 1]) then
    redis.call("HSET", key, TICKET.status, ARGV[i + 1])
    if ARGV[i + 2] ~= "" then redis.call("HSET", key, TICKET.reason, ARGV[i + 2]) end
    if ARGV[i + 3] ~= "" then redis.call("HSET", key, TICKET.order_id, ARGV[i + 3]) end
  end
  if ARGV[i + 4] ~= "" and
     order_moves_forward(redis.call("HGET", key, TICKET.order_status), ARGV[i + 4]) then
    redis.call("HSET", key, TICKET.order_status, ARGV[i + 4])
  end
end
redis.call("PUBLISH", TICKET_UPDATES, ARGV[2])
return 0
""")


class RedisTicketFinaliser:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._finalise = client.register_script(_FINALISE)

    async def finalise(self, outcomes: Sequence[Outcome]) -> None:
        """Mark each ticket confirmed (with its order and the order's status) or rejected
        (with its reason), and tell the gateways."""
        await self._send(
            [
                [
                    str(o.ticket_id),
                    o.status,
                    o.reason or "",
                    str(o.order_id) if o.order_id else "",
                    order_status_of(o.terms) if o.terms is not None else "",
                ]
                for o in outcomes
            ]
        )

    async def show_orders(self, changes: Sequence[OrderChange]) -> None:
        """Show each order's new status on its ticket (only forward), and tell the gateways."""
        await self._send(
            [[str(c.ticket_id), "confirmed", "", str(c.order_id), c.status] for c in changes]
        )

    async def _send(self, updates: list[list[str]]) -> None:
        groups: dict[str, list[list[str]]] = {}
        for update in updates:
            groups.setdefault(tag_of(update[0]), []).append(update)
        await asyncio.gather(*(self._send_tagged(group) for group in groups.values()))

    async def _send_tagged(self, updates: list[list[str]]) -> None:
        args = [self._keys.prefix, json.dumps([[*u, ""] for u in updates])]
        for update in updates:
            args += update
        await self._finalise(keys=[self._keys.ticket(updates[0][0])], args=args)

    async def ping(self) -> None:
        await self._redis.ping()
