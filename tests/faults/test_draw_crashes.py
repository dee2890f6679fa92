"""The waiting room's draw under a crash: the inventory service is SIGKILLed while it draws.

A fair start's room of ~1,200 tickets is drawn in one atomic script call; then the service
records the draw in Postgres, hands the decisions to the order service and acks. The kill
lands at one of those steps (or the active of two replicas dies there and the standby takes
over). Afterwards there was exactly one draw (one seed, everywhere, and the order it gives),
every room ticket holds exactly one place of 1..N and the outcome of that place, and the
usual promises hold (no oversell, each buyer at most one order, Postgres agrees with Redis).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from inventory_service.handlers import draw_command
from shared.contracts.fair_start import draw_order
from shared.contracts.redis_layout import SaleField, TicketField
from tests.faults.checks import Settled, _drained, check_http, summarise, user_id_of
from tests.faults.crowd import Attempt
from tests.faults.link import StallableLink
from tests.faults.rig import ADMIN, Rig, log_lines, rig_on_shared_servers
from tests.support.api import Api
from tests.support.invariants import assert_invariants, outcome, wait_until_final
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

STOCK, WAITLIST = 200, 300
ROOM, LATE = 1_200, 100  # buyers in the room; buyers right after the fair window
WINDOW = 2  # fair_window_seconds
ROOM_SECONDS = 3.0  # the room's buyers arrive over this long...
LEAD = 8.0  # ...from the sale's creation, this long before its start
AFTER_DRAW = 14  # the sale ends this long after the draw; its waitlist is closed then
DRAWN = "waiting room drawn"


async def purchases(rig: Rig, users: range, *, duration: float, index: int = 0) -> list[Attempt]:
    """One purchase by each of ``users`` (indexes into rig.tokens), spread over ``duration``."""
    crowd = rig.crowd(attempts=len(users), duration=duration)
    crowd.plan = list(users)  # one attempt each, in order (no retries: one ticket a buyer)
    attempts = await crowd.run()
    for a in attempts:
        a.index += index
    return attempts


async def poll(condition: Any, *, timeout: float, what: str, every: float = 0.002) -> float:
    """Poll ``condition`` (async) tightly: the kill must land within a few ms of the step."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def kill_at(rig: Rig, victim: ServiceProcess, point: str, pg: asyncpg.Connection) -> None:
    """SIGKILL ``victim`` as soon as the draw reached ``point``:

    lua       the script has drawn the room (the sale hash shows it): nothing recorded,
              published or acked yet, unless the service was faster than a 2 ms poll;
    recorded  Postgres holds the draw: its decisions are being handed on, not acked;
    published the order service has persisted a first decision of the sale.
    """
    sale_key = rig.keys.sale(rig.sale_id)

    async def reached() -> bool:
        if point == "lua":
            return bool(await rig.redis.hexists(sale_key, SaleField.DRAWN_AT_MS))
        if point == "recorded":
            return await pg.fetchval(
                "SELECT draw_seed IS NOT NULL FROM sales WHERE sale_id = $1", UUID(rig.sale_id)
            )
        return await pg.fetchval(
            "SELECT EXISTS (SELECT 1 FROM tickets WHERE sale_id = $1)", UUID(rig.sale_id)
        )

    await poll(reached, timeout=WINDOW + 10, what=f"the draw reaching {point}")
    victim.kill()


async def state_at_kill(rig: Rig, victim: ServiceProcess, pg: asyncpg.Connection) -> dict[str, Any]:
    """Where the draw stood when the victim died (read right after: it writes nothing more)."""
    sale_id = UUID(rig.sale_id)
    return {
        "drawn_in_redis": bool(await rig.redis.hexists(rig.keys.sale(sale_id), "drawn_at_ms")),
        "recorded_in_postgres": await pg.fetchval(
            "SELECT draw_seed IS NOT NULL FROM sales WHERE sale_id = $1", sale_id
        ),
        "ticket_rows_in_postgres": await pg.fetchval(
            "SELECT count(*) FROM tickets WHERE sale_id = $1", sale_id
        ),
        "victim_logged_draw": len(log_lines(victim, DRAWN)),
    }


