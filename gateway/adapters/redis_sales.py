"""The sales as this gateway sees them: an in-process cache kept fresh by the deciders.

Every purchase needs its sale (window, stock left, demand in line). Reading Redis for each
would cost a round trip per request; instead each gateway caches the sales it has seen and
applies the counters the decision script publishes after every batch (within milliseconds),
plus a refresh of every cached sale each ``refresh_interval`` in case a message was lost
while the subscription was down. Snapshots carry the sale's version, so an older snapshot
never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from gateway.domain import SaleSnapshot
from shared.contracts.redis_layout import Keys, SaleField
from shared.contracts.sales import RoomState, SaleView, now_ms
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


class SaleCache:
    def __init__(
        self, client: aioredis.Redis, keys: Keys, *, refresh_interval: float = 1.0
    ) -> None:
        self._redis = client
        self._keys = keys
        self._refresh_interval = refresh_interval
        self._sales: dict[UUID, SaleSnapshot] = {}
        self._loading: dict[UUID, asyncio.Future[SaleSnapshot | None]] = {}

    async def get(self, sale_id: UUID) -> SaleSnapshot | None:
        """The sale, from memory when this gateway has seen it; None if it does not exist."""
        cached = self._sales.get(sale_id)
        if cached is not None:
            return cached
        # Coalesce: the first buyers of a new sale arrive together; one read serves them.
        loading = self._loading.get(sale_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(sale_id))
            self._loading[sale_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(sale_id, None))
        return await asyncio.shield(loading)

    async def _load(self, sale_id: UUID) -> SaleSnapshot | None:
        fields = cast(dict[str, str], await self._redis.hgetall(self._keys.sale(sale_id)))
        if SaleField.NAME not in fields:
            return None  # not cached: a sale created a moment later must be found
        return self._offer(SaleSnapshot.from_hash(sale_id, fields))

    def _offer(self, snapshot: SaleSnapshot) -> SaleSnapshot:
        current = self._sales.get(snapshot.sale_id)
        if current is None or snapshot.version >= current.version:
            self._sales[snapshot.sale_id] = snapshot
            return snapshot
        return current

    def apply_update(self, payload: str) -> None:
        """Apply a counters message from the decision script (sale-updates channel)."""
        update = json.loads(payload)
        sale_id = UUID(update["sale_id"])
        current = self._sales.get(sale_id)
        if current is None:
            return  # not a sale this gateway serves yet; it will be read on first use
        self._offer(
            replace(
                current,
                version=int(update["version"]),
                stock=int(update["stock"]),
                remaining=int(update["remaining"]),
                accepted=int(update["accepted"]),
                rejected=int(update["rejected"]),
                enqueued=int(update["enqueued"]),
                waitlisted=int(update.get("waitlisted", 0)),
                waitlist_served=int(update.get("waitlist_served", 0)),
                waitlist_dropped=int(update.get("waitlist_dropped", 0)),
                room=RoomState(
                    entered=int(update.get("room", 0)),
                    drawn_at_ms=int(update.get("drawn_at_ms", 0)),
                    seed=update.get("draw_seed") or None,
                ),
            )
        )

    def known(self) -> Iterable[SaleSnapshot]:
        return self._sales.values()

    async def refresh(self) -> None:
        """Re-read every cached sale (one pipelined round trip)."""
        ids = list(self._sales)
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(self._keys.sale(sale_id))
            hashes = cast(list[dict[str, str]], await pipe.execute())
        for sale_id, fields in zip(ids, hashes, strict=True):
            if SaleField.NAME in fields:
                self._offer(SaleSnapshot.from_hash(sale_id, fields))

    async def all(self) -> list[SaleView]:
        """Every sale, by start time (read from Redis: listing is not a hot path)."""
        ids = cast(list[str], await self._redis.zrange(self._keys.sales_index, 0, -1))
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(self._keys.sale(sale_id))
            hashes = cast(list[dict[str, str]], await pipe.execute())
        now = now_ms()
        return [
            SaleView.from_hash(UUID(sale_id), fields, now_ms=now)
            for sale_id, fields in zip(ids, hashes, strict=True)
            if SaleField.NAME in fields
        ]

    async def refresh_forever(self) -> None:
        """Re-read every cached sale each refresh interval, until cancelled."""
        while True:
            await asyncio.sleep(self._refresh_interval)
            try:
                await self.refresh()
            except DEPENDENCY_ERRORS as exc:
                log.warning("sale refresh failed", extra={"error": f"{type(exc).__name__}: {exc}"})
