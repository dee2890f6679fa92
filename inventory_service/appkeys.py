"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from inventory_service.queues import QueueInspector
from inventory_service.repository import SaleRepository
from inventory_service.settings import InventorySettings
from inventory_service.stocking import StockTopUps
from inventory_service.store import SaleStore

SETTINGS = web.AppKey("settings", InventorySettings)
POOL = web.AppKey("pool", asyncpg.Pool)
STORE = web.AppKey("store", SaleStore)
REPOSITORY = web.AppKey("repository", SaleRepository)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
TOP_UPS = web.AppKey("top_ups", StockTopUps)
QUEUES = web.AppKey("queues", QueueInspector)
