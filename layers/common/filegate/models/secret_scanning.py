"""GitHub secret scanning (docs/api.md §9): the findings GitHub posts and the feedback it reads back."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from filegate.models.base import ResponseBody
from filegate.secret_scanning.service import MAX_RECORDS


class ReportedToken(BaseModel):
    """One finding, in GitHub's words (fields it adds are read past, never refused)."""

    model_config = ConfigDict(extra="allow")

    token: str
    type: str | None = None
    url: str | None = None
    source: str | None = None


Findings = Annotated[list[ReportedToken], Field(max_length=MAX_RECORDS)]


class Feedback(ResponseBody):
    token_hash: str
    token_type: str
    label: Literal["true_positive", "false_positive"]
