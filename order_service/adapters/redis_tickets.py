"""Redis adapter: finalise ticket records where the gateway reads them."""

from __future__ import annotations

import json
from collections.abc import Sequence

import redis.asyncio as aioredis

from order_service.domain import Outcome
from shared.contracts.redis_layout import Keys, lua_script

# A whole batch in one call (a client pipeline pays per command): each ticket's final
# state, then one message telling every gateway (they answer polls and streams from memory).
# ARGV: prefix, the JSON update list, then (ticket, status, reason, order) per ticket.
_FINALISE = lua_script("""
for i = 3, #ARGV, 4 do
  local key = ticket_key(ARGV[i])
  if moves_forward(redis.call("HGET", key, TICKET.status), ARGV[i + 1]) then
    redis.call("HSET", key, TICKET.status, ARGV[i + 1])
    if ARGV[i + 2] ~= "" then redis.call("HSET", key, TICKET.reason, ARGV[i + 2]) end
    if ARGV[i + 3] ~= "" then redis.call("HSET", key, TICKET.order_id, ARGV[i + 3]) end
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
        """Mark each ticket confirmed (with its order) or rejected (with its reason), and
        tell the gateways."""
        updates = [
            [str(o.ticket_id), o.status, o.reason or "", str(o.order_id) if o.order_id else ""]
            for o in outcomes
        ]
        args = [self._keys.prefix, json.dumps(updates)]
        for update in updates:
            args += update
        await self._finalise(args=args)

    async def ping(self) -> None:
        await self._redis.ping()
