"""The form that chooses a new password through a one-time link (invitation, reset)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from voucher_service.core.auth.tokens import new_password_errors
from voucher_service.web.rendering import check_csrf


@dataclass(frozen=True)
class NewPassword:
    password: str
    errors: dict[str, str]


async def new_password_form(
    request: Request,
    password: Annotated[str, Form(max_length=200)] = "",
    password_confirm: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> NewPassword:
    check_csrf(request, csrf_token)
    return NewPassword(password, new_password_errors(password, password_confirm))


NewPasswordForm = Annotated[NewPassword, Depends(new_password_form)]
