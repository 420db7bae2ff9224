from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from voucher_service.core.clock import utcnow
from voucher_service.core.db import UTCDateTime, enum_column


class Role(StrEnum):
    admin = "admin"
    accountant = "accountant"
    expert = "expert"


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
