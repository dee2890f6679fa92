import json
from uuid import uuid4

import pytest

from shared.contracts.messages import (
    AddStock,
    CommandBatch,
    EventBatch,
    PlacePurchase,
    PoisonMessage,
    PurchaseAccepted,
    PurchaseRejected,
    StockAdded,
    UnsupportedVersion,
    decode_commands,
    decode_events,
    encode,
)


def purchase():
    return PlacePurchase(ticket_id=uuid4(), sale_id=uuid4(), user_id=uuid4(), requested_at_ms=5)


def test_command_batch_round_trips_with_mixed_commands():
    batch = CommandBatch(
        commands=[
            purchase(),
            AddStock(command_id=uuid4(), sale_id=uuid4(), quantity=3, requested_at_ms=9),
            purchase(),
        ]
    )
    assert decode_commands(encode(batch)) == batch


def test_event_batch_round_trips():
    sale, user = uuid4(), uuid4()
    batch = EventBatch(
        events=[
            PurchaseAccepted(ticket_id=uuid4(), sale_id=sale, user_id=user, decided_at_ms=1),
            PurchaseRejected(
                ticket_id=uuid4(), sale_id=sale, user_id=user, reason="sold_out", decided_at_ms=2
            ),
            StockAdded(
                command_id=uuid4(), sale_id=sale, quantity=1, stock=2, remaining=1, decided_at_ms=3
            ),
        ]
    )
    assert decode_events(encode(batch)) == batch


def test_wire_format_is_stable():
    p = purchase()
    wire = json.loads(encode(CommandBatch(commands=[p])))
    assert wire == {
        "type": "command_batch",
        "version": 1,
        "commands": [
            {
                "type": "place_purchase",
                "ticket_id": str(p.ticket_id),
                "sale_id": str(p.sale_id),
                "user_id": str(p.user_id),
                "requested_at_ms": 5,
            }
        ],
    }


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b"not json",
        b"[]",
        b'{"type": "event_batch", "version": 1, "events": []}',  # wrong type for an intent
        b'{"type": "command_batch", "version": 1, "commands": []}',  # empty
        b'{"type": "command_batch", "version": 1, "commands": [{"type": "teleport"}]}',
        b'{"type": "command_batch", "version": 1, "commands": [{"type": "place_purchase"}]}',
    ],
)
def test_undecodable_or_invalid_intents_are_poison(body):
    with pytest.raises(PoisonMessage):
        decode_commands(body)


def test_unknown_fields_are_refused():
    wire = json.loads(encode(CommandBatch(commands=[purchase()])))
    wire["commands"][0]["coupon"] = "FREE"
    with pytest.raises(PoisonMessage, match="invalid command_batch"):
        decode_commands(json.dumps(wire).encode())


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_other_schema_versions_are_reported_as_such(version):
    wire = json.loads(encode(CommandBatch(commands=[purchase()])))
    wire["version"] = version
    with pytest.raises(UnsupportedVersion, match="version"):
        decode_commands(json.dumps(wire).encode())
