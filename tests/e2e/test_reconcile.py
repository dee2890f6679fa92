"""`python -m inventory_service reconcile`: a sale's Redis state checked against Postgres, and
rebuilt from it after Redis lost everything, following docs/RECONCILE.md."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from shared.contracts.redis_layout import Keys, TicketField
from tests.conftest import TEST_PARTITIONS
from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e

STOCK, BUYERS, PAYERS = 6, 9, 2


def reconcile(stack_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it, with the services' settings."""
    return subprocess.run(
        [sys.executable, "-m", "inventory_service", "reconcile", *args],
        env={**os.environ, **stack_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def stack_env(stack_env):
    return {**stack_env, "EXPIRY_INTERVAL": "0.1"}


@pytest.mark.timeout(120)
async def test_total_redis_loss_is_repaired_from_postgres(
    stack, stack_env, api, admin_token, redis_client, namespace
):
    sale = await api.create_sale(admin_token, stock=STOCK, payment_window_seconds=5)
    sale_id = sale["sale_id"]
    tokens = [await api.user(f"buyer{i}") for i in range(BUYERS)]
    replies = await asyncio.gather(*(api.purchase(t, sale_id) for t in tokens))
    finals = [
        await api.wait_final(t, r.body["ticket_id"])
        for t, r in zip(tokens, replies, strict=True)
        if r.status == 202
    ]
    won = [(t, f) for t, f in zip(tokens, finals, strict=False) if f["status"] == "confirmed"]
    assert len(won) == STOCK
    for token, ticket in won[:PAYERS]:
        assert (await api.pay(token, ticket["order_id"])).status == 202
        await api.wait_order(token, ticket["order_id"], ("paid",))
    # The others let their reservations expire: their units go back to the stock.
    for token, ticket in won[PAYERS:]:
        await api.wait_order(token, ticket["order_id"], ("expired",), timeout=20)
    for _ in range(100):
        if (await api.stats(admin_token, sale_id))["released"] == STOCK - PAYERS:
            break
        await asyncio.sleep(0.1)

    agrees = reconcile(stack_env, sale_id)
    assert agrees.returncode == 0, agrees.stdout + agrees.stderr
    assert "0 drifting" in agrees.stdout and "DRIFT" not in agrees.stdout

    # Redis loses everything of this deployment.
    stack.inventory.stop()
    lost = [k async for k in redis_client.scan_iter(match=f"{namespace}:*")]
    await redis_client.delete(*lost)
    drift = reconcile(stack_env, sale_id)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "DRIFT" in drift.stdout and "sale counters present" in drift.stdout

    # The runbook: deciders stopped (done above), lines drained, then repair.
    repaired = reconcile(stack_env, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "rebuilt from Postgres" in repaired.stdout and "0 drifting" in repaired.stdout
    ticket = await redis_client.hgetall(Keys(namespace).ticket(won[0][1]["ticket_id"]))
    assert ticket[TicketField.STATUS] == "confirmed"
    assert ticket[TicketField.ORDER_STATUS] == "paid"
    assert ticket[TicketField.DECISION] == "a"

    await stack.inventory.restart()
    stats = await api.stats(admin_token, sale_id)
    assert (stats["paid"], stats["awaiting_payment"], stats["remaining"]) == (
        PAYERS,
        0,
        STOCK - PAYERS,
    )
    # The rebuilt per-buyer counters still hold: a payer cannot buy again, an expired buyer
    # can, and the stock is sold exactly once more.
    payer, expired = won[0][0], won[-1][0]
    again = await api.purchase(payer, sale_id)
    assert (await api.wait_final(payer, again.body["ticket_id"]))["reason"] == "limit_reached"
    others = [expired, *[await api.user(f"late{i}") for i in range(STOCK)]]
    tries = await asyncio.gather(*(api.purchase(t, sale_id) for t in others))
    outcomes = [
        (await api.wait_final(t, r.body["ticket_id"]))["status"]
        for t, r in zip(others, tries, strict=True)
        if r.status == 202
    ]
    assert outcomes.count("confirmed") == STOCK - PAYERS
    final = await api.stats(admin_token, sale_id)
    assert final["remaining"] == 0
    assert final["paid"] + final["awaiting_payment"] + final["remaining"] == STOCK


async def test_repair_is_refused_while_a_decider_runs(stack, stack_env, api, admin_token):
    sale = await api.create_sale(admin_token, stock=2)
    refused = reconcile(stack_env, sale["sale_id"], "--repair")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    # One consumer per partition: the running inventory service decides every line.
    assert "repair refused" in refused.stdout
    assert f"deciders consuming: {TEST_PARTITIONS}" in refused.stdout
