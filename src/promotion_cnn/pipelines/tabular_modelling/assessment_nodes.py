"""Nodes that assess a family's test predictions: fairness (fairlearn), calibration, metrics with intervals.

Point estimates come from fairlearn's ``MetricFrame`` and scikit-learn's metrics. The 95 % intervals come from
one percentile bootstrap over the test rows, vectorised here: fairlearn's own ``MetricFrame(n_boot=200)`` took
85 s for one attribute on the 13,702 test rows of the real table (it rebuilds the frame per resample), this
takes well under a second and gives every figure (per group, differences, ratios, equalized odds) from the same
resamples.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import brier_score_loss, roc_auc_score

from promotion_cnn.params import Fairness

from .params import Bootstrap, CalibrationCheck

logger = logging.getLogger(__name__)

GROUP_METRICS = {"selection_rate": selection_rate, "recall": true_positive_rate, "fpr": false_positive_rate}
AUDIT_COLUMNS = [
    "attribute",
    "role",
    "group",
    "n",
    "n_promoted",
    *[f"{m}{s}" for m in GROUP_METRICS for s in ("", "_low", "_high")],
    "disparate_impact",
    "disparate_impact_low",
    "disparate_impact_high",
    "recall_difference",
    "flagged",
]
DISPARITIES = {  # name -> (per-group metric, difference or ratio)
    "demographic_parity_difference": ("selection_rate", "difference"),
    "demographic_parity_ratio": ("selection_rate", "ratio"),
    "equal_opportunity_difference": ("recall", "difference"),
    "equal_opportunity_ratio": ("recall", "ratio"),
}


def _bootstrap_rows(n_rows: int, bootstrap: Bootstrap) -> np.ndarray:
    """``n_boot`` resamples of the row positions, with replacement (seeded)."""
    rng = np.random.default_rng(bootstrap.seed)
    return rng.integers(0, n_rows, size=(bootstrap.n_boot, n_rows))


def _rates(y: np.ndarray, chosen: np.ndarray, member: np.ndarray) -> dict[str, np.ndarray]:
    """Selection rate, recall and false-positive rate of one group, along the last axis (any leading shape)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "selection_rate": (chosen & member).sum(-1) / member.sum(-1),
            "recall": (chosen & member & y).sum(-1) / (member & y).sum(-1),
            "fpr": (chosen & member & ~y).sum(-1) / (member & ~y).sum(-1),
        }


def _quantiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    finite = samples[np.isfinite(samples)]
    if not len(finite):
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def _attributes(employees: pd.DataFrame, rows: pd.Index, fairness: Fairness) -> dict[str, tuple[str, Any]]:
    """attribute -> (role, group labels of the test rows): protected attributes first, then possible proxies."""
    found: dict[str, tuple[str, Any]] = {}
    if fairness.attribute in employees.columns:
        found[fairness.attribute] = ("protected", employees.loc[rows, fairness.attribute])
    else:
        logger.warning("fairness audit: the table has no '%s' column, it is not audited", fairness.attribute)
    bands = fairness.age_bands
    if bands and bands.column in employees.columns:
        edges = bands.edges
        labels = [f"{low}-{high - 1}" for low, high in zip(edges[:-1], edges[1:])]
        found["age_band"] = (
            "protected",
            pd.cut(employees.loc[rows, bands.column], edges, right=False, labels=labels),
        )
    for column in fairness.proxies:
        if column in employees.columns:
            found[column] = ("proxy", employees.loc[rows, column])
    return {name: (role, groups.astype("str").fillna("missing").to_numpy()) for name, (role, groups) in found.items()}


def _reference(attribute: str, groups: np.ndarray, fairness: Fairness, rates: pd.Series) -> str:
    """The group others are compared with: configured for gender and age, the largest group otherwise."""
    configured = {fairness.attribute: fairness.reference_group}
    if fairness.age_bands:
        configured["age_band"] = fairness.age_bands.reference_group
    reference = configured.get(attribute) or pd.Series(groups).value_counts().idxmax()
    if reference not in rates.index:
        raise ValueError(
            f"fairness audit: reference group {reference!r} not among {attribute} values {list(rates.index)}"
        )
    return str(reference)


