"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from inventory_service.adapters.amqp_queues import QueueInspector
from inventory_service.adapters.postgres_sales import SaleRepository
from inventory_service.adapters.redis_sales import SaleStore
from inventory_service.handlers import StockTopUps
from inventory_service.settings import InventorySettings

SETTINGS = web.AppKey("settings", InventorySettings)
POOL = web.AppKey("pool", asyncpg.Pool)
STORE = web.AppKey("store", SaleStore)
REPOSITORY = web.AppKey("repository", SaleRepository)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
TOP_UPS = web.AppKey("top_ups", StockTopUps)
QUEUES = web.AppKey("queues", QueueInspector)
