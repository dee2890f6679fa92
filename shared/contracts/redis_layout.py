"""The Redis contract between the services: key layout, hash fields, and the ticket's life.

One owner: every Python adapter builds its keys with :class:`Keys`, and every Lua script is
prefixed with :func:`lua_prelude`, generated from the same templates, so no script spells a
key by hand (tests/unit/shared/test_redis_layout.py checks both).

Every key and channel starts with the namespace, so tests and deployments can share a Redis.
The inventory service owns the sale hashes and per-user counters (it alone decides); the
gateway creates ticket records; the order service finalises them.

Hash tags (Redis Cluster, docs/SCALING.md): a sale's keys, its tickets and its commands carry
the sale's *tag*, the last three hex digits of the sale id, as ``{f3a}`` after the namespace
(``ns:{f3a}:sale:<id>``). Keys with one tag hash to one cluster slot, so a script that
touches one sale and its tickets stays on one node. A ticket's key is found from the ticket
id alone because the gateway mints ticket ids that end in their sale's tag
(:func:`ticket_id_for`). The layout is the same on a single Redis, with Sentinel or on a
cluster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

# Key templates after "<namespace>:"; {} stands for an id. The Lua helpers are generated from
# these (``sale_key(sid)``, ``ticket_key(tid)``, ...), the Python ones read them too.
TEMPLATES = {
    "sales_index": "sales",  # sorted set of sale ids, scored by start time
    "sale": "sale:{}",  # hash, SaleField
    "buyers": "sale:{}:buyers",  # hash user id -> units held or waited for by that user
    "waitlist": "sale:{}:waitlist",  # list of "<ticket>:<user>", first in line first
    # The waiting room (shared.contracts.fair_start): "<ticket>:<user>:<requested at ms>" in
    # arrival order (kept after the draw, for audit), and user id -> their room ticket.
    "room": "sale:{}:room",
    "room_buyers": "sale:{}:room-buyers",
    "ticket": "ticket:{}",  # hash, TicketField
    # The outcome of a sale's command (stock top-up, release, close), for redelivery: sale id,
    # command id.
    "command": "cmd:{}:{}",
    "idempotency": "idem:{}:{}",  # user id, "<sale id>:<Idempotency-Key>" -> ticket id
    # Proof of work (gateway/pow.py): the HMAC secret the gateways share when POW_SECRET is
    # not set, and each used challenge until it expires (sale id, challenge).
    "pow_secret": "pow-secret",
    "pow_used": "pow-used:{}:{}",
    # Pub/sub: a sale's counters after each change (JSON, see decide.lua), and ticket changes
    # (a JSON list of [ticket, status, reason, order, order status, waitlist seq, drawn
    # position], empty strings for none; readers also take the older, shorter forms).
    "sale_updates": "sale-updates",
    "ticket_updates": "ticket-updates",
}

# Keys of one sale share its hash tag, taken from the id each template names first (the sale
# id; the ticket id, which ends in its sale's tag); used proof-of-work challenges carry their
# sale's, so one script spends a batch of them. The others (the index, idempotency keys, the
# proof-of-work secret, channels) are touched one at a time and need none.
TAGGED = frozenset(
    {"sale", "buyers", "waitlist", "room", "room_buyers", "ticket", "command", "pow_used"}
)
# A tag is this many trailing hex digits of an id: 4096 tags, spread over the 16384 slots.
TAG_DIGITS = 3
_TAG_MASK = (1 << (4 * TAG_DIGITS)) - 1


def tag_of(some_id: UUID | str) -> str:
    """The hash tag of a sale's keys (``f3a`` in ``{f3a}``): its id's last hex digits. A
    ticket minted by :func:`ticket_id_for` has its sale's."""
    return str(some_id)[-TAG_DIGITS:]


def ticket_id_for(sale_id: UUID) -> UUID:
    """A new random ticket id that ends in its sale's tag, so that the ticket's key is in its
    sale's slot. Still a valid version-4 UUID (the version and variant bits are elsewhere),
    with 110 random bits."""
    return UUID(int=(uuid.uuid4().int & ~_TAG_MASK) | (sale_id.int & _TAG_MASK))


