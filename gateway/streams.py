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
from collections.abc import Iterator
from uuid import UUID

from aiohttp import web

from gateway import metrics
from gateway.sales import SaleCache, SaleSnapshot
from gateway.tickets import Tickets
from shared.errors import NotFound

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


class SaleFeed:
    """Fans coalesced sale snapshots out to the open sale streams of this gateway."""

    def __init__(self, sales: SaleCache, *, interval: float = 0.2) -> None:
        self._sales = sales
        self._interval = interval
        self._subscribers: dict[UUID, set[asyncio.Queue[bytes]]] = {}
        self._sent: dict[UUID, tuple[int, str]] = {}
        self.closing = asyncio.Event()

    @contextlib.contextmanager
    def subscribe(self, sale_id: UUID) -> Iterator[asyncio.Queue[bytes]]:
        # A queue of one: a slow reader gets the newest value, never a backlog.
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._subscribers.setdefault(sale_id, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(sale_id, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(sale_id, None)
                self._sent.pop(sale_id, None)

    @staticmethod
    def render(snapshot: SaleSnapshot, now: int | None = None) -> bytes:
        view = snapshot.view(now)
        return event("sale", view.model_dump_json().encode(), event_id=str(snapshot.version))

    async def run(self) -> None:
        """Every interval, push each changed subscribed sale to its streams (until cancelled)."""
        while True:
            await asyncio.sleep(self._interval)
            for sale_id, queues in list(self._subscribers.items()):
                snapshot = await self._sales.get(sale_id)
                if snapshot is None:
                    continue
                state = snapshot.state()
                if self._sent.get(sale_id) == (snapshot.version, state):
                    continue
                self._sent[sale_id] = (snapshot.version, state)
                payload = self.render(snapshot)
                for queue in queues:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(payload)

    async def stream(self, request: web.Request, sale_id: UUID) -> web.StreamResponse:
        """A fresh snapshot first (also after a reconnect), then each coalesced change."""
        snapshot = await self._sales.get(sale_id)
        if snapshot is None:
            raise NotFound("no such sale")
        response = await open_stream(request)
        metrics.SSE_STREAMS.labels("sale").inc()
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            with self.subscribe(sale_id) as queue:
                await response.write(self.render(snapshot))
                while True:
                    getting = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getting, closing},
                        timeout=HEARTBEAT_SECONDS,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if closing in done:
                        getting.cancel()
                        break
                    if getting in done:
                        await response.write(getting.result())
                    else:
                        getting.cancel()
                        await response.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass  # the client went away
        finally:
            closing.cancel()
            metrics.SSE_STREAMS.labels("sale").dec()
        return response


async def ticket_stream(
    request: web.Request, tickets: Tickets, ticket_id: str, owner: str, closing: asyncio.Event
) -> web.StreamResponse:
    """The ticket now, then each status change until it is final; then the stream ends."""
    ticket = await tickets.get(ticket_id, owner)
    if ticket is None:
        raise NotFound("no such ticket")
    response = await open_stream(request)
    metrics.SSE_STREAMS.labels("ticket").inc()
    changed = tickets.board.watch(ticket_id)
    try:
        sent = await tickets.render(ticket_id, ticket)
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
            body = await tickets.render(ticket_id, ticket)
            if body != sent:
                await response.write(event("ticket", body))
                sent, last_beat = body, time.monotonic()
            elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                await response.write(b": keep-alive\n\n")
                last_beat = time.monotonic()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        tickets.board.unwatch(ticket_id, changed)
        metrics.SSE_STREAMS.labels("ticket").dec()
    return response
