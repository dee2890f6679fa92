"""What the services log never holds a password, a token, a hash or key material.

A whole session runs against the stack (registrations, good and bad logins, throttling, forged
tokens, purchases, admin work), at DEBUG so that the most talkative configuration is covered;
then every line of every service's log is searched for every secret the session used.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import jwt
import pytest

from tests.security.forgery import claims, stranger_key
from tests.support.api import Api
from tests.support.stack import ADMIN

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_env(stack_env, fresh_artifacts):
    # Depending on fresh_artifacts makes the old logs go before the stack starts writing.
    return {**stack_env, "LOG_LEVEL": "DEBUG"}


def secret(label: str) -> str:
    return f"{label}-{secrets.token_urlsafe(12)}"


async def session_with_secrets(api: Api, admin_token: str) -> tuple[list[str], list[str]]:
    """Use the API the way people do; (every secret that crossed it, the tickets bought)."""
    used = [ADMIN[1], admin_token]
    passwords = {name: secret(f"pw-{name}") for name in ("alice", "bob")}
    used += passwords.values()
    tokens = {}
    for name, password in passwords.items():
        assert (await api.register(name, password)).status == 201
        tokens[name] = await api.login(name, password)
    used += tokens.values()

    async def login(username: str, password: str) -> int:
        reply = await api.call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": password}
        )
        return reply.status

    wrong = [secret("wrong") for _ in range(7)]
    used += wrong
    statuses = [await login("alice", w) for w in wrong]  # the last ones are throttled
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    unknown = secret("unknown-user-pw")
    used.append(unknown)
    assert await login("nobody", unknown) == 401
    too_long = "€" * 25 + secret("long")
    used.append(too_long)
    assert (await api.register("carol", too_long)).status == 422
    malformed = secret("malformed")
    used.append(malformed)
    reply = await api.call(
        "POST", "/api/v1/auth/login", json={"username": 5, "password": malformed}
    )
    assert reply.status == 422

    # Tokens that are refused are secrets too: a leaked near-miss helps an attacker.
    forged = jwt.encode(claims(role="admin"), stranger_key(), algorithm="RS256")
    junk = secret("junk-token")
    used += [forged, junk]
    for token in (forged, junk, tokens["alice"] + "x"):
        assert (await api.call("GET", "/api/v1/orders", token=token)).status == 401

    sale = await api.create_sale(admin_token, stock=2)
    key = secret("idem")
    first = await api.purchase(tokens["alice"], sale["sale_id"], key=key)
    again = await api.purchase(tokens["alice"], sale["sale_id"], key=key)
    assert first.status == again.status == 202
    other = await api.purchase(tokens["bob"], sale["sale_id"])
    for name, reply in (("alice", first), ("bob", other)):
        await api.wait_final(tokens[name], reply.body["ticket_id"])
    await api.call("GET", "/api/v1/orders", token=tokens["alice"])
    stats = f"/api/v1/admin/sales/{sale['sale_id']}/stats"
    assert (await api.call("GET", stats, token=admin_token)).status == 200
    assert (await api.call("GET", stats, token=tokens["bob"])).status == 403
    await asyncio.sleep(0.2)  # let the last decisions be logged
    return used, [first.body["ticket_id"], other.body["ticket_id"]]


def needles(used: list[str], key_file: Path) -> dict[str, str]:
    """label -> text that must not appear in any log."""
    found: dict[str, str] = {}
    for value in used:
        found[f"secret {value[:12]}..."] = value
        if value.count(".") == 2:  # a JWT: its signature alone is as good as a secret
            found[f"token signature {value[:12]}..."] = value.rsplit(".", 1)[1]
            found[f"bearer header {value[:12]}..."] = f"Bearer {value}"
    pem_lines = [line for line in key_file.read_text().splitlines() if "-----" not in line]
    for n, line in enumerate(pem_lines):
        if len(line) >= 32:
            found[f"private key line {n}"] = line
    found["PEM armour"] = "-----BEGIN"
    return found


PATTERNS = {
    "a bcrypt hash": re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"),
    "an Authorization header": re.compile(r"authorization['\"]?\s*[:=]\s*['\"]?bearer", re.I),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
}


async def test_no_secret_reaches_any_log(stack, api, admin_token):
    used, tickets = await session_with_secrets(api, admin_token)
    stack.stop()  # the logs are block-buffered files: only a clean exit flushes everything

    logs = {s.log_path.name: s.log_path.read_text(errors="replace") for s in stack.services}
    # The search is only worth something if the logs hold this session (DEBUG logs decisions).
    assert "admin account ensured" in logs["auth.log"]
    assert all(t in logs["inventory.log"] and t in logs["order.log"] for t in tickets), tickets

    leaks = []
    searched = needles(used, Path(stack.auth.env["JWT_PRIVATE_KEY_FILE"]))
    for name, text in logs.items():
        for number, line in enumerate(text.splitlines(), 1):
            for label, needle in searched.items():
                if needle in line:
                    leaks.append(f"{name}:{number}: {label}: {line[:300]}")
            for label, pattern in PATTERNS.items():
                if pattern.search(line):
                    leaks.append(f"{name}:{number}: {label}: {line[:300]}")
    assert leaks == [], "\n".join(leaks)
