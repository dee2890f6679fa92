"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from order_service.persistence import OrderRepository
from order_service.settings import OrderSettings
from order_service.tickets import TicketBoard

SETTINGS = web.AppKey("settings", OrderSettings)
POOL = web.AppKey("pool", asyncpg.Pool)
REPOSITORY = web.AppKey("repository", OrderRepository)
BOARD = web.AppKey("board", TicketBoard)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
