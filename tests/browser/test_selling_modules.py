"""The selling modules on their own, in the browser: amounts typed by an admin, when a ticket
is settled, and the chart's buckets. Only the page's files are served (no stack)."""

from __future__ import annotations

# The fixtures and the helper of the other module tests: the page's files, served alone.
from tests.browser.test_modules import module_page, page_server, run

__all__ = ["module_page", "page_server"]


async def test_typed_amounts_become_minor_units_of_their_currency(module_page):
    page = await module_page()
    amounts = await run(
        page,
        "sale-form.js",
        "return arg.map(([text, currency]) => m.minorUnits(text, currency));",
        [
            ["49.99", "EUR"],
            ["49,99", "EUR"],
            [" 49 ", "EUR"],
            ["49.5", "EUR"],
            ["49.", "EUR"],
            ["1299", "JPY"],
            ["12.5", "JPY"],
            ["1.234", "KWD"],
            ["1.999", "EUR"],
            ["1,299.00", "EUR"],
            ["-5", "EUR"],
            ["cheap", "EUR"],
        ],
    )
    # What is no amount goes to the server as it is, for its 422 to explain.
    assert amounts == [
        4999,
        4999,
        4900,
        4950,
        4900,
        1299,
        "12.5",
        1234,
        "1.999",
        "1,299.00",
        "-5",
        "cheap",
    ]


async def test_a_ticket_is_settled_when_the_server_ends_its_stream(module_page):
    page = await module_page()
    settled = await run(
        page,
        "ticket-follow.js",
        "return arg.map(([status, order_status]) => m.settled({status, order_status}));",
        [
            ["queued", None],
            ["waitlisted", None],
            ["accepted", None],
            ["rejected", None],
            ["confirmed", None],
            ["confirmed", "awaiting_payment"],
            ["confirmed", "expired"],
            ["confirmed", "paid"],
            ["confirmed", "refunded"],
        ],
    )
    assert settled == [False, False, False, True, True, False, False, True, True]


async def test_the_timeline_is_summed_into_at_most_240_points(module_page):
    page = await module_page()
    short, long, ceilings = await run(
        page,
        "timeline-chart.js",
        """
        const rows = [{second: 0, attempts: 3, paid: 0}, {second: 2, attempts: 1, paid: 1}];
        const long = m.bucketed([{second: 0, attempts: 1}, {second: 999, attempts: 2},
                                 {second: 1000, attempts: 4}], ["attempts"]);
        return [m.bucketed(rows, ["attempts", "paid"]),
                {size: long.size, count: long.count, last: long.values.attempts.at(-1),
                 total: long.values.attempts.reduce((a, b) => a + b, 0)},
                [0, 1, 3, 7, 10, 11, 420, 5000].map(m.niceCeiling)];
        """,
    )
    assert short == {"size": 1, "count": 3, "values": {"attempts": [3, 0, 1], "paid": [0, 0, 1]}}
    assert long == {"size": 5, "count": 201, "last": 4, "total": 7}
    assert ceilings == [1, 1, 5, 10, 10, 20, 500, 5000]
