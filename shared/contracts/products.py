"""Products and money as the API shows them."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

# ISO 4217 codes and their minor units: what an amount in "cents" means. Currencies outside
# this list are refused rather than guessed (a wrong exponent charges 100x).
MINOR_UNITS = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JPY": 0, "KRW": 0, "MXN": 2,
    "NOK": 2, "NZD": 2, "PLN": 2, "RON": 2, "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2,
    "USD": 2, "ZAR": 2, "BHD": 3, "KWD": 3,
}  # fmt: skip


class Money(BaseModel):
    """An amount in the currency's minor unit (cents): integers only, never floats."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=0, le=10**12, strict=True)
    currency: str

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if value not in MINOR_UNITS:
            raise ValueError("currency must be a supported ISO 4217 code, e.g. EUR or USD")
        return value


class NewProduct(BaseModel):
    """An admin's request to create a product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    description: str | None = Field(default=None, max_length=5000, pattern=r"^[^\x00]*$")
    # Shown in an <img>: only http(s), so no javascript: or data: URL reaches a page.
    image_url: HttpUrl | None = Field(default=None)
    price: Money


class ProductView(BaseModel):
    """The product object of the API."""

    model_config = ConfigDict(frozen=True)

    product_id: UUID
    name: str
    description: str | None
    image_url: str | None
    price: Money
