from uuid import uuid4

import pytest
from aiohttp.test_utils import unused_port

from auth_service.signing_keys import SigningKey
from auth_service.tokens import TokenIssuer
from shared.contracts.errors import Unauthorized
from tests.integration.auth.helpers import AUDIENCE, ISSUER, login, register, running, verifier


async def test_rotation_by_kid(make_settings, tmp_path):
    key_a, key_b = SigningKey.generate(), SigningKey.generate()
    a_file, b_file, retired = tmp_path / "a.pem", tmp_path / "b.pem", tmp_path / "retired.pem"
    a_file.write_bytes(key_a.private_pem())
    b_file.write_bytes(key_b.private_pem())
    retired.write_bytes(key_a.public_pem())
    port = unused_port()
    jwks_url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    # A token signed by A that no verifier has seen yet (its verified-token cache is empty),
    # so verifying it later really needs A's key in the JWKS.
    unseen_a_token = TokenIssuer(key_a, ISSUER, AUDIENCE, 900).issue(
        user_id=uuid4(), username="late", role="user"
    )

    async with verifier(jwks_url) as v:
        async with running(make_settings(jwt_private_key_file=a_file), port) as client:
            await register(client, "alice")
            a_token = await token_of(client, "alice")
            assert (await v.verify(a_token)).name == "alice"  # v now holds A's JWKS only

        rotated = make_settings(jwt_private_key_file=b_file, jwt_retired_public_keys_file=retired)
        async with running(rotated, port) as client:
            document = await (await client.get("/.well-known/jwks.json")).json()
            assert [k["kid"] for k in document["keys"]] == [key_b.kid, key_a.kid]
            b_token = await token_of(client, "alice")
            # B's kid is unknown to v: it refetches and then verifies.
            assert (await v.verify(b_token)).name == "alice"
            assert (await v.verify(unseen_a_token.access_token)).name == "late"
            assert (await v.verify(a_token)).name == "alice"

        # Once A is withdrawn from the JWKS, its tokens stop verifying.
        b_only = make_settings(jwt_private_key_file=b_file)
        async with running(b_only, port), verifier(jwks_url) as fresh:
            assert (await fresh.verify(b_token)).name == "alice"
            with pytest.raises(Unauthorized):
                await fresh.verify(unseen_a_token.access_token)


async def token_of(client, username):
    resp = await login(client, username)
    assert resp.status == 200
    return (await resp.json())["access_token"]
