"""Programmes and their budget envelope. The envelope is changed only by conditional
updates, so that concurrent approvals can never commit more than it holds."""

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from voucher_service.core import audit, db
from voucher_service.core.clock import paris_today, utcnow
from voucher_service.core.formatting import euros, french_date
from voucher_service.programmes.errors import (
    BudgetBelowCommitted,
    BudgetExhausted,
    FrozenOnceOpen,
    NoOpenProgramme,
    ProgrammeAlreadyClosed,
    ProgrammeNameTaken,
    ProgrammeNotFound,
)
from voucher_service.programmes.models import Programme, ProgrammeRules, ProgrammeRulesVersion
from voucher_service.programmes.schemas import ProgrammeCreate, ProgrammeUpdate, RulesIn

RULE_FIELDS = set(ProgrammeRules.model_fields)


async def get(session: AsyncSession, programme_id: int) -> Programme:
    programme = await session.get(Programme, programme_id)
    if programme is None:
        raise ProgrammeNotFound(f"Aucun programme n°{programme_id}.")
    return programme


async def list_all(session: AsyncSession) -> list[Programme]:
    result = await session.execute(select(Programme).order_by(col(Programme.opens_on).desc()))
    return list(result.scalars())


async def open_on(session: AsyncSession, today: date) -> Programme:
    """The one programme open on that day; ambiguity is the caller's to resolve."""
    query = select(Programme).where(
        col(Programme.opens_on) <= today,
        col(Programme.closes_on) >= today,
        col(Programme.closed_at).is_(None),
    )
    programmes = list((await session.execute(query)).scalars())
    if len(programmes) != 1:
        raise NoOpenProgramme()
    return programmes[0]


async def _ensure_name_free(session: AsyncSession, name: str, other_than: int | None) -> None:
    query = select(col(Programme.id)).where(
        col(Programme.name) == name, col(Programme.id) != other_than
    )
    if (await session.execute(query)).first() is not None:
        raise ProgrammeNameTaken(f"« {name} » existe déjà.")


async def _snapshot_rules(session: AsyncSession, programme: Programme) -> None:
    assert programme.id is not None
    session.add(
        ProgrammeRulesVersion(
            programme_id=programme.id, version=programme.rules_version, rules=programme.rules()
        )
    )
    await session.flush()


@db.atomic
async def create(session: AsyncSession, body: ProgrammeCreate) -> Programme:
    await _ensure_name_free(session, body.name, None)
    programme = Programme(**body.model_dump())
    session.add(programme)
    await session.flush()
    await _snapshot_rules(session, programme)
    audit.record(
        session,
        "programme.created",
        "programme",
        programme.id,
        after=programme.model_dump(mode="json"),
    )
    return programme


# Once a programme has opened, applications were decided and cheques issued under these:
# changing them would rewrite what people were told. The French name of each field says why.
FROZEN_ONCE_OPEN = {
    "opens_on": "la date d'ouverture",
    "cheque_amount_cents": "le montant du chèque",
}


def _ensure_may_change(programme: Programme, changes: dict[str, Any]) -> None:
    """Refuse a change of what is frozen once the programme has opened."""
    if not programme.has_opened(paris_today()):
        return
    frozen = [
        label
        for field, label in FROZEN_ONCE_OPEN.items()
        if field in changes and changes[field] != getattr(programme, field)
    ]
    if frozen:
        raise FrozenOnceOpen(
            f"Le programme a ouvert le {french_date(programme.opens_on)} : "
            f"{' et '.join(frozen)} ne peuvent plus changer."
        )


@db.atomic
async def edit(session: AsyncSession, programme_id: int, body: ProgrammeUpdate) -> Programme:
    """Apply the changes, all or none; a change of rules makes a new rules version."""
    programme = await get(session, programme_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    before, old_rules = programme.model_dump(mode="json"), programme.rules()
    if "name" in changes:
        await _ensure_name_free(session, changes["name"], programme_id)
    new_rules = {key: value for key, value in changes.items() if key in RULE_FIELDS}
    rules = RulesIn.model_validate({**old_rules, **new_rules}).model_dump()
    _ensure_may_change(programme, changes)
    if "budget_cents" in changes:
        await _set_budget(session, programme, changes.pop("budget_cents"))
    for field, value in {**changes, **rules}.items():
        setattr(programme, field, value)
    if programme.rules() != old_rules:
        programme.rules_version += 1
        await _snapshot_rules(session, programme)
    await _changed(session, programme, "programme.edited", before)
    return programme


async def _changed(
    session: AsyncSession, programme: Programme, action: str, before: dict[str, Any]
) -> None:
    programme.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        action,
        "programme",
        programme.id,
        before=before,
        after=programme.model_dump(mode="json"),
    )


@db.atomic
async def close(session: AsyncSession, programme_id: int) -> Programme:
    """Close the programme to new applications from now on; its cheques and envelope stay."""
    programme = await get(session, programme_id)
    if programme.closed_at is not None:
        raise ProgrammeAlreadyClosed(
            f"Le programme a été clôturé le {french_date(paris_today(programme.closed_at))}."
        )
    before = programme.model_dump(mode="json")
    programme.closed_at = utcnow()
    await _changed(session, programme, "programme.closed", before)
    return programme


async def lock(session: AsyncSession, programme_ids: Collection[int]) -> None:
    """Lock the programmes' rows in id order. Approvals take their programme's row before
    the application's, so that concurrent approvals always lock in the same order."""
    query = (
        select(col(Programme.id))
        .where(col(Programme.id).in_(sorted(programme_ids)))
        .order_by(col(Programme.id))
        .with_for_update()
    )
    await session.execute(query)


async def _set_budget(session: AsyncSession, programme: Programme, budget_cents: int) -> None:
    """Change the envelope only if it still holds what is committed, decided by the
    database against approvals running at the same time; else BudgetBelowCommitted."""
    statement = (
        update(Programme)
        .where(col(Programme.id) == programme.id, col(Programme.committed_cents) <= budget_cents)
        .values(budget_cents=budget_cents)
        .returning(col(Programme.id))
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).first() is None:
        await session.refresh(programme, ["committed_cents"])
        raise BudgetBelowCommitted(
            f"{euros(programme.committed_cents)} sont déjà engagés en chèques : "
            f"l'enveloppe ne peut pas descendre à {euros(budget_cents)}."
        )
    await session.refresh(programme, ["budget_cents", "committed_cents"])


async def commit_budget(session: AsyncSession, programme_id: int, amount_cents: int) -> None:
    """Take an amount from the envelope, or raise BudgetExhausted; atomic on both engines."""
    statement = (
        update(Programme)
        .where(
            col(Programme.id) == programme_id,
            col(Programme.committed_cents) + amount_cents <= col(Programme.budget_cents),
        )
        .values(committed_cents=Programme.committed_cents + amount_cents)
        .returning(col(Programme.committed_cents))
    )
    if (await session.execute(statement)).first() is None:
        raise BudgetExhausted()
    await _refresh(session, programme_id)


async def release_budget(session: AsyncSession, programme_id: int, amount_cents: int) -> None:
    """Give an unused amount back to the envelope (a cancelled or expired cheque)."""
    statement = (
        update(Programme)
        .where(col(Programme.id) == programme_id)
        .values(committed_cents=Programme.committed_cents - amount_cents)
    )
    await session.execute(statement)
    await _refresh(session, programme_id)


async def _refresh(session: AsyncSession, programme_id: int) -> None:
    programme = await session.get(Programme, programme_id)
    if programme is not None:
        await session.refresh(programme, ["committed_cents"])
