"""The applicant's API, authorised by the status link's token (it has no account)."""

from fastapi import APIRouter

from voucher_service.applications import review
from voucher_service.applications.errors import ApplicationNotFound, NoCorrectionRequested
from voucher_service.applications.review_schemas import CorrectionAnswerCreate, CorrectionAnswered
from voucher_service.core.db import DbSession
from voucher_service.core.errors import problem_responses

router = APIRouter(prefix="/api/v1/status", tags=["applications"])
ANSWERED = "Votre réponse a été transmise à l'instructeur, qui reprend l'examen de la demande."


@router.post(
    "/{token}/correction",
    summary="Answer the correction staff asked for; the status link's token authorises",
    description="The application goes back to the review queue (needs_review). Once "
    "answered, it cannot be answered again until staff ask anew.",
    responses=problem_responses(ApplicationNotFound, NoCorrectionRequested),
)
async def answer_correction(
    token: str, body: CorrectionAnswerCreate, session: DbSession
) -> CorrectionAnswered:
    application = await review.answer_correction(session, token, body.answer)
    return CorrectionAnswered(status=application.status, detail=ANSWERED)
