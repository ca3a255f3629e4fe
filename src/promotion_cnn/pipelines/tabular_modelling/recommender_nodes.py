"""Nodes after the per-family template: the choice of the recommender and its permutation importance."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from promotion_cnn.tabular.scoring import single_threaded

from .cross_validation import SELECTION_METRICS
from .parallel import release_workers
from .params import PermutationImportanceParams, TabularProtocol

logger = logging.getLogger(__name__)


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
        "cv": {k: float(scores[k]) for k in SELECTION_METRICS if k in scores.index},
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
    protocol: TabularProtocol, **candidates: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """Pick the family with the best cross-validated selection metric (training data only; test never used).

    Returns the recommender (model, threshold and input schema, pickled), a JSON summary and a comparison table
    in which the test metrics of every family are shown for the report but play no part in the choice.
    """
    metric = protocol.selection_metric
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
    recommender: dict[str, Any],
    features_test: pd.DataFrame,
    target_test: pd.DataFrame,
    explanation: PermutationImportanceParams,
) -> pd.DataFrame:
    """Permutation importance of the recommender's input columns (original names, not components) on the test part."""
    with single_threaded():
        result = permutation_importance(
            recommender["model"],
            features_test[recommender["feature_columns"]],
            target_test.iloc[:, 0].to_numpy(),
            scoring=explanation.scoring,
            n_repeats=explanation.n_repeats,
            random_state=explanation.random_state,
            n_jobs=explanation.n_jobs,
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
        explanation.scoring,
        dict(zip(table.feature, table.importance_mean.round(4))),
    )
    return table