async def tickets_in_redis(rig: Rig, ids: Sequence[str]) -> list[dict[str, str]]:
    async with rig.redis.pipeline(transaction=False) as pipe:
        for t in ids:
            pipe.hgetall(rig.keys.ticket(t))
        return list(await pipe.execute())


def drawn_done(ticket: dict[str, str]) -> bool:
    """A room ticket the draw has placed and whose place's outcome is shown."""
    return TicketField.DRAWN_POSITION in ticket and ticket.get(TicketField.STATUS) in (
        "confirmed",
        "waitlisted",
        "rejected",
    )


async def check_draw(rig: Rig, api: Api, room: list[Attempt], ends_at: datetime) -> dict[str, Any]:
    """Exactly one draw, in the seed's order, each ticket at one place with its outcome."""
    sale_id = UUID(rig.sale_id)
    sale = (await api.call("GET", f"/api/v1/sales/{sale_id}")).body
    seed = sale["draw_seed"]
    assert seed and sale["drawn_at"] and sale["in_waiting_room"] == 0, sale
    pg = await asyncpg.connect(rig.database_url)
    try:
        row = await pg.fetchrow(
            "SELECT draw_seed, drawn_at, drawn_tickets FROM sales WHERE sale_id = $1", sale_id
        )
    finally:
        await pg.close()
    assert row is not None
    assert row["draw_seed"] == seed, (row, sale)
    assert row["drawn_tickets"] == ROOM, row
    assert row["drawn_at"] == datetime.fromisoformat(sale["drawn_at"]), (row, sale)
    fields = await rig.redis.hgetall(rig.keys.sale(sale_id))
    assert fields[SaleField.DRAW_SEED] == seed

    # The stored answer of the draw command (what any repeat answers) is that draw.
    stored = await rig.redis.get(rig.keys.command(sale_id, draw_command(sale_id).command_id))
    assert isinstance(stored, str) and stored.startswith(f"d:{seed}:"), stored
    stored_order = [entry.split(",")[0] for entry in stored.partition(";")[2].split(";")]

    ids = [a.ticket_id for a in room if a.ticket_id]
    tickets = await tickets_in_redis(rig, ids)
    positions = [int(t[TicketField.DRAWN_POSITION]) for t in tickets]
    assert sorted(positions) == list(range(1, ROOM + 1)), "drawn places are not 1..N once each"
    by_place = [t for _, t in sorted(zip(positions, ids, strict=True))]
    assert by_place == [t for t, _ in draw_order(seed, [(t, None) for t in ids])]
    assert by_place == stored_order

    ended = datetime.now(UTC) >= ends_at
    wrong: list[tuple[int, dict[str, str]]] = []
    for p, t in zip(positions, tickets, strict=True):
        status = t[TicketField.STATUS]
        if p <= STOCK:
            ok = status == "confirmed"
        elif p <= STOCK + WAITLIST:
            ok = t.get(TicketField.WAITLIST_SEQ) == str(p - STOCK) and (
                status == "waitlisted" or (ended and status == "rejected")
            )
        else:
            ok = status == "rejected" and t.get(TicketField.DECISION) == "r:sold_out"
        if not ok:
            wrong.append((p, t))
    assert not wrong, f"{len(wrong)} tickets with the wrong outcome for their place: {wrong[:3]}"

    # What a buyer sees over HTTP agrees (a sample).
    for a in random.Random(2).sample(room, 20):
        reply = await api.ticket(rig.tokens[a.user], str(a.ticket_id))
        t = tickets[ids.index(str(a.ticket_id))]
        assert reply.body["drawn_position"] == int(t[TicketField.DRAWN_POSITION]), reply
    seeds = {e["seed"] for s in rig.inventories for e in log_lines(s, DRAWN)}
    assert seeds == {seed}, f"draws logged with seeds {seeds}, the sale shows {seed}"
    return {"seed": seed, "waitlisted_at_check": Counter(t["status"] for t in tickets)}


