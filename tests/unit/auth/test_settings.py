import pytest
from pydantic import ValidationError

from auth_service.settings import AuthSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in AuthSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def make(**kw):
    return AuthSettings(**kw)


def test_defaults():
    s = make()
    assert (s.port, s.bcrypt_rounds, s.bcrypt_workers, s.jwt_ttl_seconds) == (8081, 12, 2, 900)
    assert s.app_env == "development"


@pytest.mark.parametrize("rounds", [3, 17])
def test_bcrypt_rounds_bounds(rounds):
    with pytest.raises(ValidationError):
        make(bcrypt_rounds=rounds)


def test_production_needs_a_key():
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        make(app_env="production")
    assert make(app_env="production", jwt_private_key_file="/k.pem").app_env == "production"


def test_one_key_source_only():
    with pytest.raises(ValidationError, match="not both"):
        make(jwt_private_key="pem", jwt_private_key_file="/k.pem")


def test_admin_needs_both_and_valid_values():
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
        make(admin_username="root")
    with pytest.raises(ValidationError, match="bytes") as info:
        make(admin_username="root", admin_password="short")
    assert "short" not in str(info.value.errors(include_input=False))


def test_empty_values_mean_unset():
    s = make(admin_username="", admin_password="", jwt_private_key_file="")
    assert s.admin_username is None
    assert s.jwt_private_key_file is None


def test_secrets_do_not_print():
    s = make(admin_username="root", admin_password="sup3r-secret", jwt_private_key="PEMDATA")
    assert "sup3r-secret" not in repr(s)
    assert "PEMDATA" not in repr(s)
