"""Decision thresholds: the F1 formula (once), the best F1 over thresholds, and the threshold rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import precision_recall_curve, roc_curve

from .params import ThresholdRule


def f1_from(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """F1 at each point of a precision-recall curve (0 where precision and recall are both 0)."""
    return 2 * precision * recall / np.clip(precision + recall, 1e-12, None)


def best_f1(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The highest F1 over all thresholds of the precision-recall curve."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.max(f1_from(precision, recall)))


def threshold_curve(y_true: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Precision, recall and F1 at every threshold of the precision-recall curve."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    curve = pd.DataFrame({"threshold": thresholds, "precision": precision[:-1], "recall": recall[:-1]})
    curve["f1"] = f1_from(curve.precision, curve.recall)
    return curve


def default_threshold(model: BaseEstimator) -> float:
    """The model's own decision boundary: 0.5 on probabilities, 0 on decision values."""
    return 0.5 if hasattr(model, "predict_proba") else 0.0


def choose_threshold(
    rule: ThresholdRule, y_true: np.ndarray, scores: np.ndarray, curve: pd.DataFrame, model: BaseEstimator
) -> float:
    """The threshold of ``rule.method``: max F1 on ``curve``, Youden's J on the ROC curve, the default, or fixed."""
    method = rule.method
    if method == "f1":
        return float(curve.threshold[curve.f1.idxmax()])
    if method == "youden":
        fpr, tpr, roc_thresholds = roc_curve(y_true, scores)
        return float(roc_thresholds[np.argmax(tpr - fpr)])
    if method == "default":
        return default_threshold(model)
    if method == "fixed":
        return float(rule.value)
    raise ValueError(f"threshold method must be f1, youden, default or fixed, got {method!r}")