class SaleField:
    """Fields of a sale hash. The decision script alone changes the counters (stock,
    remaining, accepted, rejected, waitlisted, waitlist_served, waitlist_dropped, released)
    and version (which grows with every change, so readers can order snapshots); gateways
    add to enqueued (intents the broker confirmed), so that enqueued - decided is the demand
    still waiting in line. Units held (awaiting payment or paid) are
    accepted + waitlist_served - released, and held + remaining = stock at every moment."""

    NAME = "name"
    STOCK = "stock"
    REMAINING = "remaining"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ENQUEUED = "enqueued"
    VERSION = "version"
    STARTS_AT_MS = "starts_at_ms"
    ENDS_AT_MS = "ends_at_ms"
    PER_USER_LIMIT = "per_user_limit"
    PRODUCT = "product"  # the product object (JSON), as the API shows it
    PRICE_AMOUNT = "price_amount"  # the sale price, in the currency's minor unit
    CURRENCY = "currency"
    PAYMENT_WINDOW_MS = "payment_window_ms"
    WAITLIST_SIZE = "waitlist_size"
    WAITLISTED = "waitlisted"  # buyers ever put on the waitlist (at most waitlist_size)
    WAITLIST_SERVED = "waitlist_served"  # of them, given a released unit
    WAITLIST_DROPPED = "waitlist_dropped"  # of them, rejected when the sale ended
    RELEASED = "released"  # units given back by expired orders
    # A fair start (shared.contracts.fair_start): terms fixed at creation (0: none) ...
    WAITING_ROOM_OPENS_AT_MS = "waiting_room_opens_at_ms"
    FAIR_WINDOW_MS = "fair_window_ms"
    POW_DIFFICULTY = "pow_difficulty"
    # ... and the room, changed by the decision script: tickets put in it, and its draw.
    ROOM = "room"
    DRAWN_AT_MS = "drawn_at_ms"  # absent until drawn
    DRAW_SEED = "draw_seed"


def units_held(accepted: int, waitlist_served: int, released: int) -> int:
    """Units reserved for buyers (awaiting payment or paid): held + remaining = stock."""
    return accepted + waitlist_served - released


def on_waitlist(waitlisted: int, waitlist_served: int, waitlist_dropped: int) -> int:
    """Buyers on the waitlist now: those put on it, less those served or refused at the end."""
    return max(0, waitlisted - waitlist_served - waitlist_dropped)


def decisions_taken(accepted: int, rejected: int, waitlisted: int, waitlist_dropped: int) -> int:
    """Intents decided: accepted, rejected or put on the waitlist (a waitlisted buyer refused
    at the end is counted in rejected as well, so only once here)."""
    return accepted + rejected + waitlisted - waitlist_dropped


class TicketField:
    """Fields of a ticket hash: written by the gateway (sale, user, status queued, seq), the
    decider (decision, status accepted) and the order service (status final, reason, order)."""

    SALE_ID = "sale_id"
    USER_ID = "user_id"
    STATUS = "status"
    REASON = "reason"
    ORDER_ID = "order_id"
    SEQ = "seq"  # the ticket's place in its sale's line (the sale's enqueued count)
    DECISION = "decision"  # the decider's first answer, repeated on redelivery
    WAITLIST_SEQ = "waitlist_seq"  # the ticket's place on the waitlist, counted from 1
    ORDER_STATUS = "order_status"  # its order's status, once it has one
    DRAWN_POSITION = "drawn_position"  # its place in its waiting room's draw, from 1


# A ticket's status only moves forward: (waiting_room or) queued -> (waitlisted ->) accepted ->
# confirmed, or to rejected (from any before). A late or redelivered update of a lower rank
# never pulls a ticket back.
STATUS_RANK = {
    "waiting_room": 0,
    "queued": 0,
    "waitlisted": 1,
    "accepted": 2,
    "confirmed": 3,
    "rejected": 3,
}
FINAL_STATUSES = frozenset(
    s for s, rank in STATUS_RANK.items() if rank == max(STATUS_RANK.values())
)


# An order's status: awaiting_payment -> paid, or -> expired -> refunded (a payment that
# arrived after the deadline was given back).
ORDER_STATUS_RANK = {"awaiting_payment": 0, "paid": 1, "expired": 1, "refunded": 2}


def moves_forward(current: str | None, new: str) -> bool:
    """Whether a ticket in ``current`` (None: no record yet) may take ``new``."""
    return STATUS_RANK.get(new, -1) > (-1 if current is None else STATUS_RANK.get(current, -1))


