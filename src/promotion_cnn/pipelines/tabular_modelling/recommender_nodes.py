"""Nodes after the per-family template: fairness audit, choice of the recommender, permutation importance."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from .nodes import release_workers, single_threaded

logger = logging.getLogger(__name__)

CV_COLUMNS = ("cv_f1_tuned", "cv_f1", "cv_roc_auc", "cv_average_precision", "train_accuracy")


def audit_fairness(
    test_scores: pd.DataFrame,
    target_test: pd.DataFrame,
    employees: pd.DataFrame,
    fairness: dict[str, Any],
) -> pd.DataFrame:
    """Selection rate, recall (equal opportunity) and disparate impact per group of the protected attribute.

    ``test_scores`` are ``evaluate_model``'s (``recommended`` at the tuned threshold). The attribute (``gender``) is
    never a feature: it is looked up for the test rows, by row label, in the validated table the split came from.
    """
    attribute, reference = fairness["attribute"], fairness["reference_group"]
    if attribute not in employees.columns:
        logger.warning("fairness audit: the table has no '%s' column, no audit possible", attribute)
        return pd.DataFrame(
            columns=[
                "group",
                "n",
                "n_promoted",
                "selection_rate",
                "recall",
                "disparate_impact",
                "recall_difference",
                "flagged",
            ]
        )
    missing = test_scores.index.difference(employees.index)
    if len(missing):
        raise ValueError(
            f"fairness audit: {len(missing)} test row label(s) not in the validated table, e.g. {list(missing[:3])}"
        )
    groups = employees.loc[test_scores.index, attribute].astype("str").fillna("missing").to_numpy()
    actual = target_test.iloc[:, 0].to_numpy().astype(bool)
    chosen = test_scores["recommended"].to_numpy(bool)
    rows = []
    for group in sorted(set(groups)):
        member = groups == group
        positives = member & actual
        rows.append(
            {
                "group": group,
                "n": int(member.sum()),
                "n_promoted": int(positives.sum()),
                "selection_rate": float(chosen[member].mean()),
                "recall": float(chosen[positives].mean()) if positives.any() else float("nan"),
            }
        )
    table = pd.DataFrame(rows)
    if reference not in set(table.group):
        raise ValueError(
            f"fairness audit: reference group {reference!r} not among {attribute} values {list(table.group)}"
        )
    base = table.set_index("group").loc[reference]
    table["disparate_impact"] = table.selection_rate / base.selection_rate if base.selection_rate > 0 else np.nan
    table["recall_difference"] = table.recall - base.recall
    low, high = fairness["disparate_impact_bounds"]
    table["flagged"] = ~table.disparate_impact.between(low, high)
    flagged = table[table.flagged]
    if not flagged.empty:
        logger.warning(
            "Disparate impact outside [%s, %s] for %s: %s",
            low,
            high,
            attribute,
            dict(zip(flagged.group, flagged.disparate_impact.round(3))),
        )
    return table


def combine_family_tables(**tables: pd.DataFrame) -> pd.DataFrame:
    """Stack per-family tables into one, with a leading ``family`` column."""
    return pd.concat([t.assign(family=f) for f, t in tables.items()], ignore_index=True).pipe(
        lambda t: t[["family", *[c for c in t.columns if c != "family"]]]
    )


def describe_candidate(
    model: Pipeline,
    threshold: dict[str, Any],
    selected: str,
    variant_scores: pd.DataFrame,
    test_metrics: dict[str, Any],
    features_train: pd.DataFrame,
) -> dict[str, Any]:
    """One family's fitted model, threshold, cross-validated scores and input schema, for the recommender choice."""
    scores = variant_scores.set_index("variant").loc[selected]
    return {
        "variant": selected,
        "model": model,
        "threshold": threshold,
        "cv": {k: float(scores[k]) for k in CV_COLUMNS if k in scores.index},
        "test_metrics": test_metrics,
        "feature_columns": list(map(str, features_train.columns)),
        "categories": {
            str(c): [str(v) for v in features_train[c].cat.categories]
            for c in features_train.columns
            if isinstance(features_train[c].dtype, pd.CategoricalDtype)
        },
        "dtypes": {str(c): str(t) for c, t in features_train.dtypes.items()},
    }


def select_recommender(
    protocol: dict[str, Any], **candidates: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """Pick the family with the best cross-validated selection metric (training data only; test never used).

    Returns the recommender (model, threshold and input schema, pickled), a JSON summary and a comparison table
    in which the test metrics of every family are shown for the report but play no part in the choice.
    """
    metric = protocol["selection_metric"]
    rows = []
    for family, candidate in candidates.items():
        if metric not in candidate["cv"]:
            raise ValueError(f"selection_metric {metric!r} not scored for family {family!r}: set cv_folds >= 2")
        rows.append(
            {
                "family": family,
                "variant": candidate["variant"],
                **candidate["cv"],
                "threshold": candidate["threshold"]["threshold"],
                **{f"test_{k}": candidate["test_metrics"][k] for k in ("precision", "recall", "f1", "roc_auc")},
            }
        )
    comparison = pd.DataFrame(rows)
    best_family = str(comparison.loc[comparison[metric].idxmax(), "family"])
    best = candidates[best_family]
    recommender = {"family": best_family, **{k: v for k, v in best.items() if k not in ("cv", "test_metrics")}}
    summary = {
        "family": best_family,
        "variant": best["variant"],
        "selection_metric": metric,
        "selection_score": best["cv"][metric],
        "cross_validated": best["cv"],
        "candidates": {r["family"]: {"variant": r["variant"], metric: r[metric]} for r in rows},
        "threshold": best["threshold"],
        "test_metrics": best["test_metrics"],
        "feature_columns": best["feature_columns"],
    }
    logger.info("Recommender: %s/%s (%s = %.4f)", best_family, best["variant"], metric, best["cv"][metric])
    return recommender, summary, comparison


def explain_recommender(
    recommender: dict[str, Any], features_test: pd.DataFrame, target_test: pd.DataFrame, explanation: dict[str, Any]
) -> pd.DataFrame:
    """Permutation importance of the recommender's input columns (original names, not components) on the test part."""
    with single_threaded():
        result = permutation_importance(
            recommender["model"],
            features_test[recommender["feature_columns"]],
            target_test.iloc[:, 0].to_numpy(),
            scoring=explanation["scoring"],
            n_repeats=explanation["n_repeats"],
            random_state=explanation["random_state"],
            n_jobs=explanation.get("n_jobs", 1),
        )
    release_workers()
    table = pd.DataFrame(
        {
            "feature": recommender["feature_columns"],
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    ).sort_values("importance_mean", ascending=False, ignore_index=True)
    logger.info(
        "Permutation importance (%s): %s",
        explanation["scoring"],
        dict(zip(table.feature, table.importance_mean.round(4))),
    )
    return table
