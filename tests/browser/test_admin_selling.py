"""An admin sells products on the page: a sale of a new product (price, picture, payment
window, waitlist) in one form, another sale of the same product chosen from the catalogue,
the product's errors on its own fields, and a sale's report with its chart and CSV file."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PASSWORD, screenshot_path
from tests.browser.pages import go_to, log_in
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e


async def test_an_admin_creates_sales_of_a_new_product_and_of_a_catalogued_one(
    open_page, api, stack
):
    page = (await open_page()).page
    await log_in(page, *ADMIN)
    await go_to(page, "Admin")
    form = page.locator("#create-sale-form")
    await expect(form.get_by_label("Product", exact=True)).to_have_value("")
    await expect(form.get_by_label("List price")).to_have_value("49.99")

    # A price that is no amount: the server's 422 is shown on the product's field.
    await form.get_by_label("Name").fill("Spring boots")
    await form.get_by_label("Stock").fill("5")
    await form.get_by_label("List price").fill("cheap")
    await form.get_by_role("button", name="Create sale").click()
    await expect(form.locator(".form-error")).to_contain_text("Please check: List price:")
    await expect(form.get_by_label("List price")).to_have_attribute("aria-invalid", "true")

    image = f"{stack.gateway.url}/app/icon.svg"
    await form.get_by_label("Product title").fill("Hiking boot")
    await form.get_by_label("List price").fill("89,90")
    await form.get_by_label("Currency").select_option("CHF")
    await form.get_by_label("Image URL (optional)").fill(image)
    await form.get_by_label("Description (optional)").fill("Waterproof leather.")
    await form.get_by_label("Sale price (optional)").fill("59.90")
    await form.get_by_label("Payment window (seconds)").fill("30")
    await form.get_by_label("Waitlist size").fill("4")
    await form.get_by_role("button", name="Create sale").click()
    await expect(form.locator(".form-success")).to_contain_text("Sale “Spring boots” created")
    # The form is ready for the next sale: a new product again, the defaults back.
    await expect(form.get_by_label("Product", exact=True)).to_have_value("")
    await expect(form.get_by_label("Payment window (seconds)")).to_have_value("600")

    sales = (await api.call("GET", "/api/v1/sales")).body
    (boots,) = [sale for sale in sales if sale["name"] == "Spring boots"]
    product = boots["product"]
    assert (product["name"], product["description"]) == ("Hiking boot", "Waterproof leather.")
    assert product["image_url"] == image
    assert product["price"] == {"amount": 8_990, "currency": "CHF"}
    assert boots["price"] == {"amount": 5_990, "currency": "CHF"}
    assert (boots["payment_window_seconds"], boots["waitlist_size"]) == (30, 4)

    # The same product again, chosen from the catalogue: its list price is the sale's.
    choice = form.get_by_label("Product", exact=True)
    option = choice.locator(f'option[value="{product["product_id"]}"]')
    await expect(option).to_have_text(re.compile(r"^Hiking boot · CHF\s89\.90$"))
    await choice.select_option(product["product_id"])
    await expect(form.get_by_label("Product title")).to_be_hidden()
    await form.get_by_label("Name").fill("Autumn boots")
    await form.get_by_label("Stock").fill("2")
    await form.get_by_role("button", name="Create sale").click()
    await expect(form.locator(".form-success")).to_contain_text("Sale “Autumn boots” created")
    sales = (await api.call("GET", "/api/v1/sales")).body
    (autumn,) = [sale for sale in sales if sale["name"] == "Autumn boots"]
    assert autumn["product"]["product_id"] == product["product_id"]
    assert autumn["price"] == product["price"]
    await page.mouse.move(0, 0)
    await page.screenshot(
        path=screenshot_path("admin-create-sale.png"), full_page=True, animations="disabled"
    )


async def test_a_sales_report_shows_its_timeline_and_downloads_as_csv(open_page, api, admin_token):
    sale = await api.create_sale(admin_token, stock=2, name="Report lamps")
    won = []
    for name in ("rhea", "rolf"):
        token = await api.user(name, PASSWORD)
        reply = await api.purchase(token, sale["sale_id"])
        assert reply.status == 202, reply
        won.append((token, await api.wait_final(token, reply.body["ticket_id"])))
    token, ticket = won[0]
    assert (await api.pay(token, ticket["order_id"])).status == 202
    await api.wait_order(token, ticket["order_id"], ("paid",))

    page = (await open_page()).page
    await log_in(page, *ADMIN)
    await go_to(page, "Admin")
    row = page.locator("#operator-sales-body tr").filter(has_text="Report lamps")
    await row.get_by_role("button", name="Report Report lamps").click()
    report = page.get_by_role("region", name="Report: Report lamps")
    await expect(report.get_by_role("heading", name="Report: Report lamps")).to_be_focused()
    await expect(report.locator("#report-conversion")).to_have_text("50% (1 of 2)")
    await expect(report.locator("#report-sell-out")).to_have_text(re.compile(r"^\d+(\.\d)? secs?$"))
    await expect(report.locator("#report-latency")).to_have_text(
        re.compile(r"^[\d,.]+ ms / [\d,.]+ ms$")
    )
    await expect(report.locator("#report-revenue")).to_have_text("€129.00")
    chart = report.get_by_role("img", name=re.compile(r"^Timeline of “Report lamps”"))
    await expect(chart.locator("polyline")).to_have_count(4)
    await expect(report.locator(".chart__key")).to_have_text(
        ["Attempts: 2", "Accepted: 2", "Paid: 1", "Expired: 0"]
    )
    await report.get_by_text("The numbers, second by second").click()
    await expect(report.locator("#report-body tr").first).to_be_visible()
    await page.mouse.move(0, 0)
    await page.screenshot(path=screenshot_path("sale-report.png"), full_page=True)

    async with page.expect_download() as info:
        await report.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == f"sale-{sale['sale_id']}-report.csv"
    lines = (await download.path()).read_text().splitlines()
    assert lines[0].startswith("second,attempts,accepted,")
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == 2

    await report.get_by_role("button", name="Close").click()
    await expect(report).to_be_hidden()
