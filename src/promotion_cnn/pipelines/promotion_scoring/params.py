"""Typed parameters of promotion_scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promotion_cnn.params import Params


class PromotionScoring(Params):
    """How current employees are scored and summarised (``promotion_scoring``)."""

    id_column: str = Field(description="The employee identifier, kept beside each score.")
    unseen_levels: Literal["warn", "error"] = Field(
        default="warn",
        description="A category level the recommender never saw: warn (log, score as unknown) or error (stop).",
    )
    empty_cells: Literal["warn", "error"] = Field(
        default="warn",
        description="An empty cell in a feature column: warn (log count and ids, score as missing) or error (stop).",
    )
    optional_columns: list[str] = Field(
        default=[], description="Required for training (e.g. gender, for the audit), not for scoring."
    )
    summary_by: str = Field(description='Summary rows per value of this column, plus "all".')
