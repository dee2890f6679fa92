import json

from tests.integration.auth.helpers import login, register, run_cli, running, verifier


async def test_issue_tokens_prints_verifiable_tokens(make_settings, pg):
    settings = make_settings()
    status, out, err = await run_cli(settings, "issue-tokens", "--count", "5", "--ttl", "120")
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["username"] for line in lines] == [f"bench-{i}" for i in range(1, 6)]
    async with running(settings) as client:
        async with verifier(str(client.make_url("/.well-known/jwks.json"))) as v:
            for line in lines:
                claims = await v.verify(line["access_token"])
                assert (str(claims.sub), claims.name, claims.role) == (
                    line["user_id"],
                    line["username"],
                    "user",
                )
                assert claims.exp - claims.iat == 120
        # Load-test accounts have no password that could ever match.
        assert (await login(client, "bench-1", "any password")).status == 401
    hashes = await pg.fetch("SELECT DISTINCT password_hash FROM users")
    assert [r["password_hash"] for r in hashes] == ["!"]

    # Again, with more users and another role: the same accounts, plus new ones.
    status, out, err = await run_cli(
        settings, "issue-tokens", "--count", "7", "--role", "admin", "--workers", "1"
    )
    assert status == 0, err
    again = [json.loads(line) for line in out.splitlines()]
    assert [a["user_id"] for a in again[:5]] == [line["user_id"] for line in lines]
    assert await pg.fetchval("SELECT count(*) FROM users WHERE role = 'admin'") == 7


async def test_issue_tokens_in_parallel_processes(make_settings, pg):
    settings = make_settings()
    status, out, err = await run_cli(
        settings, "issue-tokens", "--count", "4500", "--prefix", "load", "--workers", "2"
    )
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4500
    assert len({line["access_token"] for line in lines}) == 4500
    assert lines[-1]["username"] == "load-4500"
    assert await pg.fetchval("SELECT count(*) FROM users") == 4500
    jwks_path = "/.well-known/jwks.json"
    async with running(settings) as client, verifier(str(client.make_url(jwks_path))) as v:
        for line in lines[::997]:
            assert str((await v.verify(line["access_token"])).sub) == line["user_id"]


async def test_issue_tokens_never_mints_for_real_accounts(make_settings, pg):
    settings = make_settings()
    async with running(settings) as client:
        assert (await register(client, "bench-2")).status == 201
    status, out, err = await run_cli(settings, "issue-tokens", "--count", "3")
    assert status == 1
    assert out == ""
    assert "real accounts" in err
    assert await pg.fetchval("SELECT count(*) FROM users") == 1  # nothing was written


async def test_issue_tokens_rejects_a_bad_prefix(make_settings):
    status, _, err = await run_cli(
        make_settings(), "issue-tokens", "--count", "3", "--prefix", "a b"
    )
    assert status == 2
    assert "prefix" in err
