from pydantic import BaseModel, ConfigDict, EmailStr, Field

from voucher_service.core.auth.models import Role
from voucher_service.core.auth.tokens import MAX_LINK_TOKEN_LENGTH, MIN_PASSWORD_LENGTH


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    role: Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    role: Role
    password: str | None = Field(
        default=None,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=200,
        description="Without one, the user gets a link to choose it by e-mail (valid 7 days)",
    )


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    is_active: bool


class PasswordResetAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_LINK_TOKEN_LENGTH)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class ResetMessage(BaseModel):
    """What a person is told, in French."""

    detail: str
