import asyncio

from tests.integration.auth.helpers import register


async def test_register_returns_the_new_user(client, pg):
    resp = await register(client, "Alice")
    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"user_id", "username"}
    assert body["username"] == "Alice"
    row = await pg.fetchrow("SELECT username, role, password_hash FROM users")
    assert (row["username"], row["role"]) == ("Alice", "user")
    assert row["password_hash"].startswith("$2b$04$")  # bcrypt at the configured cost


async def test_duplicate_in_another_case_is_409(client, pg):
    assert (await register(client, "Alice")).status == 201
    resp = await register(client, "aLiCe")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "username_taken"
    assert await pg.fetchval("SELECT count(*) FROM users") == 1


async def test_malformed_json_is_400(client):
    for body in (b"{not json", b"", b"[1, 2]"):
        resp = await client.post("/api/v1/auth/register", data=body)
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "malformed_json"


async def test_wrong_types_are_422_with_field_details(client):
    resp = await client.post("/api/v1/auth/register", json={"username": 42, "password": None})
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "validation_error"
    assert {d["field"] for d in error["details"]} == {"username", "password"}


async def test_account_rules_are_422(client, pg):
    cases = {
        "username": {"username": "a b", "password": "long enough"},
        "password": {"username": "euro", "password": "€" * 25},  # 75 bytes
    }
    for field, body in cases.items():
        resp = await client.post("/api/v1/auth/register", json=body)
        assert resp.status == 422, body
        details = (await resp.json())["error"]["details"]
        assert [d["field"] for d in details] == [field]
        assert "€" not in str(details)  # the input is never echoed
    assert await pg.fetchval("SELECT count(*) FROM users") == 0


async def test_role_cannot_be_chosen(client):
    resp = await client.post(
        "/api/v1/auth/register",
        json={"username": "mallory", "password": "long enough", "role": "admin"},
    )
    assert resp.status == 422


async def test_concurrent_registrations_of_one_name_make_one_account(client, pg):
    names = ["bob", "BOB", "Bob", "bOb"]
    results = await asyncio.gather(*(register(client, name) for name in names))
    assert sorted(r.status for r in results) == [201, 409, 409, 409]
    assert await pg.fetchval("SELECT count(*) FROM users WHERE lower(username) = 'bob'") == 1
