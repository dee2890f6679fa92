"""`python -m bench.decider`: the ceiling of one hot sale, its decider alone.

A sale is decided by one active consumer (its partition's), so however many gateways and
consumers run, one sale cannot be decided faster than one inventory process decides one line.
This fills the sale's intent queue while no inventory service runs (purchases of distinct
buyers, twice the stock: half accepted, half refused sold out), then starts one inventory
service and measures, from its first decision to its last, decisions/s and its CPU µs per
decision. Nothing else runs (no gateway, no order service: decisions wait in their queue).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
import redis.asyncio as aioredis

from bench.system import BenchConfig, cpu_seconds, reset
from inventory_service.adapters.postgres_products import PostgresProducts
from inventory_service.adapters.postgres_sales import PostgresSaleRecords
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.domain import NewSale
from shared.contracts.messages import CommandBatch, PlacePurchase, encode
from shared.contracts.products import Money, NewProduct, ProductView
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import datetime_to_ms
from shared.contracts.topology import Names, declare_topology
from shared.runtime.launcher import ServiceProcess, stop_all
from shared.runtime.publishing import publish_confirmed


async def seed(config: BenchConfig, stock: int) -> uuid.UUID:
    now = datetime.now(UTC)
    price = Money(amount=1_000, currency="EUR")
    product = ProductView(
        product_id=uuid.uuid4(), name="hot", description=None, image_url=None, price=price
    )
    sale = NewSale(
        name="hot sale",
        stock=stock,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        product_id=product.product_id,
        price=price,
        payment_window_seconds=600,
    )
    sale_id = uuid.uuid4()
    pool = await asyncpg.create_pool(config.database_url)
    client = aioredis.Redis.from_url(config.redis_url, decode_responses=True)
    try:
        await PostgresProducts(pool).insert(
            product.product_id, NewProduct(name="hot", price=price), uuid.uuid4()
        )
        await PostgresSaleRecords(pool).insert(sale_id, sale, uuid.uuid4())
        await RedisSaleStore(client, Keys(config.namespace)).create(sale_id, sale, product=product)
    finally:
        await client.aclose()
        await pool.close()
    return sale_id


async def fill(config: BenchConfig, sale_id: uuid.UUID, purchases: int, batch: int) -> None:
    """The queue as gateways leave it under a crowd: batches of distinct buyers' purchases."""
    names = Names(config.namespace, config.partitions)
    at = datetime_to_ms(datetime.now(UTC))
    connection = await aio_pika.connect(config.amqp_url)
    async with connection, connection.channel(publisher_confirms=True) as channel:
        topology = await declare_topology(channel, names)
        for first in range(0, purchases, batch):
            commands = [
                PlacePurchase(
                    ticket_id=uuid.uuid4(),
                    sale_id=sale_id,
                    user_id=uuid.uuid4(),
                    requested_at_ms=at,
                )
                for _ in range(min(batch, purchases - first))
            ]
            await publish_confirmed(
                topology.intents,
                encode(CommandBatch(commands=commands)),
                str(names.partition_of(sale_id)),
                confirm_timeout=10,
            )


async def decided(config: BenchConfig, sale_id: uuid.UUID) -> int:
    client = aioredis.Redis.from_url(config.redis_url, decode_responses=True)
    try:
        values = await client.hmget(Keys(config.namespace).sale(sale_id), ["accepted", "rejected"])
        return sum(int(v or 0) for v in values)
    finally:
        await client.aclose()


@dataclass
class DeciderFigures:
    """One measurement: decisions counted from the first to the last, and the CPU spent."""

    decisions: int
    seconds: float
    cpu_us: dict[str, float]  # per decision, by process (inventory, and any ``watched``)

    @property
    def per_s(self) -> float:
        return self.decisions / self.seconds


async def decide_alone(
    config: BenchConfig,
    purchases: int,
    batch: int,
    prefetch: int,
    *,
    env: dict[str, str] | None = None,
    watched: dict[str, int] | None = None,
    timeout: float = 300,
) -> DeciderFigures:
    """Fill one sale's line, start one inventory service (``env`` on top of its settings) and
    time it from its first decision to its last; ``watched`` processes' CPU is counted too."""
    await reset(config)
    sale_id = await seed(config, stock=purchases // 2)
    await fill(config, sale_id, purchases, batch)
    settings = {**config.env(), "INTENT_PREFETCH": str(prefetch), **(env or {})}
    inventory = ServiceProcess("inventory_service", settings)
    inventory.start()
    assert inventory.process is not None
    pids = {"inventory": inventory.process.pid, **(watched or {})}
    try:
        while (done := await decided(config, sale_id)) == 0:
            await asyncio.sleep(0.002)
        first, first_done = time.perf_counter(), done
        first_cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        while (done := await decided(config, sale_id)) < purchases:
            if time.perf_counter() - first > timeout:
                raise RuntimeError(f"{done:,} of {purchases:,} decided after {timeout:.0f} s")
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - first
        cpu = {name: cpu_seconds(pid) - first_cpu[name] for name, pid in pids.items()}
    finally:
        stop_all([inventory])
    counted = done - first_done
    return DeciderFigures(counted, seconds, {k: v / counted * 1e6 for k, v in cpu.items()})


async def measure(purchases: int, batch: int, prefetch: int) -> None:
    config = replace(BenchConfig.from_env(), namespace="benchdecider", partitions=1)
    figures = await decide_alone(config, purchases, batch, prefetch)
    print(
        f"one sale, one decider: {figures.decisions:,} decisions in {figures.seconds:.2f} s = "
        f"{figures.per_s:,.0f} decisions/s; inventory CPU {figures.cpu_us['inventory']:.1f} µs "
        f"per decision ({purchases:,} purchases in batches of {batch}, prefetch {prefetch})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decider", description=__doc__)
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100, help="purchases per intent message")
    parser.add_argument("--prefetch", type=int, default=64, help="INTENT_PREFETCH")
    args = parser.parse_args()
    asyncio.run(measure(args.purchases, args.batch, args.prefetch))


if __name__ == "__main__":
    main()
