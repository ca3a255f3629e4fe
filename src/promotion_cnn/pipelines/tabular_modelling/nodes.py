"""Nodes of the generic train -> select -> tune threshold -> evaluate template."""

from __future__ import annotations

import logging
import multiprocessing
import time
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from joblib.externals.loky import reusable_executor
from kedro.utils import load_obj
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector
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
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from promotion_cnn.tabular.scoring import predict_scores, single_threaded
from promotion_cnn.tabular.tables import TooFewRowsError

from .parallel import fits_backend, nested_on_threads
from .params import ModelFamily, TabularProtocol

logger = logging.getLogger(__name__)

SMALL_CLASS = 50  # a fit's ValueError on a table with fewer rows than this in a class is reported as too few rows
SELECTION_METRICS = ("cv_f1_tuned", "cv_f1", "cv_roc_auc", "cv_average_precision", "train_accuracy")


PREPROCESSING = ("none", "one_hot_scale")
CALIBRATION = (None, "sigmoid", "isotonic")


def _preprocessor(kind: str | None) -> list[tuple[str, BaseEstimator]]:
    """Steps before the classifier: none, or one-hot for ``category`` columns and standard scaling for the rest."""
    if kind in (None, "none"):
        return []
    if kind == "one_hot_scale":
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        return [
            (
                "encode",
                ColumnTransformer(
                    [("one_hot", encoder, make_column_selector(dtype_include="category"))],
                    remainder=StandardScaler(),
                    verbose_feature_names_out=False,
                ),
            )
        ]
    raise ValueError(f"preprocessing must be one of {PREPROCESSING}, got {kind!r}")


def build_estimator(family: ModelFamily, variant: str, reducer: BaseEstimator | None) -> Pipeline:
    """Unfitted model pipeline: the (cloned) reducer or the family's preprocessing, then the classifier.

    A ``calibration`` key (family-wide, or per variant) wraps the classifier in ``CalibratedClassifierCV``
    (``sigmoid`` or ``isotonic``, ``calibration_folds`` internal folds); it is not an estimator parameter.
    """
    settings = {**family.base_params, **family.variants[variant]}
    calibration = settings.pop("calibration", family.calibration)
    if calibration not in CALIBRATION:
        raise ValueError(f"calibration must be one of {CALIBRATION}, got {calibration!r}")
    classifier = load_obj(family.estimator)(**settings)
    if calibration:
        classifier = CalibratedClassifierCV(classifier, method=calibration, cv=family.calibration_folds)
    steps = list(clone(reducer).steps) if family.use_reducer and reducer is not None else []
    return Pipeline([*steps, *_preprocessor(family.preprocessing), ("model", classifier)])


