import pytest
from pydantic import SecretStr, ValidationError

from auth_service.domain import Credentials, LoginRequest, password_problem, username_problem


@pytest.mark.parametrize("username", ["abc", "a" * 64, "Alice_01", "j.doe-x", "___", "A.B"])
def test_good_usernames(username):
    assert username_problem(username) is None


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 65, "", "has space", "émile", "abc\n", "a/b", "a@b.c", "tab\tx", "abc$"],
)
def test_bad_usernames(username):
    assert username_problem(username) is not None


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("12345678", True),
        ("1234567", False),
        ("x" * 72, True),
        ("x" * 73, False),
        ("€" * 24, True),  # 72 bytes
        ("€" * 25, False),  # 25 characters but 75 bytes
        ("€€€", True),  # 3 characters, 9 bytes: the rule is on bytes
        ("é" * 36, True),  # 72 bytes
        ("é" * 37, False),
        ("\ud800" * 8, False),  # lone surrogates have no UTF-8 form
    ],
)
def test_password_length_is_counted_in_utf8_bytes(password, ok):
    assert (password_problem(password) is None) is ok


def test_credentials_model_reports_fields_without_the_password():
    with pytest.raises(ValidationError) as info:
        Credentials.model_validate({"username": "ab", "password": "€" * 25})
    fields = {e["loc"][0] for e in info.value.errors()}
    assert fields == {"username", "password"}
    assert "€" * 25 not in repr(
        Credentials.model_construct(username="x", password=SecretStr("€" * 25))
    )


def test_credentials_reject_wrong_types_and_extra_fields():
    for body in (
        {"username": 123, "password": "12345678"},
        {"username": "alice", "password": ["x"]},
        {"username": "alice"},
        {"username": "alice", "password": "12345678", "role": "admin"},
    ):
        with pytest.raises(ValidationError):
            Credentials.model_validate(body)


def test_login_request_checks_types_only():
    request = LoginRequest.model_validate({"username": "a b", "password": "x"})
    assert request.well_formed() is None
    good = LoginRequest.model_validate({"username": "Alice", "password": "12345678"})
    assert good.well_formed() == Credentials(username="Alice", password=SecretStr("12345678"))
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"username": 1, "password": "12345678"})
