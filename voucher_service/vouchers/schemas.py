from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from voucher_service.vouchers.models import Voucher, VoucherStatus
from voucher_service.vouchers.validity import end_of_validity


class VoucherEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    occurred_at: datetime
    action: str = Field(description="issued, redeemed, redemption_undone, paid, unpaid, ...")
    status: VoucherStatus = Field(description="The status after this step")
    amount_cents: int | None = Field(
        description="Redeemed or given back; for cancelled and expired, returned to the envelope"
    )
    balance_cents: int
    actor_role: str
    actor_label: str
    reason: str | None


class VoucherSummary(BaseModel):
    id: int
    code: str
    status: VoucherStatus = Field(description="As seen today: past its last day, it is expired")
    programme_id: int
    application_id: int
    company_name: str
    siret: str
    amount_cents: int
    balance_cents: int
    valid_from: date
    valid_until: date = Field(description="Last valid day, included (Europe/Paris)")
    expires_at: datetime = Field(description="The instant it stops being valid (UTC)")
    issued_at: datetime

    @classmethod
    def fields_of(cls, voucher: Voucher, today: date) -> dict[str, Any]:
        return {
            **voucher.model_dump(),
            "status": voucher.status_on(today),
            "expires_at": end_of_validity(voucher.valid_until),
        }

    @classmethod
    def of(cls, voucher: Voucher, today: date) -> Self:
        return cls.model_validate(cls.fields_of(voucher, today))


class VoucherPublic(VoucherSummary):
    beneficiary_email: str
    token: str = Field(description="The signed JWS the QR carries, after {public_url}/r/")
    key_id: str
    redeemed_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None
    cancel_reason: str | None
    history: list[VoucherEventPublic]


class VoucherPage(BaseModel):
    items: list[VoucherSummary]
    total: int
    page: int
    page_size: int


class VoucherCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=3, max_length=500, description="Kept in the cheque's history")


class JsonWebKey(BaseModel):
    """An RFC 8037 OKP public key."""

    kty: str = "OKP"
    crv: str = "Ed25519"
    x: str
    kid: str
    use: str = "sig"
    alg: str = "EdDSA"


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]
