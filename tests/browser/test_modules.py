"""The page's modules on their own, in the browser: the event-stream parser, time zones and
offsets, decision rates, token claims, and the words for every error code.

Only the page's files are served here (no stack): the modules are imported into the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from playwright.async_api import Page

from gateway.entrypoints import webpage
from tests.browser.conftest import PageWatch


@pytest.fixture
async def page_server() -> AsyncIterator[BaseTestServer]:
    app = web.Application()
    app.add_routes(webpage.routes)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


@pytest.fixture
async def module_page(browser, page_server) -> AsyncIterator[Any]:
    contexts = []
    watches = []

    async def open_(timezone_id: str = "Europe/Paris") -> Page:
        context = await browser.new_context(timezone_id=timezone_id, locale="en-GB")
        contexts.append(context)
        page = await context.new_page()
        origin = str(page_server.make_url("")).rstrip("/")
        watch = PageWatch(origin)
        watches.append(watch)
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        await page.goto(f"{origin}/")
        await page.wait_for_selector("body[data-ready]")
        return page

    yield open_
    for context in contexts:
        await context.close()
    for watch in watches:
        watch.check()


async def run(page: Page, module: str, body: str, arg: Any = None) -> Any:
    """Import /app/``module`` as ``m`` and evaluate ``body`` (an async function body)."""
    return await page.evaluate(
        f"async (arg) => {{ const m = await import('/app/{module}'); {body} }}", arg
    )


async def test_the_event_stream_parser_handles_any_chunking_and_line_ending(module_page):
    page = await module_page()
    stream = (
        ": keep-alive\r\n\r\n"
        'id: 7\r\nevent: ticket\r\ndata: {"a":1}\r\n\r\n'
        "data: line one\rdata: line two\r\r"
        "event: sale\ndata:no-space\nretry: 10\nunknown: x\n\n"
        "event: empty\n\n"
        "data: é ✓\n\n"
        "data: cut off at the end"
    )
    expected = [
        {"event": "ticket", "data": '{"a":1}', "id": "7"},
        {"event": "message", "data": "line one\nline two", "id": "7"},
        {"event": "sale", "data": "no-space", "id": "7"},
        {"event": "message", "data": "é ✓", "id": "7"},
    ]
    raw = list(stream.encode())
    # Every split point, including inside a CRLF pair and inside a multi-byte character.
    events = await run(
        page,
        "sse.js",
        """
        const bytes = new Uint8Array(arg.raw);
        const results = [];
        for (let cut = 0; cut <= bytes.length; cut += 1) {
          const chunks = [bytes.slice(0, cut), bytes.slice(cut)];
          const body = new ReadableStream({
            start(c) { for (const chunk of chunks) c.enqueue(chunk); c.close(); },
          });
          const seen = [];
          await m.readEvents(new Response(body), (e) => seen.push(e));
          results.push(JSON.stringify(seen));
        }
        return [...new Set(results)].map((r) => JSON.parse(r));
        """,
        {"raw": raw},
    )
    assert events == [expected]


async def test_local_times_become_rfc3339_with_the_offset_of_that_date(module_page):
    page = await module_page("America/New_York")
    converted = await run(
        page,
        "time.js",
        "return arg.map((v) => m.localInputToRfc3339(v));",
        ["2026-01-15T09:30", "2026-07-15T09:30", "2026-11-27T23:59", "", "not a date"],
    )
    # Winter is UTC-5, summer (daylight saving time) UTC-4, whatever the date today.
    assert converted == [
        "2026-01-15T09:30:00-05:00",
        "2026-07-15T09:30:00-04:00",
        "2026-11-27T23:59:00-05:00",
        None,
        None,
    ]
    page = await module_page("Asia/Kolkata")
    assert await run(page, "time.js", "return m.localInputToRfc3339('2026-11-27T09:00');") == (
        "2026-11-27T09:00:00+05:30"
    )
    assert await run(page, "time.js", "return [5, 61, 3600, 93784].map(m.duration);") == [
        "5 s",
        "1 min 01 s",
        "1 h 00 min",
        "1 d 2 h",
    ]


async def test_decision_rates_come_from_successive_readings(module_page):
    page = await module_page()
    rates = await run(
        page,
        "rates.js",
        """
        const first = m.reading({at: "2026-11-27T09:00:00Z", sales: [
          {sale_id: "a", accepted: 10, rejected: 0}, {sale_id: "b", accepted: 0, rejected: 0}]});
        const second = m.reading({at: "2026-11-27T09:00:02Z", sales: [
          {sale_id: "a", accepted: 30, rejected: 20}, {sale_id: "b", accepted: 0, rejected: 0},
          {sale_id: "c", accepted: 4, rejected: 0}]});
        const r = m.decisionRates(first, second);
        return {none: m.decisionRates(null, first), same: m.decisionRates(first, first),
                total: r.total, perSale: Object.fromEntries(r.perSale)};
        """,
    )
    assert rates == {
        "none": None,
        "same": None,
        "total": 22,
        "perSale": {"a": 20, "b": 0, "c": 2},
    }


async def test_token_claims_are_decoded_for_display_only(module_page):
    page = await module_page()
    claims = await run(
        page,
        "session.js",
        """
        const enc = (o) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))))
          .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
        return [m.decodeClaims(`x.${enc({name: "Zoë ~?>", role: "admin", exp: 1})}.sig`),
                m.decodeClaims("not-a-token"), m.decodeClaims("a.!!!.c")];
        """,
    )
    assert claims == [{"name": "Zoë ~?>", "role": "admin", "exp": 1}, None, None]


ERRORS = [
    # (status, code, retry-after, context, expected words)
    (0, "network_error", None, {}, "Can't reach the server. Check your connection and try again."),
    (401, "invalid_credentials", None, {}, "Wrong username or password."),
    (
        429,
        "too_many_attempts",
        272,
        {},
        "Too many failed log-in attempts. Try again in 4 min 32 s.",
    ),
    (
        409,
        "username_taken",
        None,
        {},
        "That username is already taken (letter case doesn't count). Choose another one.",
    ),
    (
        409,
        "sold_out",
        None,
        {},
        "Sold out: no units are left. If more stock is added, you can try again.",
    ),
    (409, "sale_not_active", None, {"ended": True}, "This sale has ended: purchases are closed."),
    (
        409,
        "demand_exceeds_stock",
        3,
        {},
        "The buyers already in line want far more than the units left. "
        "Try again in 3 s: the line may clear.",
    ),
    (
        409,
        "request_in_progress",
        1,
        {},
        "Your earlier click is still being queued. Try again in a second.",
    ),
    (
        503,
        "overloaded",
        2,
        {},
        "Too many purchases are waiting to be decided right now. Try again in 2 s.",
    ),
    (
        503,
        "service_unavailable",
        5,
        {},
        "The service is temporarily unavailable. Try again in 5 s.",
    ),
    (503, "http_503", None, {}, "The service is temporarily unavailable. Try again in a second."),
    (401, "token_expired", None, {}, "Your session has expired. Please log in again."),
    (403, "forbidden", None, {}, "This needs an admin account."),
    (500, "internal_error", None, {}, "The server ran into a problem. Try again in a moment."),
]


async def test_every_error_code_has_words(module_page):
    page = await module_page()
    described = await run(
        page,
        "errors.js",
        """
        const api = await import('/app/api.js');
        const ended = {sale: {starts_at: "2020-01-01T00:00:00Z", ends_at: "2020-01-02T00:00:00Z"}};
        return arg.map(([status, code, retryAfter, context]) => m.describe(
          new api.ApiError(status, code, "server words", {retryAfter}),
          context.ended ? ended : {}));
        """,
        [[status, code, retry, context] for status, code, retry, context, _ in ERRORS],
    )
    assert described == [words for *_, words in ERRORS]


async def test_validation_errors_name_each_field_in_words(module_page):
    page = await module_page()
    described = await run(
        page,
        "errors.js",
        """
        const api = await import('/app/api.js');
        const error = new api.ApiError(422, "validation_error", "invalid", {details: [
          {field: "stock", message: "Input should be greater than or equal to 1"},
          {field: "per_user_limit", message: "Value error, per user limit must be positive"},
          {field: "", message: "ends_at must be after starts_at"}]});
        return m.describe(error);
        """,
    )
    assert described == (
        "Please check: Stock: Input should be greater than or equal to 1; "
        "Per-buyer limit: must be positive; ends_at must be after starts_at."
    )
