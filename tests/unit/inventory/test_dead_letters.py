"""Dead letters back into line: which purchases go, what stays, and in what order things
happen (records before the move, the move before the ack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from inventory_service.dead_letters import UNKNOWN_SALE, DeadLetter, Requeue, plan, why_left
from inventory_service.domain import NewSale
from inventory_service.handlers import requeue_dead_letters
from shared.contracts.messages import AddStock, Command, PlacePurchase, ReleaseUnit
from shared.runtime.publishing import PublishFailed
from tests.unit.inventory.fakes import FakeSaleStore

KNOWN, MISSING = uuid4(), uuid4()


def buy(sale_id: UUID) -> PlacePurchase:
    return PlacePurchase(ticket_id=uuid4(), sale_id=sale_id, user_id=uuid4(), requested_at_ms=1)


def letter(*commands: Command, reason: str | None = UNKNOWN_SALE, tag: int = 1) -> DeadLetter:
    return DeadLetter(
        delivery_tag=tag,
        reason=reason,
        commands=commands or None,
        request_ids=tuple(f"r{i}" for i in range(len(commands))),
    )


def test_purchases_of_an_existing_sale_go_back_with_their_request_ids():
    first, other, second = buy(KNOWN), buy(MISSING), buy(KNOWN)
    requeue = plan(letter(first, other, second), {KNOWN})
    assert requeue == Requeue((first, second), ("r0", "r2"), (other,), ("r1",))


def test_nothing_moves_for_other_reasons_missing_sales_and_other_commands():
    release = ReleaseUnit(
        command_id=uuid4(), sale_id=KNOWN, order_id=uuid4(), ticket_id=uuid4(),
        user_id=uuid4(), requested_at_ms=1,
    )  # fmt: skip
    top_up = AddStock(command_id=uuid4(), sale_id=KNOWN, quantity=3, requested_at_ms=1)
    cases = {
        "reason set by the broker (see x-death)": letter(buy(KNOWN), reason=None),
        "undecodable": letter(),
        "unknown_sale, not a purchase": letter(release, top_up),
        "unknown_sale, the sale still does not exist": letter(buy(MISSING)),
    }
    for why, dead in cases.items():
        assert plan(dead, {KNOWN}) is None
        assert why_left(dead, None) == why
    assert why_left(letter(buy(MISSING)), [KNOWN]) == "unknown_sale, of a sale not named"


class FakeDeadLetters:
    """A queue of letters; records what was moved, in order, as the broker would hold it."""

    def __init__(self, letters: list[DeadLetter], journal: list[str]) -> None:
        self.letters = letters
        self.journal = journal
        self.moved: list[Requeue] = []
        self.fail_on: int | None = None

    async def read(self) -> AsyncIterator[DeadLetter]:
        for dead in list(self.letters):
            yield dead

    async def move(self, dead: DeadLetter, requeue: Requeue) -> None:
        if dead.delivery_tag == self.fail_on:
            raise PublishFailed("nacked")
        self.journal.append(f"move {dead.delivery_tag}")
        self.moved.append(requeue)
        self.letters.remove(dead)
        if requeue.kept:  # the rest goes back to the end of the queue
            self.letters.append(DeadLetter(99, dead.reason, requeue.kept, requeue.kept_ids))


class FakeQueuedTickets:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.restored: list[PlacePurchase] = []

    async def restore(self, purchases) -> None:
        self.journal.append(f"restore {len(purchases)}")
        self.restored.extend(purchases)


@pytest.fixture
async def store() -> FakeSaleStore:
    store = FakeSaleStore()
    now = datetime.now(UTC)
    sale = NewSale(
        name="drop", stock=5, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1)
    )
    await store.create(KNOWN, sale)
    return store


async def test_records_are_restored_before_the_move_and_a_second_run_moves_nothing(store):
    journal: list[str] = []
    mixed = letter(buy(KNOWN), buy(MISSING), tag=2)
    letters = FakeDeadLetters(
        [letter(buy(KNOWN), buy(KNOWN), tag=1), mixed, letter(buy(MISSING), tag=3)], journal
    )
    tickets = FakeQueuedTickets(journal)

    report = await requeue_dead_letters(None, letters=letters, store=store, tickets=tickets)
    assert journal == ["restore 2", "move 1", "restore 1", "move 2"]
    assert (report.read, report.moved_messages, report.moved_purchases) == (3, 2, 3)
    assert report.by_sale == {KNOWN: 3}
    assert [p.sale_id for p in tickets.restored] == [KNOWN] * 3
    # The missing sale's purchases stay: the untouched letter and the rest of the mixed one.
    assert [d.commands and d.commands[0].sale_id for d in letters.letters] == [MISSING, MISSING]

    again = await requeue_dead_letters(None, letters=letters, store=store, tickets=tickets)
    assert (again.read, again.moved_purchases) == (2, 0)
    assert again.left == {"unknown_sale, the sale still does not exist": 2}


async def test_only_the_named_sales_move_and_a_refused_move_stops_the_run(store):
    journal: list[str] = []
    letters = FakeDeadLetters([letter(buy(KNOWN), tag=1), letter(buy(KNOWN), tag=2)], journal)
    tickets = FakeQueuedTickets(journal)
    named = await requeue_dead_letters([MISSING], letters=letters, store=store, tickets=tickets)
    assert named.moved_purchases == 0 and len(letters.letters) == 2

    letters.fail_on = 2
    with pytest.raises(PublishFailed):
        await requeue_dead_letters([KNOWN], letters=letters, store=store, tickets=tickets)
    # The first was moved; the refused one is still a dead letter, for the next run.
    assert [d.delivery_tag for d in letters.letters] == [2]
