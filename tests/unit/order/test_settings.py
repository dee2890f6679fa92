"""The order service's settings: production refuses what is only for development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from order_service.settings import DEVELOPMENT_WEBHOOK_SECRET, OrderSettings

SECRET = "whsec_" + "x" * 32


def test_development_signs_with_the_development_secret_and_calls_itself():
    settings = OrderSettings(port=9000)
    assert settings.webhook_secret == DEVELOPMENT_WEBHOOK_SECRET
    assert settings.webhook_url == "http://127.0.0.1:9000/api/v1/payments/webhook"


def test_production_refuses_to_start_without_a_webhook_secret():
    with pytest.raises(ValidationError, match="needs PAYMENT_WEBHOOK_SECRET"):
        OrderSettings(app_env="production")


def test_production_refuses_the_simulated_provider():
    with pytest.raises(ValidationError, match="refuses PAYMENT_PROVIDER=simulated"):
        OrderSettings(app_env="production", payment_webhook_secret=SECRET)


def test_a_short_or_empty_secret():
    with pytest.raises(ValidationError):
        OrderSettings(payment_webhook_secret="short")
    assert OrderSettings(payment_webhook_secret="").webhook_secret == DEVELOPMENT_WEBHOOK_SECRET
