"""Admin HTTP entrypoints of the inventory service: thin, parse and call."""

from __future__ import annotations

from aiohttp import web

from inventory_service import handlers
from inventory_service.appkeys import LINE, ORDER_COUNTS, QUEUES, RECORDS, STORE
from inventory_service.domain import NewSale, StockTopUp
from shared.contracts.errors import NotFound
from shared.contracts.sales import SaleView, datetime_to_ms, ms_to_datetime, now_ms
from shared.runtime import request_ids
from shared.runtime.service import authenticate_admin
from shared.runtime.web import model_response, path_uuid, read_json

routes = web.RouteTableDef()


@routes.post("/api/v1/admin/sales")
async def create_sale(request: web.Request) -> web.Response:
    admin = await authenticate_admin(request)
    new = await read_json(request, NewSale)
    sale_id = await handlers.create_sale(
        new, admin.user_id, records=request.app[RECORDS], store=request.app[STORE]
    )
    view = SaleView.of(
        sale_id,
        name=new.name,
        stock=new.stock,
        remaining=new.stock,
        starts_at_ms=datetime_to_ms(new.starts_at),
        ends_at_ms=datetime_to_ms(new.ends_at),
        per_user_limit=new.per_user_limit,
        now_ms=now_ms(),
    )
    return model_response(view, status=201, headers={"Location": f"/api/v1/sales/{sale_id}"})


@routes.get("/api/v1/admin/sales/{sale_id}/stats")
async def sale_stats(request: web.Request) -> web.Response:
    await authenticate_admin(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    counters = await request.app[STORE].counters(sale_id)
    if counters is None:
        raise NotFound("no such sale")
    orders = await request.app[ORDER_COUNTS].of_sale(sale_id)
    return web.json_response({"sale_id": str(sale_id), **counters, "orders": orders})


@routes.post("/api/v1/admin/sales/{sale_id}/stock")
async def add_stock(request: web.Request) -> web.Response:
    await authenticate_admin(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    top_up = await read_json(request, StockTopUp)
    if await request.app[STORE].counters(sale_id) is None:
        raise NotFound("no such sale")
    command_id, outcome = await handlers.add_stock(
        sale_id,
        top_up.add,
        line=request.app[LINE],
        store=request.app[STORE],
        request_id=request_ids.current(),
    )
    if outcome is None:  # still in line behind earlier intents: it will take effect
        return web.json_response(
            {"command_id": str(command_id), "sale_id": str(sale_id), "status": "queued"},
            status=202,
        )
    return web.json_response(
        {
            "command_id": str(command_id),
            "sale_id": str(sale_id),
            "status": "applied",
            "added": top_up.add,
            "stock": outcome.stock,
            "remaining": outcome.remaining,
        }
    )


@routes.get("/api/v1/admin/overview")
async def overview(request: web.Request) -> web.Response:
    """What an operator watches: each partition's line and every sale's counters."""
    await authenticate_admin(request)
    lines = await request.app[QUEUES].inspect()
    now = now_ms()
    sales = []
    for sale_id, fields in await request.app[STORE].all_sales():
        view = SaleView.from_hash(sale_id, fields, now_ms=now)
        accepted, rejected = int(fields.get("accepted", 0)), int(fields.get("rejected", 0))
        sales.append(
            {
                **view.model_dump(mode="json"),
                "accepted": accepted,
                "rejected": rejected,
                "waiting": max(0, int(fields.get("enqueued", 0)) - accepted - rejected),
            }
        )
    return web.json_response(
        {
            "at": ms_to_datetime(now).isoformat(),
            "partitions": [
                {"partition": p, "queue": d.queue, "ready": d.ready, "consumers": d.consumers}
                for p, d in enumerate(lines.partitions)
            ],
            "dead_letters": lines.dead_letters.ready,
            "sales": sales,
        }
    )
