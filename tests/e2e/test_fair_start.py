"""A fair start: buyers who arrive in the waiting room or the fair window are served in a
drawn order, unrelated to when they came; everyone after the window is served first come,
first served, after all of them."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.fair_start import draw_order
from tests.faults.rig import gather_limited

pytestmark = pytest.mark.e2e

STOCK, EARLY, LATE = 200, 2_000, 200


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation: Pearson's of the ranks, ties given their mean rank."""

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5


async def wait_for_sale(api: Any, sale_id: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        sale = (await api.call("GET", f"/api/v1/sales/{sale_id}")).body
        if done(sale):
            return dict(sale)
        assert time.monotonic() < deadline, f"sale still {sale} after {timeout} s"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(420)
async def test_the_waiting_room_is_drawn_at_random_and_later_buyers_queue_behind_it(
    api, admin_token
):
    tokens = await gather_limited((api.user(f"fair{i}") for i in range(EARLY + LATE)), limit=16)
    early, late = tokens[:EARLY], tokens[EARLY:]

    # Time each buyer's purchase takes here, so that all of them fit in the room and window.
    probe = await api.create_sale(admin_token, stock=100)
    began = time.monotonic()
    for token in early[:20]:
        assert (await api.purchase(token, probe["sale_id"])).status == 202
    per_purchase = (time.monotonic() - began) / 20
    window = min(300, int(EARLY * per_purchase * 1.5) + 10)

    opens = datetime.now(UTC) - timedelta(seconds=1)
    sale = await api.create_sale(
        admin_token,
        stock=STOCK,
        starts_in=timedelta(seconds=5),
        waiting_room_opens_at=opens.isoformat(),
        fair_window_seconds=window,
        waitlist_size=EARLY + LATE,  # the drawn order, and the late ones', shows as places
    )
    sale_id = sale["sale_id"]
    assert sale["state"] == "waiting_room"
    assert (sale["fair_window_seconds"], sale["in_waiting_room"], sale["draw_seed"]) == (
        window,
        0,
        None,
    )
    draw_at = datetime.fromisoformat(sale["starts_at"]) + timedelta(seconds=window)

    # Arrivals in a strict, known order: one after the other, some before the start.
    room: list[str] = []
    for token in early:
        reply = await api.purchase(token, sale_id)
        assert (reply.status, reply.body["status"]) == (202, "waiting_room"), reply
        room.append(reply.body["ticket_id"])
    assert datetime.now(UTC) < draw_at, "the room took longer than its window: make it longer"
    again = await api.purchase(early[0], sale_id)
    assert (again.status, again.body["error"]["code"]) == (409, "already_in_waiting_room")
    waiting = await api.ticket(early[-1], room[-1])
    assert (waiting.body["status"], waiting.body["position"]) == ("waiting_room", None)
    assert waiting.body["drawn_position"] is None
    await wait_for_sale(api, sale_id, lambda s: s["in_waiting_room"] == EARLY, timeout=30)

    # The draw, at the end of the window, with nobody buying after it.
    drawn_sale = await wait_for_sale(
        api, sale_id, lambda s: s["drawn_at"] is not None, timeout=window + 60
    )
    assert drawn_sale["in_waiting_room"] == 0
    seed = drawn_sale["draw_seed"]
    assert seed

    # After the window: first come, first served, behind everyone drawn.
    queued = []
    for token in late:
        reply = await api.purchase(token, sale_id)
        assert (reply.status, reply.body["status"]) == (202, "queued"), reply
        queued.append(reply.body["ticket_id"])

    async def settled(token: str, ticket_id: str) -> dict[str, Any]:
        return await api.wait_ticket(
            token,
            ticket_id,
            lambda t: t["status"] in ("confirmed", "waitlisted", "rejected"),
            timeout=90,
        )

    room_final = await gather_limited(
        (settled(t, i) for t, i in zip(early, room, strict=True)), limit=50
    )
    late_final = await gather_limited(
        (settled(t, i) for t, i in zip(late, queued, strict=True)), limit=50
    )

    # Everyone drawn once, in the order the published seed gives.
    positions = [t["drawn_position"] for t in room_final]
    assert sorted(positions) == list(range(1, EARLY + 1))
    by_seed = draw_order(seed, [(ticket_id, None) for ticket_id in room])
    assert [ticket_id for ticket_id, _ in by_seed] == [
        room[positions.index(p)] for p in range(1, EARLY + 1)
    ]
    # The first STOCK drawn win; the rest wait in drawn order; then the late ones in arrival
    # order, behind all of them.
    won = [t["status"] == "confirmed" for t in room_final]
    assert sum(won) == STOCK
    assert all(w == (p <= STOCK) for w, p in zip(won, positions, strict=True))
    for ticket, p in zip(room_final, positions, strict=True):
        if p > STOCK:
            assert (ticket["status"], ticket["position"]) == ("waitlisted", p - STOCK)
    assert [t["status"] for t in late_final] == ["waitlisted"] * LATE
    assert [t["position"] for t in late_final] == list(
        range(EARLY - STOCK + 1, EARLY - STOCK + LATE + 1)
    )
    assert all(t["drawn_position"] is None for t in late_final)

    # Arriving early does not help: no rank correlation between arrival and winning.
    rho = spearman([float(i) for i in range(EARLY)], [float(w) for w in won])
    rho_place = spearman([float(i) for i in range(EARLY)], [float(p) for p in positions])
    print(
        f"fair start: rho(arrival, won) = {rho:+.4f}, rho(arrival, drawn place) = {rho_place:+.4f}"
    )
    assert abs(rho) < 0.1, rho
    assert abs(rho_place) < 0.1, rho_place
