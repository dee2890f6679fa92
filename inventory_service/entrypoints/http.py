"""Admin HTTP entrypoints of the inventory service: thin, parse and call."""

from __future__ import annotations

from aiohttp import web

from inventory_service import handlers
from inventory_service.appkeys import (
    LINE,
    ORDER_COUNTS,
    PRODUCTS,
    QUEUES,
    RECORDS,
    SETTINGS,
    STORE,
)
from inventory_service.domain import SaleRequest, StockTopUp, sale_terms
from shared.contracts.errors import NotFound
from shared.contracts.products import NewProduct
from shared.contracts.redis_layout import SaleField, decisions_taken, on_waitlist, units_held
from shared.contracts.sales import SaleView, datetime_to_ms, ms_to_datetime, now_ms
from shared.runtime import request_ids
from shared.runtime.service import authenticate_admin
from shared.runtime.web import model_response, path_uuid, read_json

routes = web.RouteTableDef()


@routes.post("/api/v1/admin/products")
async def create_product(request: web.Request) -> web.Response:
    admin = await authenticate_admin(request)
    new = await read_json(request, NewProduct)
    product = await handlers.create_product(new, admin.user_id, products=request.app[PRODUCTS])
    return model_response(
        product, status=201, headers={"Location": f"/api/v1/products/{product.product_id}"}
    )


@routes.get("/api/v1/admin/products")
async def list_products(request: web.Request) -> web.Response:
    await authenticate_admin(request)
    products = await request.app[PRODUCTS].all()
    return web.json_response([p.model_dump(mode="json") for p in products])


@routes.get("/api/v1/products/{product_id}")
async def get_product(request: web.Request) -> web.Response:
    """Public: the product page a sale links to."""
    product_id = path_uuid(request, "product_id", missing="no such product")
    product = await request.app[PRODUCTS].get(product_id)
    if product is None:
        raise NotFound("no such product", code="no_such_product")
    return model_response(product)


@routes.post("/api/v1/admin/sales")
async def create_sale(request: web.Request) -> web.Response:
    admin = await authenticate_admin(request)
    new = await read_json(request, SaleRequest)
    sale_id, sale, product = await handlers.create_sale(
        new,
        admin.user_id,
        default_payment_window=request.app[SETTINGS].payment_window_seconds,
        products=request.app[PRODUCTS],
        records=request.app[RECORDS],
        store=request.app[STORE],
    )
    assert sale.price is not None
    assert sale.payment_window_seconds is not None
    view = SaleView.of(
        sale_id,
        name=sale.name,
        stock=sale.stock,
        remaining=sale.stock,
        starts_at_ms=datetime_to_ms(sale.starts_at),
        ends_at_ms=datetime_to_ms(sale.ends_at),
        per_user_limit=sale.per_user_limit,
        now_ms=now_ms(),
        terms=sale_terms(sale, product),
    )
    return model_response(view, status=201, headers={"Location": f"/api/v1/sales/{sale_id}"})


@routes.get("/api/v1/admin/sales/{sale_id}/stats")
async def sale_stats(request: web.Request) -> web.Response:
    """The sale's counters, read at one instant, and its orders by status. Units held for
    buyers (awaiting payment or paid) and units left always add up to the stock; awaiting
    payment counts a unit from the moment it is won, before its order is written."""
    await authenticate_admin(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    store = request.app[STORE]
    # Paid orders first, then the counters: a paid order's unit is never released, so every
    # order paid by the first read is still among the units held at the second, and
    # awaiting_payment = held - paid is never negative.
    orders = await request.app[ORDER_COUNTS].of_sale(sale_id)
    counters = await store.counters(sale_id)
    terms = await store.terms(sale_id)
    if counters is None or terms is None:
        raise NotFound("no such sale")
    held = units_held(counters["accepted"], counters["waitlist_served"], counters["released"])
    waitlisted = on_waitlist(
        counters["waitlisted"], counters["waitlist_served"], counters["waitlist_dropped"]
    )
    return web.json_response(
        {
            "sale_id": str(sale_id),
            "stock": counters["stock"],
            "remaining": counters["remaining"],
            "accepted": counters["accepted"],
            "rejected": counters["rejected"],
            "orders": orders["orders"],
            "awaiting_payment": held - orders["paid"],
            "paid": orders["paid"],
            "expired": orders["expired"],
            "refunded": orders["refunded"],
            "released": counters["released"],
            "waitlisted": waitlisted,
            "waitlist_served": counters["waitlist_served"],
            "revenue": {"amount": orders["revenue"], "currency": terms.price.currency},
        }
    )


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
        decided = decisions_taken(
            accepted,
            rejected,
            int(fields.get(SaleField.WAITLISTED, 0)),
            int(fields.get(SaleField.WAITLIST_DROPPED, 0)),
        )
        sales.append(
            {
                **view.model_dump(mode="json"),
                "accepted": accepted,
                "rejected": rejected,
                "waiting": max(0, int(fields.get("enqueued", 0)) - decided),
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
