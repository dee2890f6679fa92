"""HTTP entrypoints of the order service: a buyer's own orders."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from order_service import handlers
from order_service.appkeys import ORDERS
from shared.contracts.errors import ValidationFailed
from shared.runtime.service import authenticate

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
    return web.json_response(
        [
            {
                "order_id": str(o["order_id"]),
                "ticket_id": str(o["ticket_id"]),
                "sale_id": str(o["sale_id"]),
                "created_at": o["created_at"].isoformat(),  # type: ignore[union-attr]
            }
            for o in orders
        ]
    )
