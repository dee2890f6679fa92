from uuid import uuid4

import jwt

from auth_service.tokens import TokenIssuer, token_claims

ISSUER, AUDIENCE = "flashsale-auth", "flashsale"


def test_claims_are_exactly_the_contract():
    user_id = uuid4()
    claims = token_claims(
        user_id=user_id,
        username="alice",
        role="admin",
        issuer=ISSUER,
        audience=AUDIENCE,
        issued_at=1_000,
        ttl_seconds=900,
    )
    assert claims == {
        "sub": str(user_id),
        "name": "alice",
        "role": "admin",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": 1_000,
        "exp": 1_900,
    }


def test_issued_token_is_rs256_with_kid_and_verifies(signing_key):
    issuer = TokenIssuer(signing_key, ISSUER, AUDIENCE, ttl_seconds=600)
    user_id = uuid4()
    issued = issuer.issue(user_id=user_id, username="bob", role="user")
    assert issued.expires_in == 600
    header = jwt.get_unverified_header(issued.access_token)
    assert header["alg"] == "RS256"
    assert header["kid"] == signing_key.kid
    claims = jwt.decode(
        issued.access_token,
        signing_key.public_key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
    )
    assert claims["sub"] == str(user_id)
    assert claims["exp"] - claims["iat"] == 600
    assert set(claims) == {"sub", "name", "role", "iss", "aud", "iat", "exp"}


def test_ttl_and_now_can_be_overridden(signing_key):
    issuer = TokenIssuer(signing_key, ISSUER, AUDIENCE, ttl_seconds=600)
    token = issuer.issue(user_id=uuid4(), username="c", role="user", now=2_000, ttl_seconds=5)
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert (claims["iat"], claims["exp"], token.expires_in) == (2_000, 2_005, 5)
