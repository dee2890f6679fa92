"""Typed keys of the objects the composition root shares with the entrypoints."""

from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from gateway.proxy import Upstream
from gateway.purchasing import Purchases
from gateway.sales import SaleCache
from gateway.settings import GatewaySettings
from gateway.streams import SaleFeed
from gateway.tickets import Tickets

SETTINGS = web.AppKey("settings", GatewaySettings)
SALES = web.AppKey("sales", SaleCache)
TICKETS = web.AppKey("tickets", Tickets)
PURCHASES = web.AppKey("purchases", Purchases)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
AUTH = web.AppKey("auth", Upstream)
INVENTORY = web.AppKey("inventory", Upstream)
ORDERS = web.AppKey("orders", Upstream)
FEED = web.AppKey("feed", SaleFeed)
