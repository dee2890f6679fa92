"""An admin on the page: a sale created through the form, stock added, the operator panel."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PASSWORD, screenshot_path
from tests.browser.pages import go_to, log_in, sale_card
from tests.conftest import TEST_PARTITIONS
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e

# Half-hour offset and no daylight saving time: the page must send the browser's offset.
TIME_ZONE = "Asia/Kolkata"
IST = timedelta(hours=5, minutes=30)
BUYERS = 30


async def test_an_admin_creates_a_sale_adds_stock_and_watches_the_operator_panel(
    open_page, api, admin_token
):
    opened = await open_page(timezone_id=TIME_ZONE)
    page = opened.page
    await log_in(page, *ADMIN)
    await go_to(page, "Admin")

    form = page.locator("#create-sale-form")
    await expect(form.get_by_text("Times are in your time zone (UTC+05:30).")).to_be_visible()
    ends_local = (datetime.now(UTC) + IST + timedelta(days=1)).replace(
        hour=10, minute=30, second=0, microsecond=0, tzinfo=None
    )
    await form.get_by_label("Name").fill("Operator demo")
    await form.get_by_label("Stock").fill("50")
    await form.get_by_label("Per-buyer limit").fill("2")
    # "Starts" keeps its default: now, to the minute, so the sale opens at once.
    await form.get_by_label("Ends").fill(ends_local.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name="Create sale").click()
    await expect(form.locator(".form-success")).to_contain_text("Sale “Operator demo” created")

    sales = (await api.call("GET", "/api/v1/sales")).body
    (created,) = [sale for sale in sales if sale["name"] == "Operator demo"]
    assert created["stock"] == 50 and created["per_user_limit"] == 2
    ends_at = datetime.fromisoformat(created["ends_at"])
    assert ends_at == (ends_local - IST).replace(tzinfo=UTC)
    assert created["state"] == "active"

    panel = page.locator("#operator")
    row = panel.locator("#operator-sales-body tr").filter(has_text="Operator demo")
    await expect(row).to_contain_text("On sale")
    await expect(row.locator('[data-label="Remaining"]')).to_have_text("50 / 50")
    partitions = panel.locator("#operator-partitions-body tr")
    await expect(partitions).to_have_count(TEST_PARTITIONS)
    for partition in range(TEST_PARTITIONS):
        line = partitions.nth(partition)
        await expect(line.locator('[data-label="Partition"]')).to_have_text(str(partition))
        await expect(line.locator('[data-label="Consumers"]')).to_contain_text("1 active")
    await expect(panel.locator("#tile-dead")).to_have_text("0")
    await expect(panel.locator("#operator-status")).to_contain_text("Live")

    stock = page.locator("#stock-form")
    await stock.get_by_label("Sale").select_option(label="Operator demo (on sale)")
    await stock.get_by_label("Units to add").fill("25")
    await stock.get_by_role("button", name="Add stock").click()
    await expect(stock.locator(".form-success")).to_have_text(
        "Added 25 units to “Operator demo”: 75 in stock, 75 left."
    )
    await expect(row.locator('[data-label="Remaining"]')).to_have_text("75 / 75")

    # Buyers arrive, a few a second: the counters and the decision rate move, live.
    buyers = [await api.user(f"buyer{i}", PASSWORD) for i in range(BUYERS)]

    async def trickle() -> None:
        for token in buyers:
            assert (await api.purchase(token, created["sale_id"])).status == 202
            await asyncio.sleep(0.1)

    arriving = asyncio.create_task(trickle())
    rate = row.locator('[data-label="Decisions/s"]')
    await expect(rate).to_have_text(re.compile(r"^[1-9]\d*\.\d$"), timeout=15_000)
    await expect(panel.locator("#tile-rate")).not_to_have_text("0.0")
    await page.mouse.move(0, 0)
    await page.screenshot(
        path=screenshot_path("operator-panel.png"), full_page=True, animations="disabled"
    )
    await arriving
    await expect(row.locator('[data-label="Accepted"]')).to_have_text(str(BUYERS))
    await expect(row.locator('[data-label="Remaining"]')).to_have_text(f"{75 - BUYERS} / 75")
    await expect(row.locator('[data-label="Waiting"]')).to_have_text("0")

    await go_to(page, "Sales")
    await expect(sale_card(page, "Operator demo").locator(".stock__text")).to_have_text(
        f"{75 - BUYERS} of 75 left"
    )
