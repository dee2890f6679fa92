"""AuthSettings: what the auth service reads from the environment, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from auth_service.domain import password_problem, username_problem
from shared.settings import ServiceSettings

AppEnv = Literal["development", "production"]


class AuthSettings(ServiceSettings):
    """Settings of the auth service; secrets are SecretStr so that they never print."""

    port: int = 8081
    app_env: AppEnv = "development"

    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    bcrypt_workers: int = Field(default=2, ge=1, le=64)

    admin_username: str | None = None
    admin_password: SecretStr | None = None

    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path | None = None
    jwt_retired_public_keys_file: Path | None = None
    jwt_ttl_seconds: int = Field(default=900, ge=30, le=7 * 24 * 3600)

    login_max_failures_per_user: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)

    @field_validator(
        "admin_username",
        "admin_password",
        "jwt_private_key",
        "jwt_private_key_file",
        "jwt_retired_public_keys_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FOO=` in an env file or compose means "not set", not "the empty string".
        return None if value == "" else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.jwt_private_key is not None and self.jwt_private_key_file is not None:
            raise ValueError("set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE, not both")
        if self.app_env == "production" and (
            self.jwt_private_key is None and self.jwt_private_key_file is None
        ):
            raise ValueError("APP_ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
        if (self.admin_username is None) != (self.admin_password is None):
            raise ValueError("set both ADMIN_USERNAME and ADMIN_PASSWORD, or neither")
        if self.admin_username is not None and self.admin_password is not None:
            problem = username_problem(self.admin_username) or password_problem(
                self.admin_password.get_secret_value()
            )
            if problem:
                raise ValueError(f"the bootstrap admin account is invalid: {problem}")
        return self