async def settle_all(rig: Rig, attempts: Sequence[Attempt], *, timeout: float = 40) -> Settled:
    """checks.settle for a sale whose waitlist was closed at its end: a buyer whose place was
    dropped keeps it in the per-buyer counters (the sale is over), so those count accepted +
    dropped; everything else is checked as there."""
    started = time.monotonic()
    issued = [str(a.ticket_id) for a in attempts if a.ticket_id is not None]
    assert len(set(issued)) == len(issued), "a ticket id was handed out twice"
    pending = await wait_until_final(
        rig.redis, rig.keys, [UUID(t) for t in issued], timeout=timeout
    )
    states = await tickets_in_redis(rig, pending[:5])
    assert not pending, f"{len(pending)} tickets answered 202 never became final: {states}"
    seconds_to_final = time.monotonic() - started
    sale_id = UUID(rig.sale_id)
    conn = await asyncpg.connect(rig.database_url)
    try:
        await _drained(rig, conn, timeout=30)
        rows = await conn.fetch(
            "SELECT ticket_id, user_id, status FROM tickets WHERE sale_id = $1", sale_id
        )
        doubled = await conn.fetchval(
            "SELECT count(*) FROM (SELECT ticket_id FROM orders WHERE sale_id = $1"
            " GROUP BY ticket_id HAVING count(*) > 1) d",
            sale_id,
        )
        orphan_orders = await conn.fetchval(
            "SELECT count(*) FROM orders o JOIN tickets t USING (ticket_id)"
            " WHERE o.sale_id = $1 AND t.status <> 'confirmed'",
            sale_id,
        )
    finally:
        await conn.close()
    assert doubled == 0, "a ticket has two orders"
    assert orphan_orders == 0, "an order whose ticket is not confirmed"
    persisted = {str(r["ticket_id"]): r for r in rows}
    assert len(persisted) == len(rows)
    per_buyer = Counter(str(r["user_id"]) for r in rows)
    assert max(per_buyer.values()) == 1, "a buyer with two tickets"
    unanswered = sorted(set(persisted) - set(issued))
    assert not unanswered, f"tickets nobody was answered 202 for: {unanswered[:5]}"
    lost = [t for t in issued if t not in persisted]
    assert not lost, f"{len(lost)} tickets answered 202 have no row in Postgres: {lost[:5]}"
    result = await outcome(
        rig.redis, rig.keys, rig.database_url, sale_id, [UUID(t) for t in issued], timeout=10
    )
    assert_invariants(result, tickets=len(issued), per_user_limit=rig.per_user_limit)
    assert result.orders == result.confirmed == STOCK, result

    shown = [t.get(TicketField.STATUS) for t in await tickets_in_redis(rig, issued)]
    differ = [t for t, s in zip(issued, shown, strict=True) if persisted[t]["status"] != s]
    assert not differ, f"Redis and Postgres disagree on {len(differ)} tickets: {differ[:5]}"
    owners = {str(a.ticket_id): user_id_of(rig.tokens[a.user]) for a in attempts if a.ticket_id}
    assert all(str(persisted[t]["user_id"]) == owners[t] for t in issued)

    buyers = await rig.redis.hgetall(rig.keys.buyers(sale_id))
    dropped = int(await rig.redis.hget(rig.keys.sale(sale_id), SaleField.WAITLIST_DROPPED) or 0)
    assert all(int(n) <= rig.per_user_limit for n in buyers.values())
    assert sum(int(n) for n in buyers.values()) == result.accepted + dropped
    assert dropped == WAITLIST, dropped
    return Settled(result, issued, unanswered, len(rows), seconds_to_final)


def draw_timings(rig: Rig, drawn_at_ms: int) -> list[dict[str, Any]]:
    """Each logged draw (a first one, or a repeat answering it): by whom, and how long after
    the draw command was made (its drawn_at) the service had recorded it."""
    out = []
    for service in rig.inventories:
        for entry in log_lines(service, DRAWN):
            logged = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))
            out.append(
                {
                    "by": service.name,
                    "tickets": entry["tickets"],
                    "command_to_recorded_ms": round(logged.timestamp() * 1000 - drawn_at_ms),
                }
            )
    return out


@dataclasses.dataclass
class FairSale:
    rig: Rig  # the rig with this sale as its sale
    room: list[Attempt]
    draw_at: datetime
    ends_at: datetime


