"""Server-sent events: a sale's stock and state, and a ticket until it is final.

Both follow the same in-memory state as the polling endpoints (the sale cache and the ticket
board, fed by Redis pub/sub), so a stream and a poll never disagree, and every gateway
replica serves streams for every sale. Sale streams are coalesced: subscribed sales are
checked every ``interval`` (about 200 ms) and a new value is sent only when the sale's
version or its clock-driven state changed, so a burst of decisions becomes a few events
and the last value is always sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiohttp import web

from gateway import metrics
from gateway.domain import SaleSnapshot
from gateway.handlers import render_ticket
from gateway.ports import SaleCatalog, TicketRecords
from shared.contracts.errors import NotFound

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0


def event(kind: str, data: bytes, *, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: ".encode() + data + b"\n\n"


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Proxies (nginx) would otherwise buffer the stream.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    return response


@dataclass(eq=False)
class _Subscriber:
    transport: asyncio.Transport
    done: asyncio.Future[None]


def _chunk(payload: bytes) -> bytes:
    """One chunk of a chunked HTTP/1.1 body (the framing aiohttp's own writes use)."""
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


class SaleFeed:
    """Fans coalesced sale snapshots out to the open sale streams of this gateway.

    Thousands of streams must not slow purchases: each change is rendered and framed once
    per sale and written straight to every subscriber's transport by this one task, with no
    per-stream coroutine to wake. A reader whose socket buffer is full skips that update (it
    gets the next, newer one); a closed connection is dropped.
    """

    def __init__(self, sales: SaleCatalog, *, interval: float = 0.2) -> None:
        self._sales = sales
        self._interval = interval
        self._subscribers: dict[UUID, set[_Subscriber]] = {}
        self._sent: dict[UUID, tuple[int, str]] = {}
        self._last_beat = time.monotonic()
        self.closing = asyncio.Event()

    @staticmethod
    def render(snapshot: SaleSnapshot, now: int | None = None) -> bytes:
        view = snapshot.view(now)
        return event("sale", view.model_dump_json().encode(), event_id=str(snapshot.version))

    async def run(self) -> None:
        """Every interval, push each changed subscribed sale to its streams (until cancelled)."""
        while True:
            await asyncio.sleep(self._interval)
            beat = time.monotonic() - self._last_beat > HEARTBEAT_SECONDS
            if beat:
                self._last_beat = time.monotonic()
            for sale_id, subscribers in list(self._subscribers.items()):
                snapshot = await self._sales.get(sale_id)
                if snapshot is None:
                    continue
                state = snapshot.state()
                payload = None
                if self._sent.get(sale_id) != (snapshot.version, state):
                    self._sent[sale_id] = (snapshot.version, state)
                    payload = _chunk(self.render(snapshot))
                elif beat:
                    payload = _chunk(b": keep-alive\n\n")
                self._broadcast(sale_id, subscribers, payload)

    def _broadcast(
        self, sale_id: UUID, subscribers: set[_Subscriber], payload: bytes | None
    ) -> None:
        for subscriber in list(subscribers):
            transport = subscriber.transport
            if transport.is_closing():
                self._drop(sale_id, subscriber)  # the client went away
            elif payload is not None and transport.get_write_buffer_size() < _SLOW_READER_BYTES:
                transport.write(payload)

    def _drop(self, sale_id: UUID, subscriber: _Subscriber) -> None:
        subscribers = self._subscribers.get(sale_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[sale_id]
                self._sent.pop(sale_id, None)
        if not subscriber.done.done():
            subscriber.done.set_result(None)

    async def stream(self, request: web.Request, sale_id: UUID) -> web.StreamResponse:
        """A fresh snapshot first (also after a reconnect), then each coalesced change."""
        snapshot = await self._sales.get(sale_id)
        if snapshot is None:
            raise NotFound("no such sale")
        response = await open_stream(request)
        await response.write(self.render(snapshot))
        transport = request.transport
        if transport is None:
            return response
        subscriber = _Subscriber(transport, asyncio.get_running_loop().create_future())
        self._subscribers.setdefault(sale_id, set()).add(subscriber)
        metrics.SSE_STREAMS.labels("sale").inc()
        closing: asyncio.Future[Any] = asyncio.ensure_future(self.closing.wait())
        waiting: set[asyncio.Future[Any]] = {subscriber.done, closing}
        try:
            # The feed writes; this handler only waits for the end of the stream.
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            self._drop(sale_id, subscriber)
            metrics.SSE_STREAMS.labels("sale").dec()
        return response


# Past this much unsent data a reader is not keeping up: it misses updates, not the others.
_SLOW_READER_BYTES = 64 * 1024


async def ticket_stream(
    request: web.Request,
    ticket_id: str,
    owner: str,
    *,
    tickets: TicketRecords,
    sales: SaleCatalog,
    closing: asyncio.Event,
) -> web.StreamResponse:
    """The ticket now, then each status change until it is final; then the stream ends."""
    ticket = await tickets.get(ticket_id, owner)
    if ticket is None:
        raise NotFound("no such ticket")
    response = await open_stream(request)
    metrics.SSE_STREAMS.labels("ticket").inc()
    changed = tickets.watch(ticket_id)
    try:
        sent = await render_ticket(ticket_id, ticket, sales=sales)
        await response.write(event("ticket", sent))
        last_beat = time.monotonic()
        while not ticket.final and not closing.is_set():
            changed.clear()
            # Woken by an update; otherwise re-checked (a queued ticket's position moves,
            # and a lost update is caught once the board entry goes stale).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 0.5)
            found = await tickets.get(ticket_id, owner)
            if found is None:
                break
            ticket = found
            body = await render_ticket(ticket_id, ticket, sales=sales)
            if body != sent:
                await response.write(event("ticket", body))
                sent, last_beat = body, time.monotonic()
            elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                await response.write(b": keep-alive\n\n")
                last_beat = time.monotonic()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        tickets.unwatch(ticket_id, changed)
        metrics.SSE_STREAMS.labels("ticket").dec()
    return response
