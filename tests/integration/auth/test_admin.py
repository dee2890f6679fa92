import jwt

from tests.integration.auth.helpers import login, register, run_cli, running

ADMIN_PASSWORD = "admin password 1"


async def admins(pg):
    return await pg.fetch("SELECT user_id, username FROM users WHERE role = 'admin'")


async def test_bootstrap_admin_is_idempotent(make_settings, pg):
    settings = make_settings(admin_username="root", admin_password=ADMIN_PASSWORD)
    async with running(settings) as client:
        token = (await (await login(client, "root", ADMIN_PASSWORD)).json())["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"
    first = await admins(pg)
    hash_before = await pg.fetchval("SELECT password_hash FROM users")
    async with running(settings):
        pass
    assert await admins(pg) == first
    assert len(first) == 1
    # A restart with the same settings does not rewrite the account.
    assert await pg.fetchval("SELECT password_hash FROM users") == hash_before


async def test_bootstrap_promotes_and_resets_an_existing_user(make_settings, pg):
    async with running(make_settings()) as client:
        await register(client, "Root", "the users own password")
    settings = make_settings(admin_username="root", admin_password=ADMIN_PASSWORD)
    async with running(settings) as client:
        assert (await login(client, "root", "the users own password")).status == 401
        assert (await login(client, "root", ADMIN_PASSWORD)).status == 200
    rows = await pg.fetch("SELECT username, role FROM users")
    assert [(r["username"], r["role"]) for r in rows] == [("Root", "admin")]


async def test_no_admin_without_configuration(client, pg):
    await register(client, "alice")
    assert await admins(pg) == []


async def test_create_admin_command_creates_then_promotes(make_settings, pg, start):
    settings = make_settings()
    status, out, err = await run_cli(
        settings, "create-admin", "boss", stdin=f"{ADMIN_PASSWORD}\n".encode()
    )
    assert status == 0, err
    assert out.count("\n") == 1
    assert "boss created" in out
    assert ADMIN_PASSWORD not in out + err
    assert [r["username"] for r in await admins(pg)] == ["boss"]

    client = await start(settings)
    await register(client, "carol")
    status, out, err = await run_cli(
        settings, "create-admin", "CAROL", stdin=b"carols admin password"
    )
    assert status == 0, err
    assert "carol updated" in out
    assert sorted(r["username"] for r in await admins(pg)) == ["boss", "carol"]
    assert (await login(client, "carol", "carols admin password")).status == 200

    status, out, _ = await run_cli(
        settings, "create-admin", "carol", stdin=b"carols admin password\n"
    )
    assert (status, "carol unchanged" in out) == (0, True)


async def test_create_admin_refuses_a_bad_password(make_settings, pg):
    settings = make_settings()
    for password in (b"short\n", ("€" * 25).encode() + b"\n", b""):
        status, out, err = await run_cli(settings, "create-admin", "boss", stdin=password)
        assert status == 2
        assert "password" in err
        assert out == ""
    status, _, err = await run_cli(settings, "create-admin", "not valid", stdin=b"long enough\n")
    assert (status, "username" in err) == (2, True)
    assert await admins(pg) == []
