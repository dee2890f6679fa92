"""`python -m bench.draw`: how long a fair start's draw takes, by the size of its room.

The draw is one Redis script call (inventory_service/adapters/decide.lua): it reads the room,
orders it by SHA-1 of seed:ticket, and decides every ticket at its place. Redis does nothing
else while it runs, so its duration is also how long every other sale on that Redis waits.
This fills a room of each size on the shared Redis (its own namespace, deleted after) and
times the draw call from the decider's side, several times per size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import redis.asyncio as aioredis

from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import NewSale, RoomDrawn
from inventory_service.handlers import draw_command
from shared.contracts.messages import PlacePurchase
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms


async def time_one_draw(client: aioredis.Redis, room: int, stock: int) -> float:
    """Seconds the draw of a room of ``room`` tickets took (the script call alone)."""
    keys = Keys(f"bench-draw-{uuid4().hex[:8]}")
    store = RedisSaleStore(client, keys)
    starts = datetime.now(UTC) + timedelta(hours=1)
    sale_id = uuid4()
    await store.create(
        sale_id,
        NewSale(
            name="draw",
            stock=stock,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            waiting_room_opens_at=starts - timedelta(minutes=5),
            waitlist_size=room,
        ),
    )
    at = datetime_to_ms(starts) - 60_000
    try:
        for first in range(0, room, 1000):
            await store.decide(
                [
                    PlacePurchase(
                        ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=at
                    )
                    for _ in range(min(1000, room - first))
                ]
            )
        began = time.perf_counter()
        (drawn,) = await store.decide([draw_command(sale_id)])
        took = time.perf_counter() - began
        assert isinstance(drawn, RoomDrawn)
        assert len(drawn.tickets) == room
        return took
    finally:
        async for key in client.scan_iter(match=f"{keys.prefix}*", count=1000):
            await client.unlink(key)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rooms", default="2000,10000,50000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stock", type=int, default=200)
    args = parser.parse_args()
    client = aioredis.from_url(args.redis_url, decode_responses=True)
    try:
        print("room tickets | draw call, median (min-max) ms | per ticket µs")
        for room in (int(r) for r in args.rooms.split(",")):
            runs = [await time_one_draw(client, room, args.stock) for _ in range(args.runs)]
            median = statistics.median(runs)
            print(
                f"{room:>12,} | {median * 1000:8.1f} ({min(runs) * 1000:.1f}-"
                f"{max(runs) * 1000:.1f}) | {median / room * 1e6:6.1f}"
            )
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
