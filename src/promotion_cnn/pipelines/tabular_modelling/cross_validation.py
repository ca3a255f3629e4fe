"""Cross-validation of a family's variants: the folds, the fits (k-fold or out-of-bag), out-of-fold scores, and
the variant table's metrics; then the selected variant's final fit, reusing what the variants' fits made."""

from __future__ import annotations

import logging
import time
from typing import get_args

import numpy as np
import pandas as pd
from joblib import delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from promotion_cnn.tabular.scoring import predict_scores

from .estimators import supports_out_of_bag
from .parallel import fit_single_threaded, run_fits
from .params import ModelFamily, SelectionMetric, TabularProtocol
from .thresholds import best_f1, default_threshold

logger = logging.getLogger(__name__)

# the variant table's metric columns, by which a variant (and the recommender's family) can be chosen
SELECTION_METRICS: tuple[str, ...] = get_args(SelectionMetric)


def fold_masks(y: np.ndarray, protocol: TabularProtocol) -> list[np.ndarray]:
    """The held-out rows of each of ``protocol.cv_folds`` seeded stratified folds, as boolean masks."""
    splitter = StratifiedKFold(protocol.cv_folds, shuffle=True, random_state=protocol.random_state)
    return [np.isin(np.arange(len(y)), test) for _, test in splitter.split(np.zeros(len(y)), y)]


def fit_and_score(
    estimator: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    held_out: np.ndarray | None,
    oob: bool,
    protocol: TabularProtocol,
    train_accuracy: bool = True,
) -> dict:
    """Fit a clone of ``estimator`` on one fold's training rows (or on every row) and score it.

    Returns the model, its default threshold, its training accuracy (if asked), the held-out rows and their scores
    (a fold's, or out-of-bag ones with ``oob``) and the seconds it took.
    """
    started = time.perf_counter()
    train = np.ones(len(y), bool) if held_out is None else ~held_out
    estimator = clone(estimator)
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


def out_of_fold_scores(fits: list[dict], n_rows: int) -> np.ndarray:
    """Every row's score from the fit that held it out (the folds' held-out rows cover every row once)."""
    scores = np.empty(n_rows)
    for fit in fits:
        scores[fit["held_out"]] = fit["held_out_scores"]
    return scores


def _variant_row(variant: str, settings: dict, fits: list[dict], y: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """One row of the variant table and the variant's out-of-fold scores (None without them)."""
    row = {"variant": variant, **{k: str(v) for k, v in settings.items()}}
    row["train_accuracy"] = float(np.mean([r["train_accuracy"] for r in fits]))
    row["fit_seconds"] = float(sum(r["seconds"] for r in fits))
    if "held_out" not in fits[0]:
        return row, None
    scores = out_of_fold_scores(fits, len(y))
    parts = [(y[r["held_out"]], r["held_out_scores"]) for r in fits]
    row["cv_method"] = "out_of_bag" if len(fits) == 1 else f"{len(fits)}_fold"
    row["cv_f1"] = float(np.mean([f1_score(t, s >= fits[0]["threshold"]) for t, s in parts]))
    row["cv_roc_auc"] = float(np.mean([roc_auc_score(t, s) for t, s in parts]))
    row["cv_average_precision"] = float(np.mean([average_precision_score(t, s) for t, s in parts]))
    row["cv_f1_tuned"] = best_f1(y, scores)
    return row, scores


def _source(table: pd.DataFrame) -> str:
    return table.attrs.get("source", "the training table")


def _fits_at_once(family: ModelFamily, protocol: TabularProtocol) -> int:
    """This family's fits at a time: its own ``parallel_fits`` if set, else the protocol's."""
    return int(family.parallel_fits or protocol.parallel_fits)


def cross_validate_variants(
    estimators: dict[str, Pipeline],
    features: pd.DataFrame,
    target: pd.DataFrame,
    family: ModelFamily,
    protocol: TabularProtocol,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Pipeline]]:
    """The variant table (training accuracy, cross-validated metrics), the out-of-fold scores and the fits on all rows.

    With ``cv_folds >= 2`` bootstrap forests are scored out-of-bag from one fit on all rows (when
    ``use_out_of_bag``) and other models by stratified k-fold, on a seeded stratified sample of
    ``family.selection_sample`` rows if set; with ``cv_folds: 0`` every variant is fitted once on
    all rows and scored in-sample only, as the study did. ``estimators``: each variant's unfitted model, in the
    order of ``family.variants``; each fit fits a clone. Fits and scores on a sample are not returned.
    """
    y = target.iloc[:, 0].to_numpy()
    x = features.reset_index(drop=True)
    cross_validate = protocol.cv_folds >= 2
    sample = family.selection_sample
    sampled = bool(cross_validate and sample and sample < len(y))
    if sampled:  # rank the variants on a seeded stratified sample; the winner is cross-validated on all rows later
        rows, _ = train_test_split(np.arange(len(y)), train_size=sample, stratify=y, random_state=protocol.random_state)
        x, y = x.iloc[np.sort(rows)].reset_index(drop=True), y[np.sort(rows)]
    masks = fold_masks(y, protocol) if cross_validate else [None]
    tasks = []
    for variant, estimator in estimators.items():
        oob = cross_validate and protocol.use_out_of_bag and supports_out_of_bag(estimator)
        tasks += [(variant, None, True)] if oob else [(variant, mask, False) for mask in masks]
    logger.info("%d fits for %d variants on %d rows", len(tasks), len(estimators), len(y))
    calls = (delayed(fit_and_score)(estimators[variant], x, y, mask, oob, protocol) for variant, mask, oob in tasks)
    results = run_fits(calls, _fits_at_once(family, protocol), protocol, _source(features), y, scatter=(x, y))
    rows, oof, fitted = [], {}, {}
    for variant in estimators:
        fits = [r for (v, *_), r in zip(tasks, results) if v == variant]
        row, scores = _variant_row(variant, family.variants[variant], fits, y)
        row["rows"] = len(y)
        if scores is not None and not sampled:
            oof[variant] = scores
        if len(fits) == 1 and not sampled:  # fitted on all rows (no cross-validation, or out-of-bag scoring)
            fitted[variant] = fits[0]["model"]
        rows.append(row)
        logger.info("%s: %s", variant, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
    return pd.DataFrame(rows), pd.DataFrame(oof), fitted


def fit_on_all_rows(
    estimator: Pipeline,
    features: pd.DataFrame,
    target: pd.DataFrame,
    family: ModelFamily,
    protocol: TabularProtocol,
    model: Pipeline | None = None,
    scores: np.ndarray | None = None,
) -> tuple[Pipeline, np.ndarray | None]:
    """``estimator`` fitted on every row, and its out-of-fold scores (None without cross-validation).

    ``model`` and ``scores``, made earlier by ``cross_validate_variants`` on all rows, are reused; whatever is
    missing (the final fit, the k fold fits) runs in parallel.
    """
    y = target.iloc[:, 0].to_numpy()
    x = features.reset_index(drop=True)
    need_scores = protocol.cv_folds >= 2 and scores is None
    tasks = ([] if model is not None else [None]) + (fold_masks(y, protocol) if need_scores else [])
    calls = (delayed(fit_and_score)(estimator, x, y, mask, False, protocol, False) for mask in tasks)
    results = run_fits(calls, _fits_at_once(family, protocol), protocol, _source(features), y, scatter=(x, y))
    if model is None:
        model = results.pop(0)["model"]
    if need_scores:
        scores = out_of_fold_scores(results, len(y))
    return model, scores