async def fair_sale(rig: Rig) -> FairSale:
    """A fair start whose room fills (every buyer 202 waiting_room) well before its draw."""
    api = rig.api
    admin = await api.login(*ADMIN)
    opens = datetime.now(UTC) - timedelta(seconds=1)
    sale = await api.create_sale(
        admin,
        stock=STOCK,
        starts_in=timedelta(seconds=LEAD),
        lasts=timedelta(seconds=WINDOW + AFTER_DRAW),
        waiting_room_opens_at=opens.isoformat(),
        fair_window_seconds=WINDOW,
        waitlist_size=WAITLIST,
    )
    rig = dataclasses.replace(rig, sale_id=sale["sale_id"], stock=STOCK)
    draw_at = datetime.fromisoformat(sale["starts_at"]) + timedelta(seconds=WINDOW)
    room = await purchases(rig, range(ROOM), duration=ROOM_SECONDS)
    check_http(room, [])
    assert all(a.status == 202 for a in room), Counter(a.status for a in room)
    entered = await rig.redis.lrange(rig.keys.room(rig.sale_id), 0, -1)
    assert sorted(str(e).split(":")[0] for e in entered) == sorted(str(a.ticket_id) for a in room)
    statuses = Counter(
        t.get(TicketField.STATUS)
        for t in await tickets_in_redis(rig, [str(a.ticket_id) for a in room])
    )
    assert statuses == {"waiting_room": ROOM}, statuses
    shown = (await api.call("GET", f"/api/v1/sales/{rig.sale_id}")).body
    assert (shown["state"], shown["in_waiting_room"]) == ("waiting_room", ROOM), shown
    margin = (draw_at - datetime.now(UTC)).total_seconds()
    assert margin > 1, f"the room filled {margin:.1f}s before the draw: make LEAD longer"
    return FairSale(rig, room, draw_at, datetime.fromisoformat(sale["ends_at"]))


def late_buyers(fair: FairSale) -> asyncio.Task[list[Attempt]]:
    """Buyers right after the fair window: the draw is put in front of their purchases."""

    async def run() -> list[Attempt]:
        await asyncio.sleep((fair.draw_at - datetime.now(UTC)).total_seconds() + 0.05)
        return await purchases(fair.rig, range(ROOM, ROOM + LATE), duration=1.5, index=ROOM)

    return asyncio.create_task(run())


@dataclasses.dataclass
class AfterTheDraw:
    attempts: list[Attempt]
    settled: Settled
    to_all_placed_s: float
    seed: str
    draws_logged: list[dict[str, Any]]


async def after_the_draw(
    fair: FairSale, late_task: asyncio.Task[list[Attempt]], *, since: float
) -> AfterTheDraw:
    """Every room ticket placed and shown (seconds after ``since``), the draw checked; then
    the sale ends, its waitlist is closed, and every ticket is final and persisted."""
    rig, room = fair.rig, fair.room
    ids = [str(a.ticket_id) for a in room]

    async def all_placed() -> bool:
        return all(drawn_done(t) for t in await tickets_in_redis(rig, ids))

    try:
        await poll(all_placed, timeout=30, what="every room ticket placed", every=0.1)
    except AssertionError:
        left = Counter(t.get(TicketField.STATUS) for t in await tickets_in_redis(rig, ids))
        raise AssertionError(f"room tickets not placed 30 s on, by status: {dict(left)}") from None
    placed = time.monotonic()
    late = await late_task
    check_http(late, [])
    draw = await check_draw(rig, rig.api, room, fair.ends_at)

    await asyncio.sleep(max(0.0, (fair.ends_at - datetime.now(UTC)).total_seconds()))
    settled = await settle_all(rig, [*room, *late])
    late_tickets = await tickets_in_redis(rig, [str(a.ticket_id) for a in late if a.ticket_id])
    assert all(TicketField.DRAWN_POSITION not in t for t in late_tickets)
    assert {t[TicketField.STATUS] for t in late_tickets} <= {"rejected"}
    fields = await rig.redis.hgetall(rig.keys.sale(rig.sale_id))
    drawn_at_ms = int(fields[SaleField.DRAWN_AT_MS])
    return AfterTheDraw(
        [*room, *late],
        settled,
        round(placed - since, 2),
        draw["seed"],
        draw_timings(rig, drawn_at_ms),
    )


