"""What administrators do to the accounts of others, from the API and the back office alike:
open one (its owner chooses the password through an e-mailed link), change its role,
deactivate or reactivate it, send it a password reset link. Never to their own account,
so that no administrator locks themselves out."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit, db
from voucher_service.core.auth import reset, service
from voucher_service.core.auth.models import Role, User
from voucher_service.core.config import Settings
from voucher_service.core.errors import Conflict, NotFound
from voucher_service.core.notify import Notify


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "Compte introuvable"


class OwnAccount(Conflict):
    code = "own_account"
    title = "Vous ne pouvez pas modifier ainsi votre propre compte"


class AccountInactive(Conflict):
    code = "account_inactive"
    title = "Ce compte est désactivé"


async def list_accounts(session: AsyncSession) -> list[User]:
    result = await session.execute(select(User).order_by(col(User.email)))
    return list(result.scalars())


async def emails(session: AsyncSession, user_ids: Collection[int | None]) -> dict[int, str]:
    """The e-mail address of each of these accounts, to name who did what on a page."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    result = await session.execute(select(User).where(col(User.id).in_(wanted)))
    return {user.id: user.email for user in result.scalars() if user.id is not None}


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise AccountNotFound(f"Aucun compte n°{user_id}.")
    return user


async def _other(session: AsyncSession, admin: User, user_id: int) -> User:
    user = await get(session, user_id)
    if user.id == admin.id:
        raise OwnAccount(
            "Un autre administrateur doit le faire : vous ne pouvez ni changer le rôle de "
            "votre propre compte, ni le désactiver."
        )
    return user


@db.atomic
async def open_account(
    session: AsyncSession,
    settings: Settings,
    notify: Notify,
    email: str,
    role: Role,
    password: str | None = None,
) -> User:
    """A new login; without a password, its owner gets a link to choose one by e-mail."""
    user = await service.create_user(session, email, role, password)
    if password is None:
        await reset.send_link(session, settings, notify, user, "administrator", new_account=True)
    return user


@db.atomic
async def change_role(session: AsyncSession, admin: User, user_id: int, role: Role) -> User:
    """The new role; every session of the user ends."""
    user = await _other(session, admin, user_id)
    await service.change_role(session, user, role)
    return user


@db.atomic
async def set_active(session: AsyncSession, admin: User, user_id: int, active: bool) -> User:
    """Deactivating ends every session of the user; reactivating revives none."""
    user = await _other(session, admin, user_id)
    await service.set_active(session, user, active)
    return user


@db.atomic
async def send_reset_link(
    session: AsyncSession, settings: Settings, notify: Notify, user_id: int
) -> User:
    """Mail the user a link to choose a new password (a first one if it has none yet)."""
    user = await get(session, user_id)
    if not user.is_active:
        raise AccountInactive(
            "Réactivez d'abord le compte : un compte désactivé ne reçoit pas de lien."
        )
    first = user.password_hash is None
    await reset.send_link(session, settings, notify, user, "administrator", new_account=first)
    audit.record(session, "user.reset_link_sent", "user", user.id, after={"first_password": first})
    return user
