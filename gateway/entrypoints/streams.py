"""Server-sent events: a sale's stock and state, and a ticket until it is final.

Both follow the same in-memory state as the polling endpoints (the sale cache and the ticket
board, fed by Redis pub/sub), so a stream and a poll never disagree, and every gateway
replica serves streams for every sale. Sale streams are coalesced: subscribed sales are
checked every ``interval`` (about 200 ms) and a new value is sent only when the sale's
version or its clock-driven state changed, so a burst of decisions becomes a few events
and the last value is always sent. With tens of thousands of streams one round of writes
takes a while (a send per stream); the interval then grows so that fan-out keeps to a
share of the process (FANOUT_SHARE), and purchases keep the rest. That wait bounds the
writes while changes keep coming; once they stop (no newer change for QUIET_SECONDS) the
last one goes out without waiting it out (a trailing round), within the same share counted
in CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from uuid import UUID

from aiohttp import web

from gateway import metrics
from gateway.domain import SaleSnapshot
from gateway.handlers import render_ticket
from gateway.ports import SaleCatalog, TicketRecords
from shared.contracts.errors import NotFound

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
# At most this share of the process's time goes to writing sale events: after a round of
# writes that took t seconds the feed waits at least t * (1 - share) / share.
FANOUT_SHARE = 0.4
# A sale's change that no newer one has followed for this long is taken as the last of its
# burst: it goes out in a trailing round, without the rest of the wait. That round's rest is
# counted from the last round's CPU time, not its wall-clock time: on a machine with more busy
# processes than cores a round of writes takes several times its CPU in wall-clock time
# (measured: 0.17 s of CPU in 0.5-1.2 s, three gateways and four load workers on two cores),
# time in which this process did not run at all and took nothing from its buyers.
QUIET_SECONDS = 0.2
# How often a resting feed looks at its sales (in memory) for a change gone quiet.
_TICK_SECONDS = 0.05


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


@dataclass(eq=False, slots=True)
class _Subscriber:
    """An open sale stream: all the feed keeps per stream (no task, no timer)."""

    transport: asyncio.Transport
    done: asyncio.Future[None]  # set when the stream ends; its handler awaits only this


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
        # The last event rendered per sale, keyed by (version, state): thousands of viewers
        # arriving together get the same snapshot bytes, rendered once.
        self._rendered: dict[UUID, tuple[tuple[int, str], bytes]] = {}
        # The newest (version, state) the feed has seen per sale, and since when (monotonic).
        self._latest: dict[UUID, tuple[tuple[int, str], float]] = {}
        self._last_beat = time.monotonic()
        self.closing = asyncio.Event()
        self.wait = interval  # the current wait between rounds (grows with the streams)
        self.rest = interval  # the least rest before a trailing round (from the round's CPU)
        self.trailing_rounds = 0  # rounds that went before the wait was over

    @staticmethod
    def render(snapshot: SaleSnapshot, now: int | None = None) -> bytes:
        view = snapshot.view(now)
        return event("sale", view.model_dump_json().encode(), event_id=str(snapshot.version))

    def _render_cached(self, sale_id: UUID, snapshot: SaleSnapshot) -> bytes:
        key = (snapshot.version, snapshot.state())
        cached = self._rendered.get(sale_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        rendered = self.render(snapshot)
        self._rendered[sale_id] = (key, rendered)
        return rendered

    async def run(self) -> None:
        """Every interval, push each changed subscribed sale to its streams (until cancelled);
        once ``closing`` is set, end every stream."""
        rest_per_spent = (1 - FANOUT_SHARE) / FANOUT_SHARE
        try:
            while not self.closing.is_set():
                if await self._rest():
                    self.trailing_rounds += 1
                if self.closing.is_set():
                    break
                started, started_cpu = time.perf_counter(), time.thread_time()
                try:
                    await self._round()
                except Exception:  # a sale that cannot be read now: the next round retries
                    log.exception("sale feed round failed")
                spent = time.perf_counter() - started
                # The round runs on this thread and does not yield: its CPU is its own.
                spent_cpu = time.thread_time() - started_cpu
                self.wait = max(self._interval, spent * rest_per_spent)
                self.rest = max(self._interval, min(spent, spent_cpu) * rest_per_spent)
        finally:
            # The handlers wait on the feed alone: whatever ends it ends their streams.
            self._end_all()

    async def _rest(self) -> bool:
        """Wait ``wait`` after the last round, or less once ``rest`` is over and a change is
        gone quiet; True if the wait was cut short (a trailing round follows)."""
        rested = time.monotonic()
        while not self.closing.is_set():
            left = self.wait - (time.monotonic() - rested)
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), min(left, _TICK_SECONDS))
            # Looked at every tick (a few sales, from memory), so quiet counts from a change's
            # first sighting; acted on only once the rest is over and the wait is not.
            try:
                quiet = await self._gone_quiet(time.monotonic())
            except Exception:  # a sale that cannot be read now: the round says so, and retries
                log.debug("sale feed: no look at the sales while resting", exc_info=True)
                quiet = False
            resting_for = time.monotonic() - rested
            if quiet and self.rest <= resting_for < self.wait:
                return True
        return False

    async def _gone_quiet(self, now: float) -> bool:
        """A subscribed sale has a change not sent yet, and no newer one for QUIET_SECONDS."""
        quiet = False
        for sale_id in list(self._subscribers):
            snapshot = await self._sales.get(sale_id)  # from memory: a subscribed sale
            if snapshot is None:
                continue
            key = (snapshot.version, snapshot.state())
            seen = self._latest.get(sale_id)
            if seen is None or seen[0] != key:
                self._latest[sale_id] = (key, now)
            elif key != self._sent.get(sale_id) and now - seen[1] >= QUIET_SECONDS:
                quiet = True
        return quiet

    def _end_all(self) -> None:
        for sale_id, subscribers in list(self._subscribers.items()):
            for subscriber in list(subscribers):
                self._drop(sale_id, subscriber)

    async def _round(self) -> None:
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
                payload = _chunk(self._render_cached(sale_id, snapshot))
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
                self._rendered.pop(sale_id, None)
                self._latest.pop(sale_id, None)
        if not subscriber.done.done():
            subscriber.done.set_result(None)

    async def stream(self, request: web.Request, sale_id: UUID) -> web.StreamResponse:
        """A fresh snapshot first (also after a reconnect), then each coalesced change."""
        snapshot = await self._sales.get(sale_id)
        if snapshot is None:
            raise NotFound("no such sale")
        response = await open_stream(request)
        await response.write(self._render_cached(sale_id, snapshot))
        transport = request.transport
        if transport is None or self.closing.is_set():
            return response
        # A round of the feed may have sent a newer value while this stream was starting:
        # from the cache (no await that yields), so no round runs between this and the add.
        latest = await self._sales.get(sale_id)
        if latest is not None and (latest.version, latest.state()) != (
            snapshot.version,
            snapshot.state(),
        ):
            transport.write(_chunk(self._render_cached(sale_id, latest)))
        subscriber = _Subscriber(transport, asyncio.get_running_loop().create_future())
        self._subscribers.setdefault(sale_id, set()).add(subscriber)
        metrics.SSE_STREAMS.labels("sale").inc()
        try:
            # The feed writes, and ends the stream (closed connection, shutdown); this
            # handler only waits on one future.
            await subscriber.done
        finally:
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
