import jwt
import pytest
from pydantic import SecretStr

from auth_service import handlers
from auth_service.domain import (
    Credentials,
    InvalidCredentials,
    LoginRequest,
    TooManyAttempts,
    UsernameTaken,
)
from auth_service.tokens import TokenIssuer
from shared.contracts.errors import ServiceUnavailable
from tests.unit.auth.fakes import FakeHasher, FakeThrottle, FakeUsers


@pytest.fixture
def deps(signing_key):
    return {
        "users": FakeUsers(),
        "hasher": FakeHasher(),
        "throttle": FakeThrottle(per_account=2),
        "tokens": TokenIssuer(signing_key, "iss", "aud", ttl_seconds=60),
    }


PASSWORD = "correct horse"


def creds(username="alice", password=PASSWORD):
    return Credentials(username=username, password=SecretStr(password))


def attempt(username="alice", password=PASSWORD):
    return LoginRequest(username=username, password=SecretStr(password))


async def register(deps, **kw):
    return await handlers.register_user(creds(**kw), users=deps["users"], hasher=deps["hasher"])


async def login(deps, request, client="1.2.3.4"):
    return await handlers.login(request, client=client, **deps)


async def test_register_creates_a_user_role_and_rejects_case_duplicates(deps):
    user = await register(deps)
    assert user.role == "user"
    with pytest.raises(UsernameTaken):
        await register(deps, username="ALICE")


async def test_login_issues_a_token_for_the_stored_name(deps):
    user = await register(deps, username="Alice")
    token = await login(deps, attempt(username="alice"))
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["name"], claims["role"]) == (str(user.user_id), "Alice", "user")
    assert deps["throttle"].events == ["begin", "succeeded"]


async def test_unknown_user_still_pays_for_one_check(deps):
    with pytest.raises(InvalidCredentials):
        await login(deps, attempt(username="nobody"))
    assert deps["hasher"].calls == [("verify", None)]


async def test_malformed_credentials_cost_no_lookup_and_no_bcrypt(deps):
    with pytest.raises(InvalidCredentials):
        await login(deps, attempt(username="no spaces allowed"))
    with pytest.raises(InvalidCredentials):
        await login(deps, attempt(password="short"))
    assert deps["hasher"].calls == []
    assert deps["users"].finds == 0
    # Still counted against the client.
    assert deps["throttle"].failures["client:1.2.3.4"] == 2


async def test_throttle_is_checked_before_bcrypt(deps):
    await register(deps)
    deps["hasher"].calls.clear()
    for i in range(2):
        with pytest.raises(InvalidCredentials):
            await login(deps, attempt(password="wrong password"), client=f"10.0.0.{i}")
    with pytest.raises(TooManyAttempts) as refused:
        await login(deps, attempt(), client="10.0.0.9")
    assert refused.value.limit == "account"  # two failures on alice, from anywhere
    assert len(deps["hasher"].calls) == 2  # the throttled (correct!) attempt never hashed


async def test_success_clears_the_username_failures(deps):
    await register(deps)
    with pytest.raises(InvalidCredentials):
        await login(deps, attempt(password="wrong password"))
    await login(deps, attempt())
    assert "user:alice:1.2.3.4" not in deps["throttle"].failures
    assert deps["throttle"].events == ["begin", "failed", "begin", "succeeded"]


async def test_attempt_without_verdict_is_given_back(deps):
    class Busy(FakeHasher):
        async def verify(self, password, password_hash):
            raise ServiceUnavailable("busy")

    deps["hasher"] = Busy()
    with pytest.raises(ServiceUnavailable):
        await login(deps, attempt())
    assert deps["throttle"].events == ["begin", "abandoned"]
    assert not +deps["throttle"].failures
    assert not +deps["throttle"].in_flight


async def test_ensure_admin_creates_then_leaves_alone_then_resets(deps):
    first = await handlers.ensure_admin(creds("root", "admin-pass"), **_uh(deps))
    assert (first.action, first.user.role) == ("created", "admin")
    again = await handlers.ensure_admin(creds("ROOT", "admin-pass"), **_uh(deps))
    assert again.action == "unchanged"
    assert again.user.user_id == first.user.user_id
    changed = await handlers.ensure_admin(creds("root", "new-admin-pass"), **_uh(deps))
    assert changed.action == "updated"
    assert len(deps["users"].rows) == 1


async def test_ensure_admin_promotes_an_existing_user(deps):
    user = await register(deps, username="carol")
    outcome = await handlers.ensure_admin(creds("carol", "carols-admin-pass"), **_uh(deps))
    assert (outcome.action, outcome.user.user_id, outcome.user.role) == (
        "updated",
        user.user_id,
        "admin",
    )


def _uh(deps):
    return {"users": deps["users"], "hasher": deps["hasher"]}
