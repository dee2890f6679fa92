"""Hash tags: every key one script call touches is in one Redis Cluster slot.

A decider call (decide.lua) gets the commands of sales of one tag; it touches their sale,
buyers and waitlist keys, their tickets' keys and their commands' keys. The gateway's issue
call touches a sale's key and its tickets'; the order service's finalise call, tickets of
one tag. Slots are computed as Redis computes them (CRC16 of the tag), by redis-py's own
function.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID, uuid4

from redis.crc import key_slot

from gateway.domain import AdmissionLimits, SaleSnapshot
from gateway.handlers import Purchases
from shared.contracts.redis_layout import Keys, tag_of, ticket_id_for
from shared.contracts.sales import SaleTerms, now_ms
from shared.contracts.topology import Names
from tests.unit.gateway.fakes import FakeIdempotency, FakeIntents, FakeSales, FakeTickets

KEYS = Keys("flashsale")


def slot(key: str) -> int:
    return key_slot(key.encode())


def keys_of_one_call(sale_ids: list[UUID], tickets: int = 20) -> list[str]:
    """Every key decide.lua can touch for a batch of these sales' commands."""
    keys = []
    for sale_id in sale_ids:
        keys += [KEYS.sale(sale_id), KEYS.buyers(sale_id), KEYS.waitlist(sale_id)]
        keys += [KEYS.ticket(ticket_id_for(sale_id)) for _ in range(tickets)]
        keys += [KEYS.command(sale_id, uuid4()) for _ in range(3)]  # top-up, release, close
    return keys


def test_every_key_of_a_sale_and_its_tickets_is_in_one_slot():
    for _ in range(200):
        sale_id = uuid4()
        assert {slot(k) for k in keys_of_one_call([sale_id])} == {slot(KEYS.sale(sale_id))}


def test_sales_of_one_tag_share_a_slot_so_one_call_decides_them_together():
    first = uuid4()
    same_tag = UUID(int=(uuid4().int & ~0xFFF) | (first.int & 0xFFF))
    assert tag_of(same_tag) == tag_of(first)
    assert len({slot(k) for k in keys_of_one_call([first, same_tag])}) == 1


def test_a_minted_ticket_id_is_a_random_uuid4_ending_in_its_sales_tag():
    sale_id = uuid4()
    minted = [ticket_id_for(sale_id) for _ in range(1000)]
    assert len(set(minted)) == len(minted)
    for ticket_id in minted:
        assert ticket_id.version == 4
        assert ticket_id.variant == "specified in RFC 4122"
        assert UUID(str(ticket_id)) == ticket_id
        assert tag_of(ticket_id) == tag_of(sale_id) == str(sale_id)[-3:]


def test_the_namespace_does_not_change_the_slot_of_a_sale():
    sale_id = uuid4()
    assert slot(Keys("a").sale(sale_id)) == slot(Keys("other-ns").sale(sale_id))


def test_sales_spread_over_the_slots_of_three_masters():
    # redis-cli --cluster create gives three masters equal ranges of the 16384 slots.
    def node(key: str) -> int:
        return min(slot(key) * 3 // 16384, 2)

    per_node = Counter(node(KEYS.sale(uuid4())) for _ in range(3000))
    assert set(per_node) == {0, 1, 2}
    assert min(per_node.values()) > 700, per_node  # about 1000 each
    tags = {f"{i:03x}" for i in range(4096)}
    assert len({slot(f"x:{{{t}}}:sale") for t in tags}) > 3500  # 4096 tags, few collisions


async def test_the_gateway_mints_ticket_ids_in_their_sales_slot():
    now = now_ms()
    sales = [
        SaleSnapshot(
            sale_id=uuid4(),
            name="drop",
            starts_at_ms=now - 60_000,
            ends_at_ms=now + 3_600_000,
            per_user_limit=1,
            stock=10,
            remaining=10,
            accepted=0,
            rejected=0,
            enqueued=0,
            version=1,
            terms=SaleTerms.from_hash(uuid4(), {"name": "drop"}),
        )
        for _ in range(5)
    ]
    intents = FakeIntents()
    purchases = Purchases(
        sales=FakeSales(*sales),
        tickets=FakeTickets(),
        intents=intents,
        idempotency=FakeIdempotency(),
        names=Names("ns", 4),
        limits=AdmissionLimits(demand_factor=20, demand_slack=1000, partition_max_waiting=10**6),
        linger=0.001,
        max_batch=50,
    )
    for s in sales:
        for _ in range(3):
            ticket_id, _ = await purchases.place(uuid4(), s.sale_id, None)
            assert slot(KEYS.ticket(ticket_id)) == slot(KEYS.sale(s.sale_id))
    queued = [intent for _, batch, _ in intents.messages for intent in batch]
    assert len(queued) == 15
    for intent in queued:
        assert tag_of(intent.ticket_id) == tag_of(intent.sale_id)
