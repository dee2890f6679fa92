"""A fair start on the page (issue 14): the proof of work solved in a worker, the waiting
room with its countdowns, and the drawn place followed to the ticket's decision.

The solver's hashing is checked against Python's hashlib and the gateway's own check
(gateway/pow.py) with the page's files alone; the buyer's way through a fair start runs
against the real stack.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Request, expect

from gateway.pow import solve, solves
from tests.browser import test_modules
from tests.browser.conftest import PASSWORD, screenshot_path
from tests.browser.pages import register, sale_card, tickets_of
from tests.browser.test_modules import run

# The page's files alone, served without the stack (the fixtures of test_modules).
page_server = test_modules.page_server
module_page = test_modules.module_page

SALE = "Fair drop"
DIFFICULTY = 12
DRAW_TIMEOUT_MS = 40_000


async def test_the_solver_hashes_as_sha256_and_finds_solutions_the_gateway_accepts(module_page):
    page = await module_page()
    # One and two blocks of padding, and each side of every block edge; non-ASCII text.
    texts = ["", "abc", "é✓:1", *("a" * n for n in (55, 56, 63, 64, 65, 119, 120, 200))]
    hashed = await run(page, "pow-solve.js", "return arg.map(m.sha256Hex);", texts)
    assert hashed == [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    # The gateway's challenges are 36 characters; longer ones take the prefix's midstate.
    for challenge in ["A" * 36, "b" * 54, "c" * 63, "d" * 100]:
        found = await run(page, "pow-solve.js", "return m.solve(arg, 14);", challenge)
        assert found["solution"].startswith(f"{challenge}:"), found
        assert solves(found["solution"], 14), found
        # Nonces are tried from 0 up: the first that solves it, the reference's too.
        assert found["solution"] == solve(challenge, 14)
        assert int(found["solution"].rpartition(":")[2]) + 1 == found["tried"]


async def test_the_worker_solves_with_progress_off_the_page_thread(module_page):
    page = await module_page()
    result = await run(
        page,
        "pow.js",
        """const progress = [];
        const solution = await m.solveInWorker(arg, 18, { onProgress: (p) => progress.push(p) });
        return { solution, progress };""",
        "x" * 36,
    )
    assert solves(result["solution"], 18) and result["solution"] == solve("x" * 36, 18)
    progress = result["progress"]
    assert progress[-1] == 100 and progress == sorted(progress), progress
    assert all(0 <= p <= 99 for p in progress[:-1]), progress


async def _proved_purchase(api, token: str, sale_id: str):
    """A purchase through the API with a solved challenge, as a second buyer's script would."""
    reply = await api.call("GET", f"/api/v1/sales/{sale_id}/challenge", token=token)
    assert reply.status == 200, reply
    assert reply.body["difficulty"] == DIFFICULTY
    solution = solve(reply.body["challenge"], DIFFICULTY)
    return await api.call(
        "POST",
        f"/api/v1/sales/{sale_id}/purchases",
        token=token,
        json={},
        headers={"X-PoW-Solution": solution},
    )


@pytest.mark.e2e
async def test_a_buyer_joins_the_waiting_room_with_a_proof_and_sees_the_drawn_place(
    open_page, api, admin_token
):
    # One unit for two buyers in the room: the draw decides who gets it.
    now = datetime.now(UTC)
    sale = await api.create_sale(
        admin_token,
        stock=1,
        name=SALE,
        starts_in=timedelta(seconds=12),
        waiting_room_opens_at=(now - timedelta(seconds=1)).isoformat(),
        fair_window_seconds=0,
        pow_difficulty=DIFFICULTY,
    )
    assert sale["state"] == "waiting_room", sale
    sale_id = sale["sale_id"]
    bob = await api.user("bob-fair", PASSWORD)
    bobs = await _proved_purchase(api, bob, sale_id)
    assert bobs.status == 202 and bobs.body["status"] == "waiting_room", bobs

    alice = await open_page()
    page = alice.page
    purchases: list[Request] = []
    page.on("request", lambda r: purchases.append(r) if r.url.endswith("/purchases") else None)
    await register(page, "alice-fair", PASSWORD)
    card = sale_card(page, SALE)
    await expect(card.locator(".badge").first).to_have_text("Waiting room")
    countdown = card.locator(".sale-card__when .countdown")
    await expect(countdown).to_have_text(re.compile(r"^Starts in \d+ s$"))
    await expect(card.locator(".sale-card__fair")).to_contain_text("1 buyer in the waiting room.")

    join = card.get_by_role("button", name=f"Join the waiting room {SALE}")
    await join.click()
    ticket = tickets_of(page, SALE).first
    await expect(ticket).to_have_attribute("data-status", "waiting_room")
    await expect(ticket.locator(".ticket__text")).to_have_text(
        "You are in the waiting room — your place is drawn at the start."
    )
    await expect(ticket.locator(".ticket__draw")).to_have_text(
        re.compile(r"^Places are drawn in \d+ s\.$")
    )
    await expect(card.locator(".sale-card__fair")).to_contain_text("2 buyers in the waiting room.")
    # The purchase carried a solution of a challenge fetched for it, solved in the worker.
    assert len(purchases) == 1
    solution = purchases[0].headers.get("x-pow-solution", "")
    assert solves(solution, DIFFICULTY), solution
    challenge = f"/sales/{sale_id}/challenge"
    assert len([url for url in alice.watch.requests if url.endswith(challenge)]) == 1
    assert any(url.endswith("/app/pow-worker.js") for url in alice.watch.requests)
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("waiting-room.png"), animations="disabled")

    # One ticket per buyer in the room: a second click is told so (after its own proof).
    await join.click()
    message = card.locator(".sale-card__message")
    await expect(message).to_have_text(
        "You are already in this sale's waiting room: one place per buyer. "
        "Your place is drawn at the start."
    )
    assert len(purchases) == 2 and solves(purchases[1].headers["x-pow-solution"], DIFFICULTY)
    assert purchases[1].headers["x-pow-solution"] != solution  # challenges are single-use

    # The draw: each ticket gets its place, then is decided as usual; first place wins.
    drawn = ticket.locator(".ticket__draw")
    placed = re.compile(r"^Your drawn place: [12]$")
    await expect(drawn).to_have_text(placed, timeout=DRAW_TIMEOUT_MS)
    place = int((await drawn.inner_text()).rpartition(" ")[2])
    decided = "confirmed" if place == 1 else "rejected"
    await expect(ticket).to_have_attribute("data-status", decided, timeout=DRAW_TIMEOUT_MS)
    await expect(drawn).to_have_text(f"Your drawn place: {place}")
    await expect(message).to_be_hidden()  # "already in the waiting room" no longer holds
    if place == 1:
        await expect(ticket.locator(".ticket__text")).to_contain_text("It's yours")
    else:
        await expect(ticket.locator(".ticket__text")).to_have_text(
            "Sold out: every unit was taken before your turn came."
        )
    bobs_ticket = await api.wait_final(bob, bobs.body["ticket_id"])
    assert bobs_ticket["drawn_position"] == 3 - place, bobs_ticket
    assert bobs_ticket["status"] == ("rejected" if place == 1 else "confirmed"), bobs_ticket

    # The sale says when it was drawn, and the seed anyone can check the order with.
    after = (await api.call("GET", f"/api/v1/sales/{sale_id}")).body
    assert after["drawn_at"] and after["draw_seed"], after
    await expect(card.locator(".sale-card__fair")).to_contain_text(f"(seed {after['draw_seed']})")
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("waiting-room-drawn.png"), animations="disabled")
