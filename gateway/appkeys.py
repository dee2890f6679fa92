"""Typed keys of the objects the composition root shares with the entrypoints."""

from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from gateway.proxy import Upstream
from gateway.publisher import IntentPublisher
from gateway.sales import SaleCatalog
from gateway.settings import GatewaySettings
from gateway.tickets import TicketStore

SETTINGS = web.AppKey("settings", GatewaySettings)
CATALOG = web.AppKey("catalog", SaleCatalog)
TICKETS = web.AppKey("tickets", TicketStore)
PUBLISHER = web.AppKey("publisher", IntentPublisher)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
AUTH = web.AppKey("auth", Upstream)
INVENTORY = web.AppKey("inventory", Upstream)
ORDERS = web.AppKey("orders", Upstream)