def fit_single_threaded(estimator: Pipeline, x: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """Fit with OpenMP limited to one thread; a classifier that threads itself (a forest's ``n_jobs``) keeps its
    threads for the fit, then predicts on one: a forest sums its trees in thread-completion order otherwise,
    and its scores would differ in the last bits from run to run."""
    with single_threaded():
        estimator.fit(x, y)
    classifier = estimator.steps[-1][1]
    if "n_jobs" in classifier.get_params(deep=False):
        classifier.set_params(n_jobs=1)
    return estimator


def default_threshold(model: BaseEstimator) -> float:
    """The model's own decision boundary: 0.5 on probabilities, 0 on decision values."""
    return 0.5 if hasattr(model, "predict_proba") else 0.0


def best_f1(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The highest F1 over all thresholds of the precision-recall curve."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.max(2 * precision * recall / np.clip(precision + recall, 1e-12, None)))


def _supports_oob(estimator: Pipeline) -> bool:
    """Whether the classifier is a bootstrap ensemble that can score its own out-of-bag rows."""
    params = estimator.named_steps["model"].get_params()
    return "oob_score" in params and params.get("bootstrap", False)


def _fit_task(
    estimator: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    held_out: np.ndarray | None,
    oob: bool,
    protocol: TabularProtocol,
    train_accuracy: bool = True,
) -> dict:
    """Fit one variant on one fold (or on everything) and score it."""
    started = time.perf_counter()
    train = np.ones(len(y), bool) if held_out is None else ~held_out
    if oob:
        estimator.set_params(model__oob_score=True)
    model = fit_single_threaded(estimator, x[train], y[train])
    result = {"model": model, "threshold": default_threshold(model)}
    if train_accuracy:
        result["train_accuracy"] = _train_accuracy(model, x[train], y[train], result["threshold"], protocol)
    if held_out is not None:
        result["held_out"], result["held_out_scores"] = held_out, predict_scores(model, x[held_out])
    elif oob:
        scores = model.named_steps["model"].oob_decision_function_[:, 1]
        result["held_out"], result["held_out_scores"] = train, np.nan_to_num(scores, nan=float(y.mean()))
    result["seconds"] = time.perf_counter() - started
    return result


def _train_accuracy(
    model: Pipeline, x: pd.DataFrame, y: np.ndarray, threshold: float, protocol: TabularProtocol
) -> float:
    """Accuracy on the rows the model was fitted on, predicting only the rows that can be wrong.

    A converged SVM classifies every non-support vector right (its margin is at least 1 - tol), so only the
    support vectors are predicted: exact, and 5-10x cheaper. Other models are predicted on every row, or on
    a seeded sample of ``train_accuracy_sample`` rows if set.
    """
    classifier = model.steps[-1][1]
    if isinstance(classifier, SVC) and classifier.fit_status_ == 0 and classifier.tol < 1 and threshold == 0:
        support = classifier.support_
        wrong = np.sum((predict_scores(model, x.iloc[support]) >= threshold) != y[support])
        return float(1 - wrong / len(y))
    rows = np.arange(len(y))
    sample = protocol.train_accuracy_sample
    if sample and sample < len(rows):
        rows = np.random.default_rng(protocol.random_state).choice(rows, sample, replace=False)
    return float(accuracy_score(y[rows], predict_scores(model, x.iloc[rows]) >= threshold))


def _n_jobs(family: ModelFamily, protocol: TabularProtocol) -> int:
    """Fits at a time for this family: its own ``parallel_fits`` if set, else the protocol's."""
    return int(family.parallel_fits or protocol.parallel_fits)


def release_workers() -> None:
    """In a child process (a ParallelRunner worker), stop joblib's reusable loky workers: they would outlive the run."""
    executor = reusable_executor._executor
    if multiprocessing.parent_process() is not None and executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def run_fits(
    calls: Any, n_jobs: int, protocol: TabularProtocol, source: str, y: np.ndarray, scatter: tuple = ()
) -> list[dict]:
    """Run independent fits in parallel (``protocol.parallel``: loky, threading or Dask; ``scatter``, the fits'
    shared training data, goes to Dask workers once); on a small table a fit's ``ValueError`` becomes a named
    ``TooFewRowsError``."""
    calls = nested_on_threads(calls)
    if not calls:  # nothing to fit: no cluster started, no data sent
        return []
    try:
        with fits_backend(protocol.parallel, scatter):
            return Parallel(n_jobs=n_jobs, verbose=protocol.progress)(calls)
    except ValueError as error:
        counts = {label: int(np.sum(y == label)) for label in (1, 0)}
        if min(counts.values()) >= SMALL_CLASS:
            raise
        raise TooFewRowsError(
            f"{source}: a fit on {len(y)} training rows ({counts[1]} with the target 1, {counts[0]} with 0) failed, "
            f"the table is probably too small: {error}. Early stopping (validation_fraction) and calibration "
            "(calibration_folds) split each training fold again; use more rows, fewer tabular_protocol.cv_folds, "
            "or fewer such variants"
        ) from error
    finally:
        release_workers()


def _source(table: pd.DataFrame) -> str:
    return table.attrs.get("source", "the training table")


def _fold_masks(y: np.ndarray, protocol: TabularProtocol) -> list[np.ndarray]:
    splitter = StratifiedKFold(protocol.cv_folds, shuffle=True, random_state=protocol.random_state)
    return [np.isin(np.arange(len(y)), test) for _, test in splitter.split(np.zeros(len(y)), y)]


def _score_variant(variant: str, settings: dict, fits: list[dict], y: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """One row of the variant table and the variant's out-of-fold scores (None without them)."""
    row = {"variant": variant, **{k: str(v) for k, v in settings.items()}}
    row["train_accuracy"] = float(np.mean([r["train_accuracy"] for r in fits]))
    row["fit_seconds"] = float(sum(r["seconds"] for r in fits))
    if "held_out" not in fits[0]:
        return row, None
    scores = np.empty(len(y))
    for r in fits:
        scores[r["held_out"]] = r["held_out_scores"]
    parts = [(y[r["held_out"]], r["held_out_scores"]) for r in fits]
    row["cv_method"] = "out_of_bag" if len(fits) == 1 else f"{len(fits)}_fold"
    row["cv_f1"] = float(np.mean([f1_score(t, s >= fits[0]["threshold"]) for t, s in parts]))
    row["cv_roc_auc"] = float(np.mean([roc_auc_score(t, s) for t, s in parts]))
    row["cv_average_precision"] = float(np.mean([average_precision_score(t, s) for t, s in parts]))
    row["cv_f1_tuned"] = best_f1(y, scores)
    return row, scores


def evaluate_variants(
    features: pd.DataFrame,
    target: pd.DataFrame,
    reducer: BaseEstimator,
    family: ModelFamily,
    protocol: TabularProtocol,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Pipeline]]:
    """Score every variant: training accuracy, and cross-validated F1, ROC AUC and out-of-fold scores.

    With ``cv_folds >= 2`` bootstrap forests are scored out-of-bag from one fit on all rows (when
    ``use_out_of_bag``) and other models by stratified k-fold, on a seeded stratified sample of
    ``family.selection_sample`` rows if set; with ``cv_folds: 0`` every variant is fitted once on
    all rows and scored in-sample only, as the study did.
    """
    y = target.iloc[:, 0].to_numpy()
    x = features.reset_index(drop=True)
    cross_validate = protocol.cv_folds >= 2
    sample = family.selection_sample
    sampled = bool(cross_validate and sample and sample < len(y))
    if sampled:  # rank the variants on a seeded stratified sample; the winner is cross-validated on all rows later
        rows, _ = train_test_split(np.arange(len(y)), train_size=sample, stratify=y, random_state=protocol.random_state)
        x, y = x.iloc[np.sort(rows)].reset_index(drop=True), y[np.sort(rows)]
    masks = _fold_masks(y, protocol) if cross_validate else [None]
    tasks = []
    for variant in family.variants:
        oob = cross_validate and protocol.use_out_of_bag and _supports_oob(build_estimator(family, variant, reducer))
        tasks += [(variant, None, True)] if oob else [(variant, mask, False) for mask in masks]
    logger.info("%d fits for %d variants on %d rows", len(tasks), len(family.variants), len(y))
    calls = (
        delayed(_fit_task)(build_estimator(family, variant, reducer), x, y, mask, oob, protocol)
        for variant, mask, oob in tasks
    )
    results = run_fits(calls, _n_jobs(family, protocol), protocol, _source(features), y, scatter=(x, y))
    rows, oof, fitted = [], {}, {}
    for variant, settings in family.variants.items():
        fits = [r for (v, *_), r in zip(tasks, results) if v == variant]
        row, scores = _score_variant(variant, settings, fits, y)
        row["rows"] = len(y)
        if scores is not None and not sampled:
            oof[variant] = scores
        if len(fits) == 1 and not sampled:  # fitted on all rows (no cross-validation, or out-of-bag scoring)
            fitted[variant] = fits[0]["model"]
        rows.append(row)
        logger.info("%s: %s", variant, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
    return pd.DataFrame(rows), pd.DataFrame(oof), fitted


def evaluate_variants_without_reducer(
    features: pd.DataFrame, target: pd.DataFrame, family: ModelFamily, protocol: TabularProtocol
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Pipeline]]:
    """``evaluate_variants`` of a family that uses no reducer (``use_reducer: false``): no feature_reducer input."""
    return evaluate_variants(features, target, None, family, protocol)


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
    reducer: BaseEstimator,
    family: ModelFamily,
    selected: str,
    fitted_variants: dict[str, Pipeline],
    oof_scores: pd.DataFrame,
    protocol: TabularProtocol,
) -> tuple[Pipeline, pd.DataFrame]:
    """Fit the selected variant on the whole training part, with its out-of-fold scores on every row.

    Fits and scores that ``evaluate_variants`` already made on all rows are reused; otherwise the
    final fit and the k fold fits run in parallel.
    """
    y = target.iloc[:, 0].to_numpy()
    x = features.reset_index(drop=True)
    have_model, have_oof = selected in fitted_variants, selected in oof_scores.columns
    need_oof = protocol.cv_folds >= 2 and not have_oof
    tasks = ([] if have_model else [None]) + (_fold_masks(y, protocol) if need_oof else [])
    calls = (
        delayed(_fit_task)(build_estimator(family, selected, reducer), x, y, mask, False, protocol, False)
        for mask in tasks
    )
    results = run_fits(calls, _n_jobs(family, protocol), protocol, _source(features), y, scatter=(x, y))
    model = fitted_variants[selected] if have_model else results.pop(0)["model"]
    if have_oof:
        scores = oof_scores[selected].to_numpy()
    elif need_oof:
        scores = np.empty(len(y))
        for r in results:
            scores[r["held_out"]] = r["held_out_scores"]
    else:
        return model, pd.DataFrame()
    return model, pd.DataFrame({selected: scores})


def fit_selected_model_without_reducer(
    features: pd.DataFrame,
    target: pd.DataFrame,
    family: ModelFamily,
    selected: str,
    fitted_variants: dict[str, Pipeline],
    oof_scores: pd.DataFrame,
    protocol: TabularProtocol,
) -> tuple[Pipeline, pd.DataFrame]:
    """``fit_selected_model`` of a family that uses no reducer (``use_reducer: false``): no feature_reducer input."""
    return fit_selected_model(features, target, None, family, selected, fitted_variants, oof_scores, protocol)


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
    threshold = family.threshold
    source = protocol.threshold_source
    if source == "out_of_fold":
        if selected_oof_scores.empty:
            raise ValueError("threshold_source 'out_of_fold' needs cross-validation: set cv_folds >= 2")
        scores = selected_oof_scores.iloc[:, 0].to_numpy()
    elif source == "in_sample":
        scores = predict_scores(model, features)
    else:
        raise ValueError(f"threshold_source must be 'out_of_fold' or 'in_sample', got {source!r}")
    precision, recall, pr_thresholds = precision_recall_curve(y, scores)
    curve = pd.DataFrame({"threshold": pr_thresholds, "precision": precision[:-1], "recall": recall[:-1]})
    curve["f1"] = 2 * curve.precision * curve.recall / np.clip(curve.precision + curve.recall, 1e-12, None)
    method = threshold.method
    if method == "f1":
        value = float(curve.threshold[curve.f1.idxmax()])
    elif method == "youden":
        fpr, tpr, roc_thresholds = roc_curve(y, scores)
        value = float(roc_thresholds[np.argmax(tpr - fpr)])
    elif method == "default":
        value = default_threshold(model)
    elif method == "fixed":
        value = float(threshold.value)
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