def audit_fairness(
    test_scores: pd.DataFrame,
    target_test: pd.DataFrame,
    employees: pd.DataFrame,
    fairness: Fairness,
    bootstrap: Bootstrap,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per group of each protected attribute (gender, age band) and possible proxy (region, department): selection
    rate, recall, false-positive rate and disparate impact with 95 % bootstrap intervals; and per attribute the
    demographic-parity, equal-opportunity and equalized-odds differences and ratios (fairlearn), with intervals.

    ``test_scores`` are ``evaluate_model``'s (``recommended`` at the tuned threshold). The attributes are never
    features: they are looked up for the test rows, by row label, in the validated table the split came from.
    A protected group whose disparate impact is outside ``disparate_impact_bounds`` is flagged (four-fifths rule).
    """
    missing = test_scores.index.difference(employees.index)
    if len(missing):
        raise ValueError(
            f"fairness audit: {len(missing)} test row label(s) not in the validated table, e.g. {list(missing[:3])}"
        )
    y = target_test.iloc[:, 0].to_numpy().astype(bool)
    chosen = test_scores["recommended"].to_numpy(bool)
    low_bound, high_bound = fairness.disparate_impact_bounds
    resamples = _bootstrap_rows(len(y), bootstrap)
    y_boot, chosen_boot = y[resamples], chosen[resamples]
    groups_table, summary = [], []
    for attribute, (role, groups) in _attributes(employees, test_scores.index, fairness).items():
        metric_frame = MetricFrame(
            metrics={**GROUP_METRICS, "n": count}, y_true=y, y_pred=chosen, sensitive_features=groups
        )
        frame = metric_frame.by_group
        reference = _reference(attribute, groups, fairness, frame["selection_rate"])
        boot = {str(g): _rates(y_boot, chosen_boot, groups[resamples] == g) for g in frame.index}
        for group, point in frame.iterrows():
            row = {"attribute": attribute, "role": role, "group": str(group), "n": int(point["n"])}
            row["n_promoted"] = int((y & (groups == group)).sum())
            for metric in GROUP_METRICS:
                row[metric] = float(point[metric])
                row[f"{metric}_low"], row[f"{metric}_high"] = _quantiles(boot[str(group)][metric], bootstrap.confidence)
            with np.errstate(invalid="ignore", divide="ignore"):
                impact = boot[str(group)]["selection_rate"] / boot[reference]["selection_rate"]
            base = frame.loc[reference]
            row["disparate_impact"] = (
                float(point["selection_rate"] / base["selection_rate"]) if base["selection_rate"] else np.nan
            )
            row["disparate_impact_low"], row["disparate_impact_high"] = _quantiles(impact, bootstrap.confidence)
            row["recall_difference"] = float(point["recall"] - base["recall"])
            row["flagged"] = bool(role == "protected" and not low_bound <= row["disparate_impact"] <= high_bound)
            groups_table.append(row)
        summary.append(_disparities(attribute, role, metric_frame, boot, bootstrap.confidence))
    table = pd.DataFrame(groups_table, columns=AUDIT_COLUMNS)
    flagged = table[table.flagged]
    if not flagged.empty:
        logger.warning(
            "Disparate impact outside [%s, %s]: %s",
            low_bound,
            high_bound,
            {f"{a}={g}": round(d, 3) for a, g, d in zip(flagged.attribute, flagged.group, flagged.disparate_impact)},
        )
    return table, pd.DataFrame(summary)


def _disparities(
    attribute: str,
    role: str,
    frame: MetricFrame,
    boot: dict[str, dict[str, np.ndarray]],
    confidence: float,
) -> dict[str, Any]:
    """fairlearn's between-group differences and ratios of one attribute, each with a bootstrap interval.

    Equalized odds as fairlearn's ``equalized_odds_difference`` / ``_ratio`` define it (the worst of the
    true- and false-positive-rate differences / ratios), from the attribute's one ``MetricFrame``: each of
    those functions builds its own frame (12 extra frames per family, ~3/4 of this node's time).
    """
    row: dict[str, Any] = {"attribute": attribute, "role": role, "n_groups": len(frame.by_group)}
    stacked = {m: np.stack([b[m] for b in boot.values()]) for m in GROUP_METRICS}  # groups x resamples
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample without any member of a small group
        spread = {m: (np.nanmax(v, 0) - np.nanmin(v, 0), np.nanmin(v, 0) / np.nanmax(v, 0)) for m, v in stacked.items()}
    for name, (metric, kind) in DISPARITIES.items():
        row[name] = float(getattr(frame, kind)()[metric])
        row[f"{name}_low"], row[f"{name}_high"] = _quantiles(spread[metric][kind == "ratio"], confidence)
    # Python's max / min over (TPR, FPR), as fairlearn takes them: NaN when the TPR's is NaN
    row["equalized_odds_difference"] = float(max(frame.difference()[["recall", "fpr"]]))
    row["equalized_odds_ratio"] = float(min(frame.ratio()[["recall", "fpr"]]))
    eo_difference = np.fmax(spread["recall"][0], spread["fpr"][0])
    eo_ratio = np.fmin(spread["recall"][1], spread["fpr"][1])
    row["equalized_odds_difference_low"], row["equalized_odds_difference_high"] = _quantiles(eo_difference, confidence)
    row["equalized_odds_ratio_low"], row["equalized_odds_ratio_high"] = _quantiles(eo_ratio, confidence)
    return row


def _counted(y: np.ndarray, chosen: np.ndarray) -> dict[str, np.ndarray]:
    """F1, precision and recall from the counts along the last axis, as scikit-learn computes them (0 if undefined)."""
    tp = (y & chosen).sum(-1)
    positives, predicted = y.sum(-1), chosen.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "f1": np.nan_to_num(2 * tp / (positives + predicted)),
            "precision": np.nan_to_num(tp / predicted),
            "recall": np.nan_to_num(tp / positives),
        }


def _roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else np.nan


def bootstrap_test_metrics(test_scores: pd.DataFrame, target_test: pd.DataFrame, bootstrap: Bootstrap) -> pd.DataFrame:
    """Test F1, ROC AUC, precision and recall at the tuned threshold, each with a 95 % bootstrap interval.

    F1, precision and recall of all resamples at once from their counts (scikit-learn's formulas; one
    ``f1_score`` call per resample was ~80 % of this node), ROC AUC by scikit-learn per resample.
    """
    y = target_test.iloc[:, 0].to_numpy().astype(bool)
    scores, chosen = test_scores["score"].to_numpy(), test_scores["recommended"].to_numpy(bool)
    resamples = _bootstrap_rows(len(y), bootstrap)
    point = {**_counted(y, chosen), "roc_auc": _roc_auc(y, scores)}
    samples = {**_counted(y[resamples], chosen[resamples])}
    samples["roc_auc"] = np.array([_roc_auc(y[r], scores[r]) for r in resamples])
    rows = []
    for name in ("f1", "roc_auc", "precision", "recall"):
        low, high = _quantiles(samples[name], bootstrap.confidence)
        rows.append({"metric": name, "value": float(point[name]), "low": low, "high": high})
    return pd.DataFrame(rows)


def assess_calibration(
    test_scores: pd.DataFrame, target_test: pd.DataFrame, calibration: CalibrationCheck
) -> dict[str, Any]:
    """Brier score, expected calibration error (equal-width bins) and the reliability table of the test scores;
    ``None`` figures when the scores are not probabilities (an SVM's decision function)."""
    y = target_test.iloc[:, 0].to_numpy().astype(float)
    scores = test_scores["score"].to_numpy()
    if scores.min() < 0 or scores.max() > 1:
        logger.info(
            "Calibration not assessed: the scores are not probabilities (range %.3g to %.3g)",
            scores.min(),
            scores.max(),
        )
        return {"brier_score": None, "expected_calibration_error": None, "well_calibrated": None, "reliability": []}
    edges = np.linspace(0, 1, calibration.n_bins + 1)
    bins = np.clip(np.digitize(scores, edges[1:-1]), 0, calibration.n_bins - 1)
    reliability = []
    for b in range(calibration.n_bins):
        member = bins == b
        if member.any():
            reliability.append(
                {
                    "bin_low": float(edges[b]),
                    "bin_high": float(edges[b + 1]),
                    "n": int(member.sum()),
                    "mean_predicted": float(scores[member].mean()),
                    "observed_rate": float(y[member].mean()),
                }
            )
    ece = sum(r["n"] * abs(r["mean_predicted"] - r["observed_rate"]) for r in reliability) / len(y)
    result = {
        "brier_score": float(brier_score_loss(y, scores)),
        "expected_calibration_error": float(ece),
        "ece_limit": calibration.ece_limit,
        "well_calibrated": bool(ece <= calibration.ece_limit),
        "n_bins": calibration.n_bins,
        "reliability": reliability,
    }
    logger.info(  # a finding about the model, shown in the report; not a problem of the run
        "Calibration on the test part: Brier %.4f, ECE %.4f (limit %s)",
        result["brier_score"],
        ece,
        calibration.ece_limit,
    )
    return result
