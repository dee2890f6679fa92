"""Typed keys of the objects the composition root shares with the entrypoints."""

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from order_service.adapters.postgres_orders import PostgresOrders
from order_service.adapters.postgres_payments import PostgresPayments
from order_service.adapters.postgres_report import PostgresSaleReport
from order_service.adapters.redis_tickets import RedisTicketFinaliser
from order_service.payments import PaymentProvider
from order_service.settings import OrderSettings
from shared.runtime.sale_line import AmqpSaleLine

SETTINGS = web.AppKey("settings", OrderSettings)
POOL = web.AppKey("pool", asyncpg.Pool)
ORDERS = web.AppKey("orders", PostgresOrders)
TICKETS = web.AppKey("tickets", RedisTicketFinaliser)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
PAYMENTS = web.AppKey("payments", PostgresPayments)
PROVIDER = web.AppKey("provider", PaymentProvider)
LINE = web.AppKey("line", AmqpSaleLine)
REPORT = web.AppKey("report", PostgresSaleReport)
