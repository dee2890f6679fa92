import json
import time
from uuid import uuid4

import pytest

from gateway.adapters.memory_tickets import TicketBoard
from gateway.domain import Ticket, TicketView


def ids():
    return str(uuid4()), str(uuid4()), str(uuid4())


@pytest.mark.parametrize(
    "ticket",
    [
        Ticket("u", str(uuid4()), "queued"),
        Ticket("u", str(uuid4()), "accepted"),
        Ticket("u", str(uuid4()), "confirmed", order_id=str(uuid4())),
        Ticket("u", str(uuid4()), "rejected", reason="sold_out"),
    ],
)
def test_fast_rendering_is_the_api_ticket_object(ticket):
    ticket_id = str(uuid4())
    rendered = TicketView.model_validate_json(ticket.to_json(ticket_id))
    assert rendered == TicketView(
        ticket_id=ticket_id,
        sale_id=ticket.sale_id,
        status=ticket.status,
        reason=ticket.reason,
        order_id=ticket.order_id,
    )
    assert set(json.loads(ticket.to_json(ticket_id))) == set(TicketView.model_fields)


def test_updates_move_tickets_forward_only():
    board = TicketBoard()
    ticket_id, user, sale = ids()
    board.issued(ticket_id, user, sale)
    order = str(uuid4())
    changed = board.apply_updates(json.dumps([[ticket_id, "confirmed", "", order]]))
    assert [t for t, _ in changed] == [ticket_id]
    # A late "accepted" (published before the final state, delivered after) changes nothing.
    assert board.apply_updates(json.dumps([[ticket_id, "accepted", "", ""]])) == []
    ticket = board.fresh(ticket_id)
    assert ticket is not None
    assert (ticket.status, ticket.order_id, ticket.reason) == ("confirmed", order, None)


def test_updates_for_unknown_tickets_are_ignored():
    board = TicketBoard()
    assert board.apply_updates(json.dumps([[str(uuid4()), "rejected", "sold_out", ""]])) == []
    assert len(board) == 0


def test_a_ticket_still_in_line_goes_stale_but_a_final_one_does_not(monkeypatch):
    board = TicketBoard(stale_after=2.0)
    queued, final = str(uuid4()), str(uuid4())
    board.issued(queued, "u", "s")
    board.issued(final, "u", "s")
    board.apply_updates(json.dumps([[final, "rejected", "sold_out", ""]]))
    later = time.monotonic() + 5
    monkeypatch.setattr("gateway.adapters.memory_tickets.time.monotonic", lambda: later)
    assert board.fresh(queued) is None  # re-read from Redis
    assert board.fresh(final) is not None


def test_the_board_is_bounded_least_recently_used_first():
    board = TicketBoard(max_entries=3)
    tickets = [str(uuid4()) for _ in range(4)]
    for t in tickets[:3]:
        board.issued(t, "u", "s")
    board.fresh(tickets[0])  # used: kept
    board.issued(tickets[3], "u", "s")
    assert len(board) == 3
    assert board.fresh(tickets[1]) is None
    assert board.fresh(tickets[0]) is not None


def test_order_status_changes_move_a_confirmed_ticket_forward_only():
    board = TicketBoard()
    ticket_id, user, sale = ids()
    board.issued(ticket_id, user, sale)
    order = str(uuid4())
    board.apply_updates(json.dumps([[ticket_id, "confirmed", "", order, "awaiting_payment", ""]]))
    changed = board.apply_updates(json.dumps([[ticket_id, "confirmed", "", order, "expired", ""]]))
    assert [t for t, _ in changed] == [ticket_id]
    # A late "awaiting_payment" (a redelivered decision) does not bring an expired order back.
    late = [[ticket_id, "confirmed", "", order, "awaiting_payment", ""]]
    assert board.apply_updates(json.dumps(late)) == []
    board.apply_updates(json.dumps([[ticket_id, "confirmed", "", order, "refunded", ""]]))
    ticket = board.fresh(ticket_id)
    assert ticket is not None
    assert (ticket.status, ticket.order_status, ticket.final) == ("confirmed", "refunded", True)


def test_a_waitlisted_ticket_knows_its_place_and_is_served_later():
    board = TicketBoard()
    ticket_id, user, sale = ids()
    ticket = board.issued(ticket_id, user, sale)
    board.apply_updates(json.dumps([[ticket_id, "waitlisted", "", "", "", "7"]]))
    assert (ticket.status, ticket.position(decided=0, served=4)) == ("waitlisted", 3)
    board.apply_updates(json.dumps([[ticket_id, "accepted", "", "", "", ""]]))
    assert (ticket.status, ticket.position(decided=0, served=4)) == ("accepted", None)


def test_a_decided_ticket_is_served_from_memory_until_a_gap_in_the_updates(monkeypatch):
    board = TicketBoard(stale_after=2.0)
    ticket_id, user, sale = ids()
    board.issued(ticket_id, user, sale)
    board.apply_updates(
        json.dumps([[ticket_id, "confirmed", "", str(uuid4()), "awaiting_payment", ""]])
    )
    later = time.monotonic() + 5
    monkeypatch.setattr("gateway.adapters.memory_tickets.time.monotonic", lambda: later)
    # Its order may still change, but that arrives as an update: no re-read.
    assert board.fresh(ticket_id) is not None
    board.resubscribed()  # an update may have been missed while not subscribed
    assert board.fresh(ticket_id) is None
