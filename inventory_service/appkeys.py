"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from inventory_service.adapters.amqp_queues import QueueInspector
from inventory_service.adapters.postgres_order_counts import PostgresOrderCounts
from inventory_service.adapters.postgres_products import PostgresProducts
from inventory_service.adapters.postgres_sales import PostgresSaleRecords
from inventory_service.adapters.redis_sales import RedisSaleStore
from inventory_service.settings import InventorySettings
from shared.runtime.sale_line import AmqpSaleLine

SETTINGS = web.AppKey("settings", InventorySettings)
POOL = web.AppKey("pool", asyncpg.Pool)
STORE = web.AppKey("store", RedisSaleStore)
RECORDS = web.AppKey("records", PostgresSaleRecords)
PRODUCTS = web.AppKey("products", PostgresProducts)
ORDER_COUNTS = web.AppKey("order_counts", PostgresOrderCounts)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
LINE = web.AppKey("line", AmqpSaleLine)
QUEUES = web.AppKey("queues", QueueInspector)
