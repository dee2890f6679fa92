"""Accessibility (axe-core) in every view, and a phone-sized screen without sideways scrolling."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PASSWORD, PHONE, screenshot_path
from tests.browser.pages import buy_button, expect_ticket, go_to, log_in, log_out, register
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e

# axe-core, vendored with its licence (see vendor/README.md).
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = {"serious", "critical"}


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now (WCAG 2.x A/AA)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    results = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {
              runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                              "wcag22aa", "best-practice"]},
            });
            return r.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )
    return [v for v in results if v["impact"] in BLOCKING]


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return int(
        await page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


async def test_no_serious_accessibility_violations_in_any_view(open_page, api, admin_token):
    await api.create_sale(admin_token, stock=3, name="Accessible lamps")
    await api.create_sale(admin_token, stock=5, name="Later lamps", starts_in=timedelta(hours=2))
    # axe is injected as an inline script, which the page's Content-Security-Policy forbids
    # (as it should): only this context bypasses the policy. The other tests run under it.
    opened = await open_page(bypass_csp=True)
    page = opened.page
    checked: dict[str, list[dict[str, Any]]] = {}

    login = page.locator("#login-form")
    await login.get_by_label("Username").fill("nobody")
    await login.get_by_label("Password").fill("wrong-password")
    await login.get_by_role("button", name="Log in").click()
    await expect(login.locator(".form-error")).to_have_text("Wrong username or password.")
    register_form = page.locator("#register-form")
    await register_form.get_by_label("Username").fill("x")
    await register_form.get_by_label("Password").fill("short")
    await register_form.get_by_role("button", name="Create account").click()
    await expect(register_form.locator(".field-error")).to_have_count(2)
    checked["log-in view with errors"] = await axe_violations(page)

    await register(page, "ada", PASSWORD)
    await buy_button(page, "Accessible lamps").click()
    await expect_ticket(page, "Accessible lamps", "confirmed")
    checked["sales view with a ticket"] = await axe_violations(page)

    await go_to(page, "My orders")
    await expect(page.locator("#orders-body tr")).to_have_count(1)
    checked["orders view"] = await axe_violations(page)

    await log_out(page)
    await log_in(page, *ADMIN)
    await go_to(page, "Admin")
    await expect(page.locator("#operator-partitions-body tr").first).to_be_visible()
    checked["admin view"] = await axe_violations(page)

    assert {view: v for view, v in checked.items() if v} == {}


async def test_a_phone_sized_screen_needs_no_sideways_scrolling(open_page, api, admin_token):
    await api.create_sale(admin_token, stock=40, name="Pocket-sized flash sale with a long name")
    await api.create_sale(
        admin_token, stock=10, name="Tomorrow's drop", starts_in=timedelta(hours=20)
    )
    opened = await open_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = opened.page
    assert await horizontal_overflow(page) <= 0

    await register(page, "pat", PASSWORD)
    name = "Pocket-sized flash sale with a long name"
    await buy_button(page, name).tap()
    await expect_ticket(page, name, "confirmed")
    assert await horizontal_overflow(page) <= 0
    await page.screenshot(path=screenshot_path("phone-sales.png"), animations="disabled")
    await page.screenshot(
        path=screenshot_path("phone-sales-full.png"), full_page=True, animations="disabled"
    )

    await go_to(page, "My orders")
    await expect(page.locator("#orders-body tr")).to_have_count(1)
    assert await horizontal_overflow(page) <= 0

    await log_out(page)
    await log_in(page, *ADMIN)
    await go_to(page, "Admin")
    await expect(page.locator("#operator-partitions-body tr").first).to_be_visible()
    assert await horizontal_overflow(page) <= 0
    await page.screenshot(
        path=screenshot_path("phone-admin.png"), full_page=True, animations="disabled"
    )
