from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column
from voucher_service.core.roles import Role as Role  # re-exported with the accounts


class UserBase(SQLModel):
    email: str = Field(max_length=254, unique=True, index=True)
    role: Role = Field(sa_type=enum_column(Role))
    is_active: bool = True


class User(UserBase, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str | None = Field(default=None, max_length=200)
    # Carried as the `ep` claim of every token issued to the user; raising it refuses them all.
    session_epoch: int = 0
    # The TOTP secret, encrypted (see second_factor); None while no second factor is enrolled.
    totp_secret: str | None = Field(default=None, max_length=300)
    # The latest time step whose code was accepted: a code never works twice.
    totp_last_step: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """A failed login, kept to slow down guessing per account and per address."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    address: str = Field(max_length=64, index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class LoginSuccess(SQLModel, table=True):
    """An account's latest successful login from an address: its owner coming back from
    there is not slowed down by the failures of others elsewhere."""

    __tablename__ = "login_success"
    __table_args__ = (UniqueConstraint("email", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    address: str = Field(max_length=64)
    last_login_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OneTimeLinkBase(SQLModel):
    """A link that sets a user's password once before it expires; only its hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordReset(OneTimeLinkBase, table=True):
    """A link to choose a new password, asked for from ``address``."""

    __tablename__ = "password_reset"

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    address: str = Field(max_length=64)


class PasswordResetRequest(SQLModel, table=True):
    """Every reset asked for, whether or not the account exists: the throttle counts them."""

    __tablename__ = "password_reset_request"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    address: str = Field(max_length=64, index=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for the second factor; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
