"""The waitlist rules, pure: who waits, who a released unit goes to, and that every unit is
either held or remaining after every command."""

from __future__ import annotations

from uuid import UUID, uuid4

from inventory_service.domain import (
    Accepted,
    Decision,
    Rejected,
    Released,
    SaleCounters,
    WaitlistClosed,
    Waitlisted,
    decide_batch,
)
from shared.contracts.messages import CloseWaitlist, Command, PlacePurchase, ReleaseUnit

START, END = 1_000, 2_000
OPEN, LATE = 1_500, 2_500


class Line:
    """One sale's line: commands decided one by one, the invariant checked after each."""

    def __init__(self, *, stock: int, waitlist: int, limit: int = 1) -> None:
        self.sale_id = uuid4()
        self.sale = SaleCounters(
            stock=stock,
            remaining=stock,
            starts_at_ms=START,
            ends_at_ms=END,
            per_user_limit=limit,
            waitlist_size=waitlist,
        )
        self.sales = {self.sale_id: self.sale}
        self.decided: dict[UUID, Decision] = {}

    def run(self, *commands: Command) -> list[Decision]:
        out = []
        for command in commands:
            out += decide_batch(self.sales, [command], self.decided)
            assert self.sale.held + self.sale.remaining == self.sale.stock, self.sale
            assert self.sale.held >= 0 and self.sale.remaining >= 0, self.sale
        return out

    def buy(self, user: UUID | None = None, at: int = OPEN) -> PlacePurchase:
        return PlacePurchase(
            ticket_id=uuid4(), sale_id=self.sale_id, user_id=user or uuid4(), requested_at_ms=at
        )

    def release(self, user: UUID, at: int = OPEN) -> ReleaseUnit:
        return ReleaseUnit(
            command_id=uuid4(),
            sale_id=self.sale_id,
            order_id=uuid4(),
            ticket_id=uuid4(),
            user_id=user,
            requested_at_ms=at,
        )

    def close(self) -> CloseWaitlist:
        return CloseWaitlist(command_id=uuid4(), sale_id=self.sale_id, requested_at_ms=LATE)


def test_buyers_beyond_stock_wait_in_order_until_the_waitlist_is_full():
    line = Line(stock=2, waitlist=3)
    buys = [line.buy() for _ in range(6)]
    assert line.run(*buys) == [
        Accepted(buys[0].ticket_id),
        Accepted(buys[1].ticket_id),
        Waitlisted(buys[2].ticket_id, 1),
        Waitlisted(buys[3].ticket_id, 2),
        Waitlisted(buys[4].ticket_id, 3),
        Rejected(buys[5].ticket_id, "sold_out"),
    ]
    assert line.sale.waitlist == [(b.ticket_id, b.user_id) for b in buys[2:5]]
    assert (line.sale.remaining, line.sale.accepted, line.sale.waitlisted) == (0, 2, 3)
    assert line.sale.rejected == 1


def test_without_a_waitlist_the_first_buyer_past_the_stock_is_sold_out():
    line = Line(stock=1, waitlist=0)
    first, second = line.buy(), line.buy()
    assert line.run(first, second) == [
        Accepted(first.ticket_id),
        Rejected(second.ticket_id, "sold_out"),
    ]
    assert line.sale.waitlist == []


def test_a_place_on_the_waitlist_counts_against_the_buyers_limit():
    line = Line(stock=1, waitlist=5, limit=2)
    alice, bob = uuid4(), uuid4()
    a1, a2, a3 = line.buy(alice), line.buy(alice), line.buy(alice)
    b1, b2 = line.buy(bob), line.buy(bob)
    assert line.run(a1, a2, a3, b1, b2) == [
        Accepted(a1.ticket_id),
        Waitlisted(a2.ticket_id, 1),
        Rejected(a3.ticket_id, "limit_reached"),  # one unit held, one place in line
        Waitlisted(b1.ticket_id, 2),
        Waitlisted(b2.ticket_id, 3),
    ]
    assert line.sale.buyers == {alice: 2, bob: 2}


def test_a_released_unit_goes_to_the_first_waiting_and_frees_the_expired_buyers_slot():
    line = Line(stock=1, waitlist=5)
    alice, bob, carol = uuid4(), uuid4(), uuid4()
    won, bobs, carols = line.buy(alice), line.buy(bob), line.buy(carol)
    line.run(won, bobs, carols)
    twice = line.buy(alice)
    assert line.run(twice) == [Rejected(twice.ticket_id, "limit_reached")]
    # Alice's order expires: Bob (first in line) gets the unit, not Carol.
    release = line.release(alice)
    assert line.run(release) == [Released(release.command_id, (bobs.ticket_id, bob))]
    assert line.sale.waitlist == [(carols.ticket_id, carol)]
    assert (line.sale.waitlist_served, line.sale.released, line.sale.remaining) == (1, 1, 0)
    assert line.sale.held == 1
    # Alice's slot is free again: she may queue once more (behind Carol).
    again = line.buy(alice)
    assert line.run(again) == [Waitlisted(again.ticket_id, 3)]
    assert line.sale.waitlist == [(carols.ticket_id, carol), (again.ticket_id, alice)]


