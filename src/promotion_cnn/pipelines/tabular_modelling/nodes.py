"""Nodes of the per-family template: evaluate the variants, select one, fit it, tune its threshold, evaluate it.

The machinery lives beside them: ``estimators`` (a variant's unfitted model), ``cross_validation`` (folds, fits,
out-of-fold scores, the variant table), ``thresholds`` (F1, the threshold rules), ``parallel`` (how fits run).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline

from promotion_cnn.tabular.scoring import predict_scores

from .cross_validation import SELECTION_METRICS, cross_validate_variants, fit_on_all_rows
from .estimators import build_estimator
from .params import ModelFamily, TabularProtocol
from .thresholds import choose_threshold, threshold_curve

logger = logging.getLogger(__name__)


def evaluate_variants(
    features: pd.DataFrame,
    target: pd.DataFrame,
    reducer: BaseEstimator | None,
    family: ModelFamily,
    protocol: TabularProtocol,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Pipeline]]:
    """Score every variant by training accuracy and cross-validation (``cross_validation.cross_validate_variants``)."""
    estimators = {variant: build_estimator(family, variant, reducer) for variant in family.variants}
    return cross_validate_variants(estimators, features, target, family, protocol)


def select_variant(variant_scores: pd.DataFrame, protocol: TabularProtocol) -> str:
    """Pick the variant with the best selection metric (first listed wins ties)."""
    metric = protocol.selection_metric
    if metric not in SELECTION_METRICS:
        raise ValueError(f"selection_metric must be one of {SELECTION_METRICS}, got {metric!r}")
    if metric not in variant_scores.columns:
        raise ValueError(f"selection_metric {metric!r} needs cross-validation: set cv_folds >= 2")
    best = variant_scores.loc[variant_scores[metric].idxmax()]
    logger.info("Selected variant %r (%s = %.4f)", best["variant"], metric, best[metric])
    return str(best["variant"])


def fit_selected_model(
    features: pd.DataFrame,
    target: pd.DataFrame,
    reducer: BaseEstimator | None,
    family: ModelFamily,
    selected: str,
    fitted_variants: dict[str, Pipeline],
    oof_scores: pd.DataFrame,
    protocol: TabularProtocol,
) -> tuple[Pipeline, pd.DataFrame]:
    """Fit the selected variant on every training row, with its out-of-fold scores (earlier fits reused)."""
    reused = oof_scores[selected].to_numpy() if selected in oof_scores.columns else None
    model, scores = fit_on_all_rows(
        build_estimator(family, selected, reducer),
        features,
        target,
        family,
        protocol,
        model=fitted_variants.get(selected),
        scores=reused,
    )
    return model, pd.DataFrame() if scores is None else pd.DataFrame({selected: scores})


def tune_threshold(
    model: Pipeline,
    features: pd.DataFrame,
    target: pd.DataFrame,
    selected_oof_scores: pd.DataFrame,
    protocol: TabularProtocol,
    family: ModelFamily,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Choose the decision threshold (``family.threshold``) on training predictions, out-of-fold by default."""
    y = target.iloc[:, 0].to_numpy()
    source = protocol.threshold_source
    if source == "out_of_fold":
        if selected_oof_scores.empty:
            raise ValueError("threshold_source 'out_of_fold' needs cross-validation: set cv_folds >= 2")
        scores = selected_oof_scores.iloc[:, 0].to_numpy()
    elif source == "in_sample":
        scores = predict_scores(model, features)
    else:
        raise ValueError(f"threshold_source must be 'out_of_fold' or 'in_sample', got {source!r}")
    curve = threshold_curve(y, scores)
    value = choose_threshold(family.threshold, y, scores, curve, model)
    predicted = scores >= value
    chosen = {
        "threshold": value,
        "method": family.threshold.method,
        "source": source,
        "score": "probability" if hasattr(model, "predict_proba") else "decision_function",
        "train_precision": float(precision_score(y, predicted, zero_division=0)),
        "train_recall": float(recall_score(y, predicted)),
        "train_f1": float(f1_score(y, predicted)),
    }
    logger.info("Threshold: %s", chosen)
    return chosen, curve


def evaluate_model(
    model: Pipeline, threshold: dict[str, Any], features: pd.DataFrame, target: pd.DataFrame, selected: str
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Test metrics at the tuned threshold, the confusion matrix, ROC and precision-recall curves, and the scores."""
    y = target.iloc[:, 0].to_numpy()
    scores = predict_scores(model, features)
    predicted = (scores >= threshold["threshold"]).astype(int)
    metrics = {
        "variant": selected,
        "threshold": threshold["threshold"],
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted)),
        "f1": float(f1_score(y, predicted)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "n_test": int(len(y)),
    }
    logger.info("Test metrics: %s", {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})
    matrix = (
        pd.DataFrame(
            confusion_matrix(y, predicted, labels=[0, 1]),
            index=["actual_0", "actual_1"],
            columns=["predicted_0", "predicted_1"],
        )
        .rename_axis("actual")
        .reset_index()
    )
    fpr, tpr, roc_thresholds = roc_curve(y, scores)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": roc_thresholds})
    precision, recall, pr_thresholds = precision_recall_curve(y, scores)
    pr = pd.DataFrame({"precision": precision, "recall": recall, "threshold": np.append(pr_thresholds, np.nan)})
    test_scores = pd.DataFrame({"score": scores, "recommended": predicted.astype(bool)}, index=features.index)
    return metrics, matrix, roc, pr, test_scores