def order_moves_forward(current: str | None, new: str) -> bool:
    """Whether a ticket whose order shows ``current`` (None: none yet) may show ``new``."""
    rank = ORDER_STATUS_RANK
    return rank.get(new, -1) > (-1 if not current else rank.get(current, -1))


@dataclass(frozen=True)
class Keys:
    """The keys and channels of one namespace."""

    namespace: str

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:"

    def _key(self, template: str, *ids: UUID | str) -> str:
        tag = "{" + tag_of(ids[0]) + "}:" if template in TAGGED else ""
        return self.prefix + tag + TEMPLATES[template].format(*ids)

    @property
    def sales_index(self) -> str:
        return self._key("sales_index")

    def sale(self, sale_id: UUID | str) -> str:
        return self._key("sale", sale_id)

    def buyers(self, sale_id: UUID | str) -> str:
        return self._key("buyers", sale_id)

    def waitlist(self, sale_id: UUID | str) -> str:
        return self._key("waitlist", sale_id)

    def room(self, sale_id: UUID | str) -> str:
        return self._key("room", sale_id)

    def room_buyers(self, sale_id: UUID | str) -> str:
        return self._key("room_buyers", sale_id)

    def ticket(self, ticket_id: UUID | str) -> str:
        return self._key("ticket", ticket_id)

    def command(self, sale_id: UUID | str, command_id: UUID | str) -> str:
        return self._key("command", sale_id, command_id)

    def idempotency(self, user_id: UUID | str, key: str) -> str:
        return self._key("idempotency", user_id, key)

    @property
    def pow_secret(self) -> str:
        return self._key("pow_secret")

    def pow_used(self, sale_id: UUID | str, challenge: str) -> str:
        return self._key("pow_used", sale_id, challenge)

    @property
    def sale_updates(self) -> str:
        return self._key("sale_updates")

    @property
    def ticket_updates(self) -> str:
        return self._key("ticket_updates")


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lua_function(name: str, template: str) -> str:
    """``local function <name>_key(a, b) return PREFIX .. "x:" .. a .. ":" .. b end``, with
    ``tag(a)`` after the prefix for a tagged key."""
    pieces = template.split("{}")
    args = [f"id{i}" for i in range(len(pieces) - 1)]
    parts = ["PREFIX", *(["tag(id0)"] if name in TAGGED else [])]
    for i, piece in enumerate(pieces):
        if piece:
            parts.append(_lua_string(piece))
        if i < len(args):
            parts.append(args[i])
    body = " .. ".join(parts)
    if not args:
        return f"local {name.upper()} = {body}"
    return f"local function {name}_key({', '.join(args)}) return {body} end"


def lua_prelude() -> str:
    """Lua that every script starts with: PREFIX (from ARGV[1]), a function per key template
    (channels as constants), the field names, and the status rule."""
    lines = [
        "-- Generated by shared/contracts/redis_layout.py: the key layout, fields and status",
        "-- rule every service shares. Scripts take the key prefix as ARGV[1].",
        "local PREFIX = ARGV[1]",
        f'local function tag(id) return "{{" .. string.sub(id, -{TAG_DIGITS}) .. "}}:" end',
        *(_lua_function(name, template) for name, template in TEMPLATES.items()),
        "local SALE = {"
        + ", ".join(
            f"{k.lower()} = {_lua_string(v)}" for k, v in vars(SaleField).items() if k.isupper()
        )
        + "}",
        "local TICKET = {"
        + ", ".join(
            f"{k.lower()} = {_lua_string(v)}" for k, v in vars(TicketField).items() if k.isupper()
        )
        + "}",
        "local STATUS_RANK = {"
        + ", ".join(f"{status} = {rank}" for status, rank in STATUS_RANK.items())
        + "}",
        "local ORDER_STATUS_RANK = {"
        + ", ".join(f"{status} = {rank}" for status, rank in ORDER_STATUS_RANK.items())
        + "}",
        "local function moves_forward(current, new)",
        "  return (STATUS_RANK[new] or -1) > ((current and STATUS_RANK[current]) or -1)",
        "end",
        "local function order_moves_forward(current, new)",
        "  return (ORDER_STATUS_RANK[new] or -1) >",
        "    ((current and current ~= '' and ORDER_STATUS_RANK[current]) or -1)",
        "end",
    ]
    return "\n".join(lines) + "\n"


def lua_script(body: str) -> str:
    """A script's full source: the prelude, then its body."""
    return lua_prelude() + body
