"""The public HTTP API: thin routes that parse, call a use case and answer."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import AUTH, FEED, INVENTORY, ORDERS, PROOF, PURCHASES, SALES, TICKETS
from gateway.domain import PurchaseRequest
from gateway.entrypoints.streams import ticket_stream
from gateway.handlers import render_ticket
from gateway.pow import HEADER as POW_HEADER
from shared.contracts.errors import NotFound
from shared.contracts.idempotency import idempotency_key
from shared.runtime.service import authenticate, authenticate_admin
from shared.runtime.web import model_response, path_uuid, read_json

routes = web.RouteTableDef()


@routes.route("*", "/api/v1/auth/{tail:.*}")
async def auth_proxy(request: web.Request) -> web.Response:
    return await request.app[AUTH].forward(request)


@routes.get("/api/v1/admin/sales/{sale_id}/report")
async def sale_report(request: web.Request) -> web.Response:
    # Before the admin catch-all: the report is the order service's (it owns the outcomes).
    await authenticate_admin(request)
    return await request.app[ORDERS].forward(request)


@routes.route("*", "/api/v1/admin/{tail:.*}")
async def admin_proxy(request: web.Request) -> web.Response:
    # Checked here too so that a bad token never reaches the owning service.
    await authenticate_admin(request)
    return await request.app[INVENTORY].forward(request)


@routes.get("/api/v1/sales")
async def list_sales(request: web.Request) -> web.Response:
    sales = await request.app[SALES].all()
    return web.Response(
        body=b"[" + b",".join(s.model_dump_json().encode() for s in sales) + b"]",
        content_type="application/json",
    )


@routes.get("/api/v1/sales/{sale_id}")
async def get_sale(request: web.Request) -> web.Response:
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    sale = await request.app[SALES].get(sale_id)
    if sale is None:
        raise NotFound("no such sale")
    return model_response(sale.view())


def _json(body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Content-Type given as a header: the content_type argument costs ~1 µs more per answer
    # (aiohttp parses and rebuilds it).
    return web.Response(
        body=body, status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


@routes.post("/api/v1/sales/{sale_id}/purchases")
async def purchase(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    if (await request.read()).strip() not in (b"", b"{}"):  # the usual body needs no parsing
        await read_json(request, PurchaseRequest, allow_empty=True)
    ticket_id, status = await request.app[PURCHASES].place(
        claims.user_id,
        sale_id,
        idempotency_key(request.headers.get("Idempotency-Key")),
        request.headers.get(POW_HEADER),
    )
    return _json(
        f'{{"ticket_id":"{ticket_id}","status":"{status}"}}'.encode(),
        status=202,
        headers={"Location": f"/api/v1/tickets/{ticket_id}"},
    )


@routes.get("/api/v1/sales/{sale_id}/challenge")
async def pow_challenge(request: web.Request) -> web.Response:
    # Answered for every sale, with its difficulty: 0 means no purchase of it needs one.
    claims = await authenticate(request)
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    sale = await request.app[SALES].get(sale_id)
    if sale is None:
        raise NotFound("no such sale")
    challenge = request.app[PROOF].challenge(claims.user_id, sale_id, sale.terms.pow_difficulty)
    return model_response(challenge, headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/tickets/{ticket_id}")
async def get_ticket(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    ticket_id = str(path_uuid(request, "ticket_id", missing="no such ticket"))
    ticket = await request.app[TICKETS].get(ticket_id, str(claims.user_id))
    if ticket is None:
        raise NotFound("no such ticket")
    return _json(await render_ticket(ticket_id, ticket, sales=request.app[SALES]))


@routes.get("/api/v1/sales/{sale_id}/events")
async def sale_events(request: web.Request) -> web.StreamResponse:
    sale_id = path_uuid(request, "sale_id", missing="no such sale")
    return await request.app[FEED].stream(request, sale_id)


@routes.get("/api/v1/tickets/{ticket_id}/events")
async def ticket_events(request: web.Request) -> web.StreamResponse:
    claims = await authenticate(request)
    ticket_id = str(path_uuid(request, "ticket_id", missing="no such ticket"))
    return await ticket_stream(
        request,
        ticket_id,
        str(claims.user_id),
        tickets=request.app[TICKETS],
        sales=request.app[SALES],
        closing=request.app[FEED].closing,
    )


@routes.get("/api/v1/products/{product_id}")
async def get_product(request: web.Request) -> web.Response:
    return await request.app[INVENTORY].forward(request)


@routes.get("/api/v1/orders")
async def list_orders(request: web.Request) -> web.Response:
    await authenticate(request)
    return await request.app[ORDERS].forward(request)


@routes.route("*", "/api/v1/orders/{tail:.+}")
async def order_proxy(request: web.Request) -> web.Response:
    await authenticate(request)
    return await request.app[ORDERS].forward(request)


@routes.post("/api/v1/payments/webhook")
async def payment_webhook(request: web.Request) -> web.Response:
    # Not a user's request: the order service checks the provider's signature.
    return await request.app[ORDERS].forward(request)
