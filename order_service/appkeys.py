"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from order_service.adapters.postgres_orders import OrderRepository
from order_service.adapters.redis_tickets import TicketBoard
from order_service.settings import OrderSettings

SETTINGS = web.AppKey("settings", OrderSettings)
POOL = web.AppKey("pool", asyncpg.Pool)
REPOSITORY = web.AppKey("repository", OrderRepository)
BOARD = web.AppKey("board", TicketBoard)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
