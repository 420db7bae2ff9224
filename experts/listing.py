"""What the back office reads about experts: a filtered page of them, the choices of its
filters, one expert's accreditation history with who decided, and its redemptions."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from experts import repository
from experts.models import Accreditation, AccreditationChange, Expert, PayoutState, RedemptionStatus
from experts.schemas import ExpertFilters


@dataclass(frozen=True)
class Decision:
    """One step of the accreditation history, as people read it."""

    to_status: Accreditation
    from_status: Accreditation | None
    decided_at: datetime
    decided_by: str | None
    reason: str | None


@dataclass
class RedemptionsSummary:
    """The expert's active redemptions by payout state (count, cents), and the undone ones."""

    by_payout: dict[PayoutState, tuple[int, int]] = field(default_factory=dict)
    cancelled: int = 0

    @property
    def active(self) -> int:
        return sum(count for count, _cents in self.by_payout.values())


async def search(
    session: AsyncSession, filters: ExpertFilters, page: int = 1, per_page: int | None = None
) -> tuple[list[Expert], int]:
    """The experts matching the filters, by name: one page of them (all without
    ``per_page``), and how many match."""
    offset = (page - 1) * per_page if per_page else 0
    return await repository.experts(session, filters, offset, per_page)


async def filter_choices(session: AsyncSession) -> tuple[list[str], list[str]]:
    """The themes and départements that some expert has, sorted."""
    themes: set[str] = set()
    departments: set[str] = set()
    for expert_themes, expert_departments in await repository.themes_and_departments(session):
        themes.update(expert_themes)
        departments.update(expert_departments)
    return sorted(themes), sorted(departments)


def _decision(change: AccreditationChange, decided_by: str | None) -> Decision:
    return Decision(
        to_status=change.to_status,
        from_status=change.from_status,
        decided_at=change.decided_at,
        decided_by=decided_by,
        reason=change.reason,
    )


async def decisions(session: AsyncSession, expert_id: int) -> list[Decision]:
    """The accreditation history, the newest first, with the e-mail of who decided."""
    rows = await repository.changes_with_deciders(session, expert_id)
    return [_decision(change, email) for change, email in rows]


async def suspension_reason(session: AsyncSession, expert: Expert) -> str | None:
    """Why a suspended expert is suspended: the reason of its last suspension."""
    if expert.status is not Accreditation.suspended or expert.id is None:
        return None
    for change, _email in await repository.changes_with_deciders(session, expert.id):
        if change.to_status is Accreditation.suspended:
            return change.reason
    return None


async def redemptions_summary(session: AsyncSession, expert_id: int) -> RedemptionsSummary:
    summary = RedemptionsSummary()
    for status, payout, count, cents in await repository.redemption_totals(session, expert_id):
        if status is RedemptionStatus.cancelled:
            summary.cancelled += count
            continue
        known_count, known_cents = summary.by_payout.get(payout, (0, 0))
        summary.by_payout[payout] = (known_count + count, known_cents + cents)
    return summary
