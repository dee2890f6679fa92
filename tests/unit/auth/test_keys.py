import base64

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_service.signing_keys import KeyConfigError, KeyRing, SigningKey, jwks_document, thumbprint

# RFC 7638 section 3.1: the example key and its thumbprint.
RFC_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
    "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
    "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
    "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
    "Cur-kEgU8awapJzKnqDKgw"
)
RFC_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def _b64_to_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_thumbprint_matches_rfc_7638_example():
    public = rsa.RSAPublicNumbers(e=65537, n=_b64_to_int(RFC_N)).public_key()
    assert thumbprint(public) == RFC_THUMBPRINT


def test_kid_is_stable_across_pem_round_trips(signing_key):
    again = SigningKey.from_pem(signing_key.private_pem())
    assert again.kid == signing_key.kid
    assert thumbprint(again.public_key) == signing_key.kid


def test_different_keys_have_different_kids(signing_key, other_key):
    assert signing_key.kid != other_key.kid


def test_jwks_document_shape(signing_key, other_key):
    document = KeyRing(signing_key, (other_key.public_key, signing_key.public_key)).jwks()
    assert [k["kid"] for k in document["keys"]] == [signing_key.kid, other_key.kid]
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
        assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")
        assert "d" not in jwk
    # PyJWT (what every verifier uses) reads it back to the same public key.
    parsed = jwt.PyJWKSet.from_dict(document)
    assert parsed[signing_key.kid].key.public_numbers() == signing_key.public_key.public_numbers()


def test_jwks_document_of_no_keys_is_empty():
    assert jwks_document([]) == {"keys": []}


def test_from_pem_refuses_garbage_without_echoing_it():
    with pytest.raises(KeyConfigError) as info:
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nsecretstuff\n-----END PRIVATE KEY-----")
    assert "secretstuff" not in str(info.value)


def test_small_keys_are_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    with pytest.raises(KeyConfigError, match="1024"):
        SigningKey.from_private_key(small)
