"""Redis adapter: the sales as buyers see them (the inventory service writes them)."""

from __future__ import annotations

from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from shared.keys import Keys
from shared.sales import SaleView, now_ms


class SaleCatalog:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    async def get(self, sale_id: UUID) -> SaleView | None:
        fields = cast(dict[str, str], await self._redis.hgetall(self._keys.sale(sale_id)))
        if "name" not in fields:
            return None
        return SaleView.from_hash(sale_id, fields, now_ms=now_ms())

    async def all(self) -> list[SaleView]:
        """Every sale, by start time."""
        ids = cast(list[str], await self._redis.zrange(self._keys.sales_index, 0, -1))
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(self._keys.sale(sale_id))
            hashes = cast(list[dict[str, str]], await pipe.execute())
        now = now_ms()
        return [
            SaleView.from_hash(UUID(sale_id), fields, now_ms=now)
            for sale_id, fields in zip(ids, hashes, strict=True)
            if "name" in fields
        ]
