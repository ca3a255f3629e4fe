"""Nodes of the generic train -> select -> tune threshold -> evaluate template."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from kedro.utils import load_obj
from sklearn.base import BaseEstimator, clone
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
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

SELECTION_METRICS = ("cv_f1_tuned", "cv_f1", "cv_roc_auc", "cv_average_precision", "train_accuracy")


def build_estimator(family: dict[str, Any], variant: str, reducer: BaseEstimator | None) -> Pipeline:
    """Unfitted model pipeline: the (cloned) reducer, if the family uses it, then the classifier."""
    classifier = load_obj(family["estimator"])(**{**family.get("base_params", {}), **family["variants"][variant]})
    steps = list(clone(reducer).steps) if family.get("use_reducer", True) and reducer is not None else []
    return Pipeline([*steps, ("model", classifier)])


def predict_scores(model: BaseEstimator, features: pd.DataFrame) -> np.ndarray:
    """Positive-class scores: probabilities where the model has them, else decision values."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(features)[:, 1]
    return model.decision_function(features)


def default_threshold(model: BaseEstimator) -> float:
    """The model's own decision boundary: 0.5 on probabilities, 0 on decision values."""
    return 0.5 if hasattr(model, "predict_proba") else 0.0


def _f1_at_best_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    best = int(np.argmax(f1[:-1]))
    return float(f1[best]), float(thresholds[best])


def _fit_task(estimator: Pipeline, x: pd.DataFrame, y: np.ndarray, held_out: np.ndarray | None) -> dict:
    started = time.perf_counter()
    train = np.ones(len(y), bool) if held_out is None else ~held_out
    model = estimator.fit(x[train], y[train])
    result = {"model": model, "train_scores": predict_scores(model, x[train]), "threshold": default_threshold(model)}
    if held_out is not None:
        result["held_out_scores"] = predict_scores(model, x[held_out])
    result["seconds"] = time.perf_counter() - started
    return result


def evaluate_variants(
    features: pd.DataFrame,
    target: pd.DataFrame,
    reducer: BaseEstimator,
    family: dict[str, Any],
    protocol: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Pipeline]]:
    """Score every variant: training accuracy, and cross-validated F1, ROC AUC and out-of-fold scores."""
    y = target.iloc[:, 0].to_numpy()
    x = features.reset_index(drop=True)
    folds = int(protocol["cv_folds"])
    if folds >= 2:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=protocol["random_state"])
        held_out_masks = [np.isin(np.arange(len(y)), test) for _, test in splitter.split(x, y)]
    else:
        held_out_masks = [None]
    tasks = [(v, i, mask) for v in family["variants"] for i, mask in enumerate(held_out_masks)]
    logger.info("Fitting %d variants x %d fold(s) = %d fits on %d rows", len(family["variants"]),
                len(held_out_masks), len(tasks), len(y))  # fmt: skip
    results = Parallel(n_jobs=protocol["n_jobs"], verbose=protocol.get("progress", 5))(
        delayed(_fit_task)(build_estimator(family, v, reducer), x, y, mask) for v, _, mask in tasks
    )
    rows, oof, fitted = [], {}, {}
    for variant in family["variants"]:
        mine = [(mask, r) for (v, _, mask), r in zip(tasks, results) if v == variant]
        row = {"variant": variant, **{k: str(val) for k, val in family["variants"][variant].items()}}
        row["train_accuracy"] = float(np.mean(
            [accuracy_score(y[~m if m is not None else slice(None)], r["train_scores"] >= r["threshold"]) for m, r in mine]
        ))  # fmt: skip
        row["fit_seconds"] = float(sum(r["seconds"] for _, r in mine))
        if held_out_masks[0] is None:
            fitted[variant] = mine[0][1]["model"]
        else:
            scores = np.empty(len(y))
            for mask, r in mine:
                scores[mask] = r["held_out_scores"]
            oof[variant] = scores
            threshold = mine[0][1]["threshold"]
            row["cv_f1"] = float(np.mean([f1_score(y[m], r["held_out_scores"] >= threshold) for m, r in mine]))
            row["cv_roc_auc"] = float(np.mean([roc_auc_score(y[m], r["held_out_scores"]) for m, r in mine]))
            row["cv_average_precision"] = float(
                np.mean([average_precision_score(y[m], r["held_out_scores"]) for m, r in mine])
            )
            row["cv_f1_tuned"] = _f1_at_best_threshold(y, scores)[0]
        rows.append(row)
        logger.info("%s: %s", variant, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
    return pd.DataFrame(rows), pd.DataFrame(oof), fitted


def select_variant(variant_scores: pd.DataFrame, protocol: dict[str, Any]) -> str:
    """Pick the variant with the best selection metric (first listed wins ties)."""
    metric = protocol["selection_metric"]
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
    reducer: BaseEstimator,
    family: dict[str, Any],
    selected: str,
    fitted_variants: dict[str, Pipeline],
) -> Pipeline:
    """Fit the selected variant on the whole training part (reusing a fit made without CV)."""
    if selected in fitted_variants:
        return fitted_variants[selected]
    return build_estimator(family, selected, reducer).fit(features, target.iloc[:, 0].to_numpy())


def tune_threshold(
    model: Pipeline,
    features: pd.DataFrame,
    target: pd.DataFrame,
    oof_scores: pd.DataFrame,
    selected: str,
    protocol: dict[str, Any],
    threshold: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Choose the decision threshold on training predictions (out-of-fold by default) and keep the curve."""
    y = target.iloc[:, 0].to_numpy()
    source = protocol["threshold_source"]
    if source == "out_of_fold":
        if selected not in oof_scores.columns:
            raise ValueError("threshold_source 'out_of_fold' needs cross-validation: set cv_folds >= 2")
        scores = oof_scores[selected].to_numpy()
    elif source == "in_sample":
        scores = predict_scores(model, features)
    else:
        raise ValueError(f"threshold_source must be 'out_of_fold' or 'in_sample', got {source!r}")
    precision, recall, pr_thresholds = precision_recall_curve(y, scores)
    curve = pd.DataFrame({"threshold": pr_thresholds, "precision": precision[:-1], "recall": recall[:-1]})
    curve["f1"] = 2 * curve.precision * curve.recall / np.clip(curve.precision + curve.recall, 1e-12, None)
    method = threshold["method"]
    if method == "f1":
        value = float(curve.threshold[curve.f1.idxmax()])
    elif method == "youden":
        fpr, tpr, roc_thresholds = roc_curve(y, scores)
        value = float(roc_thresholds[np.argmax(tpr - fpr)])
    elif method == "default":
        value = default_threshold(model)
    elif method == "fixed":
        value = float(threshold["value"])
    else:
        raise ValueError(f"threshold method must be f1, youden, default or fixed, got {method!r}")
    predicted = scores >= value
    chosen = {
        "threshold": value,
        "method": method,
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
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Test metrics at the tuned threshold, the confusion matrix, and ROC and precision-recall curves."""
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
    matrix = pd.DataFrame(
        confusion_matrix(y, predicted, labels=[0, 1]), index=["actual_0", "actual_1"], columns=["predicted_0", "predicted_1"]
    ).rename_axis("actual").reset_index()
    fpr, tpr, roc_thresholds = roc_curve(y, scores)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": roc_thresholds})
    precision, recall, pr_thresholds = precision_recall_curve(y, scores)
    pr = pd.DataFrame({"precision": precision, "recall": recall, "threshold": np.append(pr_thresholds, np.nan)})
    return metrics, matrix, roc, pr