async def run_draw_crash(
    request, servers, database_url, namespace, tmp_path, figures, *, point: str, standby: bool
) -> None:
    async with rig_on_shared_servers(
        request,
        servers,
        database_url,
        namespace,
        tmp_path,
        users=ROOM + LATE,
        inventories=2 if standby else 1,
    ) as rig:
        fair = await fair_sale(rig)
        rig = fair.rig
        late_task = late_buyers(fair)  # while the victim dies during the draw
        victim = rig.inventories[0]
        pg = await asyncpg.connect(rig.database_url)
        try:
            await kill_at(rig, victim, point, pg)
            killed = time.monotonic()
            at_kill = await state_at_kill(rig, victim, pg)
        finally:
            await pg.close()
        if not standby:
            await victim.restart()
        back = time.monotonic()
        outcome = await after_the_draw(fair, late_task, since=killed)
        figures.update(
            summarise(
                scenario=f"inventory_service SIGKILL during the draw ({point})",
                fault=(
                    f"SIGKILL {'the active of two' if standby else 'the only'} inventory"
                    f" service when the draw of {ROOM} tickets reached '{point}';"
                    + (" standby takes over" if standby else f" restarted in {back - killed:.1f}s")
                ),
                attempts=outcome.attempts,
                settled=outcome.settled,
                rig=rig,
                recovery={"kill_to_all_placed_s": outcome.to_all_placed_s},
                at_kill=at_kill,
                draws_logged=outcome.draws_logged,
                seed=outcome.seed,
                room=ROOM,
                late=LATE,
            )
        )


# The three points are covered with the fewest runs (each ~45 s): restarted at two, and the
# standby taking over at the third.
@pytest.mark.parametrize("point", ["lua", "published"])
async def test_inventory_killed_during_the_draw_and_restarted(
    request, servers, database_url, namespace, tmp_path, figures, point
):
    await run_draw_crash(
        request, servers, database_url, namespace, tmp_path, figures, point=point, standby=False
    )


async def test_active_inventory_killed_during_the_draw_standby_takes_over(
    request, servers, database_url, namespace, tmp_path, figures
):
    await run_draw_crash(
        request, servers, database_url, namespace, tmp_path, figures, point="recorded", standby=True
    )


async def test_draw_in_front_of_a_purchase_survives_a_postgres_blip(
    request, servers, database_url, namespace, tmp_path, figures
):
    # The service's own draw command is not sent in this test (the loop's first round is a
    # minute away): the draw is the one put in front of the first late purchase, and the
    # batch is retried in the same process after its Postgres connection broke between the
    # script's draw and recording it.
    link = StallableLink(database_url)
    await link.start()
    try:
        async with rig_on_shared_servers(
            request,
            servers,
            database_url,
            namespace,
            tmp_path,
            users=ROOM + LATE,
            overrides={
                "inventory_service": {"DATABASE_URL": link.url, "WAITLIST_CLOSE_INTERVAL": "60"}
            },
        ) as rig:
            fair = await fair_sale(rig)
            rig = fair.rig
            link.stall()
            late_task = late_buyers(fair)
            sale_key = rig.keys.sale(rig.sale_id)

            async def held_after_the_draw() -> bool:
                drawn = await rig.redis.hexists(sale_key, SaleField.DRAWN_AT_MS)
                return bool(drawn) and link.is_holding()

            await poll(held_after_the_draw, timeout=WINDOW + 10, what="the draw's record held")
            link.cut()
            link.resume()
            cut = time.monotonic()
            outcome = await after_the_draw(fair, late_task, since=cut)
            figures.update(
                summarise(
                    scenario="Postgres link of the inventory service cut during the draw",
                    fault="draw put in front of a purchase; its record held, the link cut",
                    attempts=outcome.attempts,
                    settled=outcome.settled,
                    rig=rig,
                    recovery={"cut_to_all_placed_s": outcome.to_all_placed_s},
                    draws_logged=outcome.draws_logged,
                    seed=outcome.seed,
                )
            )
    finally:
        await link.close()
