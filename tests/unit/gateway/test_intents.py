"""The gateway's intents and ticket ids: made without pydantic or uuid objects, yet exactly
what the contract (shared.contracts) describes."""

from __future__ import annotations

import uuid
from uuid import UUID, uuid4

from gateway.domain import Intent, intent_batch_json
from gateway.ticket_ids import new_ticket_id
from shared.contracts.messages import CommandBatch, PlacePurchase, decode_commands, encode
from shared.contracts.redis_layout import tag_of


def test_an_intent_batch_is_byte_for_byte_the_contracts_encoding():
    commands = [
        PlacePurchase(ticket_id=uuid4(), sale_id=uuid4(), user_id=uuid4(), requested_at_ms=ms)
        for ms in (0, 1_764_000_000_123)
    ]
    intents = [
        Intent(str(c.ticket_id), str(c.sale_id), str(c.user_id), c.requested_at_ms)
        for c in commands
    ]
    body = intent_batch_json(intents)
    assert body == encode(CommandBatch(commands=list(commands)))
    assert decode_commands(body).commands == commands


def test_ticket_ids_are_random_version_4_uuids_in_their_sales_slot():
    sale_id = uuid4()
    minted = [new_ticket_id(sale_id) for _ in range(10_000)]  # more than one read of the pool
    assert len(set(minted)) == len(minted)
    for ticket_id in minted:
        parsed = UUID(ticket_id)
        assert str(parsed) == ticket_id  # canonical: lower case, hyphenated
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert tag_of(ticket_id) == tag_of(sale_id)
    # The bits that are not fixed (version, variant, tag) vary: 110 random bits each.
    varying = 0
    for ticket_id in minted[1:]:
        varying |= UUID(ticket_id).int ^ UUID(minted[0]).int
    assert bin(varying).count("1") == 128 - 4 - 2 - 12


def test_a_ticket_object_is_what_json_dumps_would_write():
    import json

    from gateway.domain import Ticket

    for ticket in (
        Ticket("u", "s", "queued", seq=7),
        Ticket("u", "s", "rejected", reason='sold_out "really"'),
        Ticket("u", "s", "confirmed", order_id="o-1", order_status="awaiting_payment"),
        Ticket("u", "s", "waitlisted", waitlist_seq=3),
        Ticket("u", "s", "waiting_room"),
        Ticket("u", "s", "accepted", drawn_position=17),
    ):
        line = json.loads(ticket.to_json("t", decided=2, served=1))
        assert line == {
            "ticket_id": "t",
            "sale_id": "s",
            "status": ticket.status,
            "reason": ticket.reason,
            "order_id": ticket.order_id,
            "position": ticket.position(2, 1),
            "order_status": ticket.order_status,
            "drawn_position": ticket.drawn_position or None,
        }
