"""The review tools' API bodies: notes, correction requests and answers, the history."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voucher_service.applications.models import ApplicationStatus

TEXT_MAX = 2000


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=TEXT_MAX, description="Never shown to the applicant")


class CorrectionRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request: str = Field(
        min_length=3, max_length=TEXT_MAX, description="What is needed; e-mailed to the applicant"
    )


class CorrectionAnswerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    answer: str = Field(min_length=1, max_length=TEXT_MAX)


class HistoryEntry(BaseModel):
    """A note (staff only), a request, an answer, in time order."""

    model_config = ConfigDict(from_attributes=True)

    kind: Literal["note", "correction_request", "correction_answer"]
    at: datetime
    text: str
    author: str | None = Field(description="The staff member's e-mail; None for the applicant")


class CorrectionAnswered(BaseModel):
    status: ApplicationStatus
    detail: str