def test_units_released_one_after_another_serve_the_waitlist_first_come_first_served():
    line = Line(stock=2, waitlist=3)
    holders = [uuid4(), uuid4()]
    waiting = [line.buy() for _ in range(3)]
    line.run(*(line.buy(u) for u in holders), *waiting)
    releases = [line.release(u) for u in holders]
    assert line.run(*releases) == [
        Released(releases[0].command_id, (waiting[0].ticket_id, waiting[0].user_id)),
        Released(releases[1].command_id, (waiting[1].ticket_id, waiting[1].user_id)),
    ]
    assert line.sale.waitlist == [(waiting[2].ticket_id, waiting[2].user_id)]


def test_a_release_with_nobody_waiting_returns_the_unit_to_stock():
    line = Line(stock=1, waitlist=2)
    alice = uuid4()
    line.run(line.buy(alice))
    release = line.release(alice)
    assert line.run(release) == [Released(release.command_id, None)]
    assert (line.sale.remaining, line.sale.held, line.sale.released) == (1, 0, 1)
    # The unit is for sale again, and Alice may buy it back.
    back = line.buy(alice)
    assert line.run(back) == [Accepted(back.ticket_id)]


def test_a_release_after_the_sale_ended_returns_the_unit_to_stock_even_with_buyers_waiting():
    line = Line(stock=1, waitlist=2)
    alice = uuid4()
    bobs = line.buy()
    line.run(line.buy(alice), bobs)
    release = line.release(alice, at=END)
    assert line.run(release) == [Released(release.command_id, None)]
    assert line.sale.waitlist == [(bobs.ticket_id, bobs.user_id)]
    assert (line.sale.remaining, line.sale.waitlist_served) == (1, 0)


def test_a_redelivered_release_is_applied_once():
    line = Line(stock=1, waitlist=3)
    alice = uuid4()
    first, second = line.buy(), line.buy()
    line.run(line.buy(alice), first, second)
    release = line.release(alice)
    once = line.run(release)
    assert line.run(release, release) == once * 2
    assert once == [Released(release.command_id, (first.ticket_id, first.user_id))]
    assert line.sale.waitlist == [(second.ticket_id, second.user_id)]
    assert (line.sale.released, line.sale.waitlist_served) == (1, 1)
    assert line.sale.buyers[alice] == 0


def test_a_redelivered_release_to_stock_adds_one_unit():
    line = Line(stock=1, waitlist=0)
    alice = uuid4()
    line.run(line.buy(alice))
    release = line.release(alice)
    line.run(release, release, release)
    assert (line.sale.remaining, line.sale.released) == (1, 1)


def test_closing_refuses_everyone_still_waiting_once():
    line = Line(stock=1, waitlist=3)
    waiting = [line.buy() for _ in range(3)]
    line.run(line.buy(), *waiting)
    close = line.close()
    expected = WaitlistClosed(close.command_id, tuple((w.ticket_id, w.user_id) for w in waiting))
    assert line.run(close) == [expected]
    assert line.sale.waitlist == []
    assert (line.sale.waitlist_dropped, line.sale.rejected) == (3, 3)
    # Redelivered: the same answer, nobody refused twice.
    assert line.run(close) == [expected]
    assert (line.sale.waitlist_dropped, line.sale.rejected) == (3, 3)
    # Another close finds nobody.
    other = line.close()
    assert line.run(other) == [WaitlistClosed(other.command_id, ())]


def test_a_release_after_the_close_returns_the_unit_to_stock():
    line = Line(stock=1, waitlist=1)
    alice = uuid4()
    line.run(line.buy(alice), line.buy(), line.close())
    release = line.release(alice, at=LATE)
    assert line.run(release) == [Released(release.command_id, None)]
    assert (line.sale.remaining, line.sale.held) == (1, 0)


def test_held_plus_remaining_is_the_stock_through_a_long_mixed_line():
    line = Line(stock=3, waitlist=4, limit=2)
    users = [uuid4() for _ in range(4)]
    holders: list[UUID] = []
    for step in range(60):
        user = users[step % len(users)]
        if step % 5 == 4 and holders:
            decision = line.run(line.release(holders.pop(0)))[0]
            assert isinstance(decision, Released)
            if decision.promoted is not None:
                holders.append(decision.promoted[1])
        else:
            decision = line.run(line.buy(user))[0]
            if isinstance(decision, Accepted):
                holders.append(user)
    assert line.sale.released > 0 and line.sale.waitlist_served > 0
    assert line.sale.held == len(holders)
