"""One owner of the Redis contract: keys and fields come from shared.contracts.redis_layout."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from shared.contracts.redis_layout import (
    FINAL_STATUSES,
    STATUS_RANK,
    TEMPLATES,
    Keys,
    lua_prelude,
    moves_forward,
)

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("gateway", "inventory_service", "order_service", "auth_service", "shared")
# Modules whose module-level strings are Lua scripts.
SCRIPT_MODULES = (
    "gateway.adapters.redis_tickets",
    "inventory_service.adapters.redis_sales",
    "order_service.adapters.redis_tickets",
    "gateway.adapters.redis_pow",
    "auth_service.adapters.redis_throttle",
)
# What a key spelled by hand would contain: the fixed parts of every template ("sale:",
# ":buyers", ...; not a lone ":", which decisions such as "r:sold_out" contain, nor the bare
# word "sales").
FRAGMENTS = sorted(
    {
        part
        for template in TEMPLATES.values()
        for part in template.split("{}")
        if len(part) > 1 and part != "sales"
    }
)


def test_keys_follow_the_templates():
    keys = Keys("ns")
    sale = "9f5e5fdc-dd9b-4945-bca8-bb7682ff4f3a"
    assert keys.sale(sale) == f"ns:{{f3a}}:sale:{sale}"
    assert keys.buyers(sale) == f"ns:{{f3a}}:sale:{sale}:buyers"
    assert keys.waitlist(sale) == f"ns:{{f3a}}:sale:{sale}:waitlist"
    assert keys.ticket("t-0b7") == "ns:{0b7}:ticket:t-0b7"
    assert keys.command(sale, "c1") == f"ns:{{f3a}}:cmd:{sale}:c1"
    assert keys.idempotency("u1", "s1:k") == "ns:idem:u1:s1:k"
    assert (keys.sales_index, keys.sale_updates, keys.ticket_updates) == (
        "ns:sales",
        "ns:sale-updates",
        "ns:ticket-updates",
    )


def scripts() -> list[tuple[str, str]]:
    """(where, Lua source) of every script the services run, without the generated prelude."""
    found = []
    for name in SCRIPT_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and "redis.call" in value:
                found.append((f"{name}.{attr}", value.removeprefix(lua_prelude())))
    found += [(str(p.relative_to(ROOT)), p.read_text()) for p in ROOT.glob("*/**/*.lua")]
    return found


def test_every_script_is_found():
    where = {w for w, _ in scripts()}
    assert {
        "gateway.adapters.redis_tickets._ISSUE",
        "gateway.adapters.redis_pow._SPEND",
        "inventory_service.adapters.redis_sales._DECIDE",
        "inventory_service.adapters.redis_sales._CREATE",
        "order_service.adapters.redis_tickets._FINALISE",
        "inventory_service/adapters/decide.lua",
    } <= where, where


@pytest.mark.parametrize(("where", "source"), scripts(), ids=lambda v: str(v)[:60])
def test_no_script_spells_a_key_by_hand(where, source):
    code = "\n".join(line.split("--", 1)[0] for line in source.splitlines())  # no comments
    literals = re.findall(r'"([^"]*)"', code)
    spelled = [f for f in FRAGMENTS for lit in literals if f in lit]
    assert not spelled, f"{where} builds keys by hand: {spelled}"
    assert not re.search(r"ARGV\[1\]\s*\.\.", code), f"{where} builds keys from the prefix"


def test_scripts_that_build_keys_start_with_the_prelude():
    for name in SCRIPT_MODULES[:4]:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and "redis.call" in value:
                assert value.startswith(lua_prelude()), f"{name}.{attr}"


def test_no_product_code_spells_a_namespaced_key():
    pattern = re.compile(r":(sale|ticket|cmd|idem):|sale-updates|ticket-updates")
    offenders = []
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "redis_layout.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line.split("#", 1)[0]) and 'f"' in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (None, "queued", True),
        ("queued", "accepted", True),
        ("queued", "rejected", True),
        ("accepted", "confirmed", True),
        ("accepted", "queued", False),
        ("confirmed", "accepted", False),  # a late redelivery
        ("confirmed", "rejected", False),  # final is final
        ("rejected", "confirmed", False),
        ("confirmed", "confirmed", False),
        ("queued", "nonsense", False),
    ],
)
def test_status_only_moves_forward(current, new, expected):
    assert moves_forward(current, new) is expected


def test_final_statuses_are_the_highest_rank():
    assert {"confirmed", "rejected"} == FINAL_STATUSES
    assert all(STATUS_RANK[s] < STATUS_RANK["confirmed"] for s in ("queued", "accepted"))
