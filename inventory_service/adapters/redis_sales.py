"""Redis adapter: sale hashes, per-user counters and the atomic decision script."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from importlib import resources
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import TimeoutError as RedisTimeoutError

from inventory_service.domain import (
    Accepted,
    Decision,
    DrawnTicket,
    InWaitingRoom,
    NewSale,
    Rejected,
    Released,
    RoomDrawn,
    StockIncreased,
    UnknownSale,
    WaitlistClosed,
    Waitlisted,
)
from inventory_service.reconciliation import HotState, Outcome, Rebuild
from shared.contracts.fair_start import FairStart
from shared.contracts.messages import (
    AddStock,
    CloseWaitlist,
    Command,
    DrawWaitingRoom,
    PlacePurchase,
    ReleaseUnit,
)
from shared.contracts.products import ProductView
from shared.contracts.redis_layout import Keys, SaleField, TicketField, lua_script, tag_of
from shared.contracts.sales import SaleTerms, datetime_to_ms

_DECIDE = lua_script(
    resources.files("inventory_service.adapters").joinpath("decide.lua").read_text()
)

# Creating a sale must be all-or-nothing and safe to repeat (start-up sync, retries): a
# half-written hash would read as a sale without counters. The index, in another slot on a
# cluster, is added to after (see create()).
# KEYS: the sale key. ARGV: prefix, sale id, then field, value, field, value, ...
_CREATE = lua_script("""
local key = sale_key(ARGV[2])
if redis.call("EXISTS", key) == 1 then return 0 end
redis.call("HSET", key, unpack(ARGV, 3))
return 1
""")


def _wire(command: Command) -> dict[str, object]:
    if isinstance(command, DrawWaitingRoom):
        # A fresh seed each call; only the call that draws keeps its own (nobody, not even
        # this service, knows the seed before the draw).
        return {
            "k": "d",
            "cid": str(command.command_id),
            "sid": str(command.sale_id),
            "at": command.requested_at_ms,
            "seed": secrets.token_hex(16),
        }
    if isinstance(command, PlacePurchase):
        return {
            "k": "p",
            "tid": str(command.ticket_id),
            "sid": str(command.sale_id),
            "uid": str(command.user_id),
            "at": command.requested_at_ms,
        }
    if isinstance(command, AddStock):
        return {
            "k": "s",
            "cid": str(command.command_id),
            "sid": str(command.sale_id),
            "q": command.quantity,
            "at": command.requested_at_ms,
        }
    if isinstance(command, ReleaseUnit):
        return {
            "k": "x",
            "cid": str(command.command_id),
            "sid": str(command.sale_id),
            "uid": str(command.user_id),
            "at": command.requested_at_ms,
        }
    return {"k": "c", "cid": str(command.command_id), "sid": str(command.sale_id)}


def _ticket_and_user(entry: str) -> tuple[UUID, UUID]:
    ticket, _, user = entry.partition(":")
    return UUID(ticket), UUID(user)


def _purchase_decision(ticket_id: UUID, reply: str) -> Accepted | Rejected | Waitlisted | None:
    kind, _, rest = reply.partition(":")
    if kind == "a":
        return Accepted(ticket_id)
    if kind == "w":
        return Waitlisted(ticket_id, int(rest))
    if kind == "r":
        return Rejected(ticket_id, rest)  # type: ignore[arg-type]
    return None


def _room_drawn(command_id: UUID, reply: str) -> RoomDrawn:
    """Parse "d:<seed>:<at>;<ticket>,<user>,<requested at>,<decision>;..."."""
    head, _, rest = reply.partition(";")
    _, seed, drawn_at = head.split(":")
    tickets = []
    for position, entry in enumerate(rest.split(";") if rest else (), start=1):
        ticket, user, at, answer = entry.split(",", 3)
        decision = _purchase_decision(UUID(ticket), answer)
        if decision is None:
            raise ValueError(f"unexpected decision {answer!r} in a draw")
        tickets.append(DrawnTicket(UUID(ticket), UUID(user), int(at), position, decision))
    return RoomDrawn(command_id, seed, int(drawn_at), tuple(tickets))


def _parse(command: Command, reply: str) -> Decision:
    if reply == "u":
        return UnknownSale(command.sale_id)
    if isinstance(command, PlacePurchase):
        if reply == "m":
            return InWaitingRoom(command.ticket_id)
        decision = _purchase_decision(command.ticket_id, reply)
        if decision is not None:
            return decision
    elif isinstance(command, DrawWaitingRoom) and reply.startswith("d:"):
        return _room_drawn(command.command_id, reply)
    elif isinstance(command, AddStock) and reply.startswith("s:"):
        return _stock_increased(command.command_id, reply)
    elif isinstance(command, ReleaseUnit) and reply.startswith("x"):
        rest = reply[2:]
        return Released(command.command_id, _ticket_and_user(rest) if rest else None)
    elif isinstance(command, CloseWaitlist) and reply.startswith("c"):
        rest = reply[2:]
        dropped = tuple(_ticket_and_user(e) for e in rest.split(";")) if rest else ()
        return WaitlistClosed(command.command_id, dropped)
    raise ValueError(f"unexpected decision reply {reply!r} to {type(command).__name__}")


def _stock_increased(command_id: UUID, reply: str) -> StockIncreased:
    """Parse "s:<stock>:<remaining>[:<ticket>:<user>;...]"."""
    _, stock, remaining, *rest = reply.split(":", 3)
    promoted = tuple(_ticket_and_user(e) for e in rest[0].split(";")) if rest else ()
    return StockIncreased(command_id, int(stock), int(remaining), promoted)


def legacy_product(sale_id: UUID, name: str) -> ProductView:
    """The product of a sale made before products existed (see migration 0004)."""
    return SaleTerms.from_hash(sale_id, {"name": name}).product


# What stats show of a sale's hash (see SaleField for what each means).
COUNTERS = [
    SaleField.STOCK,
    SaleField.REMAINING,
    SaleField.ACCEPTED,
    SaleField.REJECTED,
    SaleField.WAITLISTED,
    SaleField.WAITLIST_SERVED,
    SaleField.WAITLIST_DROPPED,
    SaleField.RELEASED,
]


class ReplicasBehind(RedisTimeoutError):
    """Fewer replicas than asked hold a batch's decisions: it is not published or acked, and
    its redelivery gets the stored decisions (or, after a failover to a replica that never
    had them, is decided again: nobody was told the first answer).

    A timeout, so a dependency error: the consumer keeps the batch and retries it until a
    replica holds it. As a plain error it was handed back as a crash, and after a failover
    (no replica until the old primary rejoins) the delivery limit dead-lettered the line's
    purchases: answered 202, never decided (tests/cluster/test_sentinel_crowd.py)."""


class RedisSaleStore:
    """The hot state of every sale, changed only through :meth:`decide`."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        *,
        min_replica_acks: int = 0,
        replica_ack_timeout_ms: int = 200,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._min_replica_acks = min_replica_acks
        self._replica_ack_timeout_ms = replica_ack_timeout_ms
        self._decide = client.register_script(_DECIDE)
        self._create = client.register_script(_CREATE)
        self._terms: dict[UUID, SaleTerms] = {}  # fixed at creation, so cached for good
        self._fair: dict[UUID, FairStart | None] = {}  # the same, for a fair start's draw
        # Sales whose draw's decisions this process handed on: no draw needed in front of
        # their purchases any more (until then a retried batch must bring the draw again).
        self._drawn: set[UUID] = set()

    async def decide(self, commands: Sequence[Command]) -> list[Decision]:
        """Decide ``commands`` in order (idempotent per item): one atomic script call per hash
        tag of their sales, as a cluster runs a script on one slot's node (a batch is mostly
        one hot sale: one call). With ``min_replica_acks``, return only once that many
        replicas hold the decisions."""
        groups: dict[str, list[int]] = {}
        for i, command in enumerate(commands):
            groups.setdefault(tag_of(command.sale_id), []).append(i)
        calls = [
            (
                [self._keys.sale(commands[group[0]].sale_id)],
                [self._keys.prefix, json.dumps([_wire(commands[i]) for i in group])],
            )
            for group in groups.values()
        ]
        if not self._min_replica_acks:
            results = await asyncio.gather(*(self._decide(keys=k, args=a) for k, a in calls))
        else:
            # WAIT counts the writes of its own connection: one pipeline, one connection (not
            # on a cluster: the settings refuse the two together).
            async with self._redis.pipeline(transaction=False) as pipe:
                for k, a in calls:
                    await self._decide(keys=k, args=a, client=pipe)
                pipe.execute_command("WAIT", self._min_replica_acks, self._replica_ack_timeout_ms)
                *results, acked = await pipe.execute()
            if int(acked) < self._min_replica_acks:
                raise ReplicasBehind(
                    f"{acked} of {self._min_replica_acks} replicas hold the decisions after"
                    f" {self._replica_ack_timeout_ms} ms"
                )
        replies: list[str] = [""] * len(commands)
        for group, result in zip(groups.values(), results, strict=True):
            for i, reply in zip(group, result, strict=True):
                replies[i] = reply
        return [_parse(c, r) for c, r in zip(commands, replies, strict=True)]

    def room_handed_on(self, sale_id: UUID) -> None:
        self._drawn.add(sale_id)

    async def draw_at(self, sale_id: UUID) -> int | None:
        """The end of the sale's fair window, unless it has none or this process saw its room
        drawn (after a restart the draw is sent again and answers what it drew the first
        time)."""
        if sale_id in self._drawn:
            return None
        if sale_id not in self._fair:
            fields = cast(dict[str, str], await self._redis.hgetall(self._keys.sale(sale_id)))
            if SaleField.NAME not in fields:
                return None  # an unknown sale: decided (dead-lettered) as such
            terms = SaleTerms.from_hash(sale_id, fields)
            start = terms.fair_start(int(fields[SaleField.STARTS_AT_MS]))
            self._fair[sale_id] = start if start.enabled else None
        fair = self._fair[sale_id]
        return None if fair is None else fair.draw_at_ms

    async def create(
        self,
        sale_id: UUID,
        sale: NewSale,
        *,
        product: ProductView | None = None,
        remaining: int | None = None,
    ) -> bool:
        """Put a sale's hash in place unless it exists; True if this call created it. The
        terms a sale leaves out come from its product (price) and the defaults."""
        product = product or legacy_product(sale_id, sale.name)
        price = sale.price or product.price
        fields: dict[str, object] = {
            SaleField.NAME: sale.name,
            SaleField.STOCK: sale.stock,
            SaleField.REMAINING: sale.stock if remaining is None else remaining,
            SaleField.ACCEPTED: 0 if remaining is None else sale.stock - remaining,
            SaleField.REJECTED: 0,
            SaleField.ENQUEUED: 0,
            SaleField.VERSION: 0,
            SaleField.STARTS_AT_MS: datetime_to_ms(sale.starts_at),
            SaleField.ENDS_AT_MS: datetime_to_ms(sale.ends_at),
            SaleField.PER_USER_LIMIT: sale.per_user_limit,
            SaleField.PRODUCT: product.model_dump_json(),
            SaleField.PRICE_AMOUNT: price.amount,
            SaleField.CURRENCY: price.currency,
            SaleField.PAYMENT_WINDOW_MS: 1000 * (sale.payment_window_seconds or 600),
            SaleField.WAITLIST_SIZE: sale.waitlist_size,
            SaleField.WAITLISTED: 0,
            SaleField.WAITLIST_SERVED: 0,
            SaleField.WAITLIST_DROPPED: 0,
            SaleField.RELEASED: 0,
            SaleField.WAITING_ROOM_OPENS_AT_MS: (
                datetime_to_ms(sale.waiting_room_opens_at) if sale.waiting_room_opens_at else 0
            ),
            SaleField.FAIR_WINDOW_MS: 1000 * sale.fair_window_seconds,
            SaleField.POW_DIFFICULTY: sale.pow_difficulty,
            SaleField.ROOM: 0,
        }
        created = await self._create(
            keys=[self._keys.sale(sale_id)],
            args=[
                self._keys.prefix,
                str(sale_id),
                *(str(x) for kv in fields.items() for x in kv),
            ],
        )
        # Every time, not only when created: a crash between the two writes heals on the
        # next create (start-up sync); readers skip an indexed sale without a hash.
        starts_at_ms = await self._redis.hget(self._keys.sale(sale_id), SaleField.STARTS_AT_MS)
        await self._redis.zadd(self._keys.sales_index, {str(sale_id): int(starts_at_ms or 0)})
        return bool(created)

    async def counters(self, sale_id: UUID) -> dict[str, int] | None:
        """The sale's counters, read at one instant (one HMGET)."""
        values = await self._redis.hmget(self._keys.sale(sale_id), COUNTERS)
        if values[0] is None:
            return None
        return {name: int(v or 0) for name, v in zip(COUNTERS, values, strict=True)}

    async def terms(self, sale_id: UUID) -> SaleTerms | None:
        """What the sale sells and on what terms; None for an unknown sale."""
        terms = self._terms.get(sale_id)
        if terms is None:
            fields = cast(dict[str, str], await self._redis.hgetall(self._keys.sale(sale_id)))
            if SaleField.NAME not in fields:
                return None
            terms = self._terms[sale_id] = SaleTerms.from_hash(sale_id, fields)
        return terms

    async def all_sales(self) -> list[tuple[UUID, dict[str, str]]]:
        """Every sale's hash, by start time (one pipelined round trip)."""
        ids = cast(list[str], await self._redis.zrange(self._keys.sales_index, 0, -1))
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(self._keys.sale(sale_id))
            hashes = cast(list[dict[str, str]], await pipe.execute())
        return [
            (UUID(sale_id), fields)
            for sale_id, fields in zip(ids, hashes, strict=True)
            if fields and SaleField.NAME in fields
        ]

    async def hot_state(self, sale_id: UUID) -> HotState | None:
        """The sale's counters, per-buyer counters and waitlist, read in one transaction (one
        hash tag: one slot, as a cluster transaction needs)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(self._keys.sale(sale_id), COUNTERS)
            pipe.hvals(self._keys.buyers(sale_id))
            pipe.llen(self._keys.waitlist(sale_id))
            counters, buyers, waiting = await pipe.execute()
        if counters[0] is None:
            return None
        values = {name: int(v or 0) for name, v in zip(COUNTERS, counters, strict=True)}
        return HotState(**values, buyers=sum(int(b) for b in buyers), waiting=int(waiting))

    async def replace(
        self,
        sale_id: UUID,
        sale: NewSale,
        product: ProductView,
        state: Rebuild,
        outcomes: Sequence[Outcome],
    ) -> None:
        """Rebuild a sale's Redis state and its tickets' records from the durable record
        (only with the lines drained and the deciders stopped: see docs/RECONCILE.md)."""
        await self._redis.delete(
            self._keys.sale(sale_id), self._keys.buyers(sale_id), self._keys.waitlist(sale_id)
        )
        self._terms.pop(sale_id, None)
        await self.create(sale_id, sale, product=product, remaining=state.remaining)
        async with self._redis.pipeline(transaction=True) as pipe:  # the sale's slot
            pipe.hset(
                self._keys.sale(sale_id),
                mapping={
                    SaleField.ACCEPTED: state.accepted,
                    SaleField.REJECTED: state.rejected,
                    SaleField.RELEASED: state.released,
                    SaleField.ENQUEUED: state.decided,
                },
            )
            if state.buyers:
                pipe.hset(
                    self._keys.buyers(sale_id),
                    mapping={str(user): n for user, n in state.buyers.items()},
                )
            await pipe.execute()
        # Not in the transaction: a ticket made before tickets carried their sale's tag may
        # be in another slot. The deciders are stopped, so nobody reads them half-written.
        async with self._redis.pipeline(transaction=False) as pipe:
            for o in outcomes:
                fields = {
                    TicketField.SALE_ID: str(sale_id),
                    TicketField.USER_ID: str(o.user_id),
                    TicketField.STATUS: o.status,
                    # A redelivered intent must get this decision again, not a second one.
                    TicketField.DECISION: "a" if o.status == "confirmed" else f"r:{o.reason}",
                    TicketField.REASON: o.reason or "",
                    TicketField.ORDER_ID: str(o.order_id or ""),
                    TicketField.ORDER_STATUS: o.order_status or "",
                }
                pipe.hset(
                    self._keys.ticket(o.ticket_id), mapping={k: v for k, v in fields.items() if v}
                )
            await pipe.execute()

    async def command_outcome(self, sale_id: UUID, command_id: UUID) -> StockIncreased | None:
        """The decision of a stock top-up of the sale, once the decider has taken it."""
        reply = await self._redis.get(self._keys.command(sale_id, command_id))
        if reply is None:
            return None
        return _stock_increased(command_id, str(reply))

    async def ping(self) -> None:
        await self._redis.ping()
