"""Nodes of promotion_scoring: validate a table of current employees, score and rank them, summarise."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from promotion_cnn.params import EmployeesSchema
from promotion_cnn.tabular.scoring import predict_scores
from promotion_cnn.tabular.tables import InvalidTableError, validate_table

from .params import PromotionScoring

logger = logging.getLogger(__name__)

UNSEEN_LEVELS = ("warn", "error")
SHOWN_IDS = 5  # employee ids named per column in an empty-cell warning or error


def _source(table: pd.DataFrame) -> str:
    return table.attrs.get("source", "the table to score")


def validate_employees_to_score(table: pd.DataFrame, schema: EmployeesSchema) -> pd.DataFrame:
    """Prepare like the training table (its catalog contract has no target and skips ``optional_columns``)."""
    target = schema.target
    if target in table.columns:
        logger.warning("%s: has a '%s' column; it is ignored when scoring", _source(table), target)
    return validate_table(table, schema)


def align_features(features: pd.DataFrame, recommender: dict[str, Any], unseen_levels: str) -> pd.DataFrame:
    """The recommender's input columns in its order and dtypes; category levels it never saw are handled by policy.

    ``unseen_levels: error`` stops with the column and levels; ``warn`` logs them and scores those cells as an
    unknown level (missing category for gradient boosting, all-zero one-hot for logistic regression).
    """
    if unseen_levels not in UNSEEN_LEVELS:
        raise ValueError(f"unseen_levels must be one of {UNSEEN_LEVELS}, got {unseen_levels!r}")
    source = _source(features)
    missing = [c for c in recommender["feature_columns"] if c not in features.columns]
    if missing:
        raise InvalidTableError(f"{source}: column(s) {missing} missing, the recommender was trained on them")
    aligned = features[recommender["feature_columns"]].copy()
    for column, known in recommender["categories"].items():
        values = aligned[column].astype("str")
        unseen = values.notna() & ~values.isin(known)
        if unseen.any():
            levels = sorted(values[unseen].unique())
            message = (
                f"{source}: column '{column}' has level(s) {levels} the recommender never saw "
                f"({int(unseen.sum())} row(s))"
            )
            if unseen_levels == "error":
                raise InvalidTableError(message)
            logger.warning("%s; scored as an unknown level", message)
        aligned[column] = pd.Categorical(values.where(~unseen), categories=known)
    return aligned


def check_empty_cells(
    features: pd.DataFrame, employees: pd.DataFrame, columns: list[str], id_column: str, empty_cells: str
) -> None:
    """Log (``warn``) or stop on (``error``) empty cells in the recommender's input columns, per column with ids.

    Cells the feature nodes fill (``fill_values``) are never empty here; the others are scored as missing values
    (gradient boosting: its missing-value branch; logistic regression: an all-zero one-hot for a category).
    """
    source = _source(features)
    for column in [c for c in columns if c in features.columns]:
        empty = features.index[features[column].isna()]
        if empty.empty:
            continue
        ids = employees.loc[empty, id_column].tolist()
        message = (
            f"{source}: column '{column}' has {len(ids)} empty cell(s), {id_column} "
            f"{ids[:SHOWN_IDS]}{' ...' if len(ids) > SHOWN_IDS else ''}"
        )
        if empty_cells == "error":
            raise InvalidTableError(message)
        logger.warning("%s; scored as a missing value", message)


def score_employees(
    recommender: dict[str, Any], features: pd.DataFrame, employees: pd.DataFrame, scoring: PromotionScoring
) -> pd.DataFrame:
    """Rank employees by promotion probability and flag those at or above the recommender's tuned threshold; each
    row names the model (family/variant) and its version (the run that trained it)."""
    columns = recommender["feature_columns"]
    check_empty_cells(features, employees, columns, scoring.id_column, scoring.empty_cells)
    aligned = align_features(features, recommender, scoring.unseen_levels)
    threshold = recommender["threshold"]["threshold"]
    table = pd.DataFrame(
        {
            scoring.id_column: employees.loc[aligned.index, scoring.id_column].to_numpy(),
            "probability": predict_scores(recommender["model"], aligned),
        }
    )
    table["recommended"] = table.probability >= threshold
    table = table.sort_values(["probability", scoring.id_column], ascending=[False, True], ignore_index=True)
    table["rank"] = range(1, len(table) + 1)
    table["model"] = f"{recommender['family']}/{recommender['variant']}"
    table["model_version"] = recommender.get("version", "unsaved")
    logger.info(
        "Scored %d employees with %s version %s: %d recommended (threshold %.4f)",
        len(table),
        table["model"].iat[0] if len(table) else recommender["family"],
        recommender.get("version", "unsaved"),
        int(table.recommended.sum()),
        threshold,
    )
    return table


def summarise_recommendations(
    recommendations: pd.DataFrame, employees: pd.DataFrame, scoring: PromotionScoring
) -> pd.DataFrame:
    """How many employees are recommended, per group (``summary_by``, e.g. department) and in total."""
    by, id_column = scoring.summary_by, scoring.id_column
    if by not in employees.columns:
        logger.warning("%s: no '%s' column, the summary has the total only", _source(employees), by)
        employees = employees.assign(**{by: "all"})
    groups = employees.set_index(id_column)[by].astype("str").fillna("missing")
    table = recommendations.assign(**{by: recommendations[id_column].map(groups)})
    summary = (
        table.groupby(by)
        .agg(
            n_employees=("recommended", "size"),
            n_recommended=("recommended", "sum"),
            mean_probability=("probability", "mean"),
        )
        .reset_index()
    )
    total = pd.DataFrame(
        [
            {
                by: "all",
                "n_employees": len(table),
                "n_recommended": int(table.recommended.sum()),
                "mean_probability": float(table.probability.mean()),
            }
        ]
    )
    summary = pd.concat([summary, total], ignore_index=True)
    summary["share_recommended"] = summary.n_recommended / summary.n_employees
    return summary
