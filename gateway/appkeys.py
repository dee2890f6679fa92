"""Typed keys of the objects the composition root shares with the entrypoints."""

from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from gateway.adapters.http_upstream import Upstream
from gateway.adapters.redis_idempotency import RedisIdempotencyKeys
from gateway.adapters.redis_pow import RedisProofOfWork
from gateway.adapters.redis_sales import SaleCache
from gateway.adapters.redis_tickets import RedisTicketRecords
from gateway.entrypoints.streams import SaleFeed
from gateway.handlers import Purchases
from gateway.settings import GatewaySettings

SETTINGS = web.AppKey("settings", GatewaySettings)
SALES = web.AppKey("sales", SaleCache)
TICKETS = web.AppKey("tickets", RedisTicketRecords)
IDEMPOTENCY = web.AppKey("idempotency", RedisIdempotencyKeys)
PURCHASES = web.AppKey("purchases", Purchases)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
AUTH = web.AppKey("auth", Upstream)
INVENTORY = web.AppKey("inventory", Upstream)
ORDERS = web.AppKey("orders", Upstream)
FEED = web.AppKey("feed", SaleFeed)
PROOF = web.AppKey("proof", RedisProofOfWork)
