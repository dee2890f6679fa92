"""HTTP entrypoints of the order service: a buyer's own orders and their payment, the
payment provider's webhook, and the sale report."""

from __future__ import annotations

import csv
import io

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from order_service import handlers
from order_service.adapters.postgres_payments import WebhookRefused
from order_service.adapters.postgres_report import TIMELINE_COLUMNS
from order_service.appkeys import ORDERS, PAYMENTS, PROVIDER, REPORT, SETTINGS, TICKETS
from order_service.payments import InvalidEvent
from order_service.webhook_signature import HEADER, InvalidSignature
from shared.contracts.errors import BadRequest, NotFound, ValidationFailed
from shared.contracts.idempotency import idempotency_key
from shared.runtime.service import authenticate, authenticate_admin
from shared.runtime.web import path_uuid, read_json

routes = web.RouteTableDef()


class OrdersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Digits only: int() would also take "5_0", " 5 " and "+5".
    limit: int = Field(default=100, ge=1, le=1000)

    @field_validator("limit", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise ValueError("limit must be a whole number")
        return value


@routes.get("/api/v1/orders")
async def list_orders(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    try:
        query = OrdersQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise ValidationFailed(
            "invalid query parameters",
            details=[{"field": "limit", "message": e["msg"]} for e in exc.errors()],
        ) from None
    orders = await handlers.list_orders(claims.user_id, query.limit, orders=request.app[ORDERS])
    return web.json_response(orders)


@routes.get("/api/v1/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    order_id = path_uuid(request, "order_id", missing="no such order")
    order = await request.app[ORDERS].order_of(order_id, claims.user_id)
    if order is None:  # someone else's order is not found either
        raise NotFound("no such order", code="no_such_order")
    return web.json_response(order)


class PaymentRequest(BaseModel):
    """The buyer chooses how to pay; what to pay is the order's, never the client's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payment_method: str = Field(min_length=1, max_length=100)


@routes.post("/api/v1/orders/{order_id}/payments")
async def pay_order(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    order_id = path_uuid(request, "order_id", missing="no such order")
    key = idempotency_key(request.headers.get("Idempotency-Key"))
    body = await read_json(request, PaymentRequest)
    payment = await handlers.pay(
        order_id,
        claims.user_id,
        body.payment_method,
        key,
        payments=request.app[PAYMENTS],
        provider=request.app[PROVIDER],
    )
    return web.json_response(payment.object(), status=202)


@routes.get("/api/v1/orders/{order_id}/payments")
async def list_payments(request: web.Request) -> web.Response:
    """The order's payments, oldest first: how each attempt ended (a declined card, ...)."""
    claims = await authenticate(request)
    order_id = path_uuid(request, "order_id", missing="no such order")
    payments = await request.app[PAYMENTS].payments_of(order_id, claims.user_id)
    if payments is None:
        raise NotFound("no such order", code="no_such_order")
    return web.json_response([p.object() for p in payments])


@routes.post("/api/v1/payments/webhook")
async def payment_webhook(request: web.Request) -> web.Response:
    """The provider's answers; refused (400, nothing changed) unless signed, fresh and new."""
    body = await request.read()
    try:
        await handlers.receive_webhook(
            body,
            request.headers.get(HEADER),
            secret=request.app[SETTINGS].webhook_secret,
            payments=request.app[PAYMENTS],
            provider=request.app[PROVIDER],
            tickets=request.app[TICKETS],
        )
    except InvalidSignature as exc:
        raise BadRequest(exc.message, code=exc.code) from None
    except InvalidEvent as exc:
        raise BadRequest(str(exc), code="webhook_invalid") from None
    except WebhookRefused as exc:
        raise BadRequest(exc.message, code=exc.code) from None
    return web.json_response({"received": True})


@routes.get("/api/v1/admin/sales/{sale_id}/report")
async def sale_report(request: web.Request) -> web.Response:
    """What happened in the sale, second by second; JSON, or the timeline as CSV."""
    await authenticate_admin(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    form = request.query.get("format", "json")
    if form not in ("json", "csv"):
        raise ValidationFailed(
            "format must be json or csv",
            details=[{"field": "format", "message": "must be json or csv"}],
        )
    report = await request.app[REPORT].report(sale_id)
    if report is None:
        raise NotFound("no such sale")
    if form == "json":
        return web.json_response(report)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TIMELINE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["timeline"])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sale-{sale_id}-report.csv"'},
    )
