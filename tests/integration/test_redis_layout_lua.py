"""The generated Lua prelude builds the same keys and applies the same status rule as Python."""

from __future__ import annotations

import itertools

from shared.contracts.redis_layout import (
    ORDER_STATUS_RANK,
    STATUS_RANK,
    TEMPLATES,
    Keys,
    lua_script,
    moves_forward,
    order_moves_forward,
)


async def test_lua_keys_equal_python_keys(redis_client, namespace):
    keys = Keys(namespace)
    python = {
        "sale_key('s1')": keys.sale("s1"),
        "buyers_key('s1')": keys.buyers("s1"),
        "waitlist_key('s1')": keys.waitlist("s1"),
        "room_key('s1')": keys.room("s1"),
        "room_buyers_key('s1')": keys.room_buyers("s1"),
        "ticket_key('t1')": keys.ticket("t1"),
        "command_key('s1', 'c1')": keys.command("s1", "c1"),
        "idempotency_key('u1', 's1:k')": keys.idempotency("u1", "s1:k"),
        "pow_used_key('s1', 'c1')": keys.pow_used("s1", "c1"),
        "POW_SECRET": keys.pow_secret,
        "SALES_INDEX": keys.sales_index,
        "SALE_UPDATES": keys.sale_updates,
        "TICKET_UPDATES": keys.ticket_updates,
    }
    assert len(python) == len(TEMPLATES)  # every template is checked
    for expression, expected in python.items():
        got = await redis_client.eval(lua_script(f"return {expression}"), 0, keys.prefix)
        assert got == expected, expression


async def test_lua_status_rule_equals_python(redis_client, namespace):
    statuses = [*STATUS_RANK, "nonsense"]
    for current, new in itertools.product([None, *statuses], statuses):
        lua_current = "false" if current is None else f"'{current}'"
        got = await redis_client.eval(
            lua_script(f"return moves_forward({lua_current}, '{new}') and 1 or 0"),
            0,
            f"{namespace}:",
        )
        assert bool(got) is moves_forward(current, new), (current, new)


async def test_lua_order_status_rule_equals_python(redis_client, namespace):
    statuses = [*ORDER_STATUS_RANK, "nonsense"]
    for current, new in itertools.product([None, "", *statuses], statuses):
        script = lua_script(
            "return order_moves_forward(ARGV[2] ~= '-' and ARGV[2] or nil, ARGV[3]) and 1 or 0"
        )
        got = await redis_client.eval(
            script, 0, Keys(namespace).prefix, current if current is not None else "-", new
        )
        assert bool(got) == order_moves_forward(current, new), (current, new)
