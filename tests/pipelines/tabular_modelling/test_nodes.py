"""Unit tests of the tabular modelling template's nodes."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.datasets import make_classification
from support import NO_CV

from promotion_cnn.pipelines.data_processing.params import Reduction
from promotion_cnn.pipelines.data_processing.tabular_nodes import fit_feature_reducer
from promotion_cnn.pipelines.tabular_modelling import nodes
from promotion_cnn.pipelines.tabular_modelling.estimators import build_estimator
from promotion_cnn.pipelines.tabular_modelling.nodes import (
    evaluate_model,
    evaluate_variants,
    fit_selected_model,
    select_variant,
    tune_threshold,
)
from promotion_cnn.pipelines.tabular_modelling.params import ModelFamily, TabularProtocol, ThresholdRule
from promotion_cnn.pipelines.tabular_modelling.thresholds import default_threshold
from promotion_cnn.tabular.tables import TooFewRowsError

FAMILY_CONFIG = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "feature_set": "study",
    "base_params": {"max_iter": 500},
    "variants": {"strong": {"C": 1.0}, "weak": {"C": 1e-5}},
    "threshold": {"method": "f1", "value": None},
}
FAMILY = ModelFamily.model_validate(FAMILY_CONFIG)
PROTOCOL = NO_CV.model_copy(update={"cv_folds": 3, "threshold_source": "out_of_fold"})


def _protocol(**changes) -> TabularProtocol:
    return PROTOCOL.model_copy(update=changes)


def _family(**changes) -> ModelFamily:
    return ModelFamily.model_validate({**FAMILY_CONFIG, **changes})


@pytest.fixture(scope="module")
def data():
    x, y = make_classification(600, 8, n_informative=4, weights=[0.85], random_state=0)
    features = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)])
    target = pd.DataFrame({"is_promoted": y})
    return features, target, fit_feature_reducer(features, Reduction(pca_variance=0.9, random_state=0))


def test_build_estimator_prepends_a_fresh_reducer(data):
    features, _, reducer = data
    model = build_estimator(FAMILY, "weak", reducer)
    assert [name for name, _ in model.steps] == ["scale", "pca", "model"]
    assert model.named_steps["model"].C == 1e-5 and not hasattr(model.named_steps["pca"], "components_")
    assert [n for n, _ in build_estimator(_family(use_reducer=False), "weak", reducer).steps] == ["model"]


def test_evaluate_variants_with_cv_scores_every_variant(data):
    scores, oof, fitted = evaluate_variants(*data, FAMILY, PROTOCOL)
    assert scores.variant.tolist() == ["strong", "weak"]
    assert {"train_accuracy", "cv_f1", "cv_f1_tuned", "cv_roc_auc", "cv_average_precision"} <= set(scores.columns)
    assert scores.set_index("variant").loc["strong", "cv_roc_auc"] > 0.6
    assert oof.shape == (600, 2) and fitted == {}


def test_evaluate_variants_without_cv_fits_on_everything(data):
    scores, oof, fitted = evaluate_variants(*data, FAMILY, _protocol(cv_folds=0))
    assert oof.empty and set(fitted) == {"strong", "weak"}
    assert "cv_f1" not in scores.columns and scores.train_accuracy.between(0, 1).all()
    assert select_variant(scores, _protocol(selection_metric="train_accuracy")) in {"strong", "weak"}
    with pytest.raises(ValueError, match="needs cross-validation"):
        select_variant(scores, _protocol(selection_metric="cv_f1"))


def test_select_variant_picks_the_best_and_rejects_unknown_metric():
    scores = pd.DataFrame({"variant": ["a", "b"], "cv_roc_auc": [0.6, 0.8]})
    assert select_variant(scores, _protocol(selection_metric="cv_roc_auc")) == "b"
    with pytest.raises(ValueError, match="selection_metric must be one of"):
        select_variant(scores, _protocol(selection_metric="test_f1"))


def _fit(data, fitted=None, oof=None, protocol=PROTOCOL, variant="strong"):
    features, target, reducer = data
    oof = pd.DataFrame() if oof is None else oof
    return fit_selected_model(features, target, reducer, FAMILY, variant, fitted or {}, oof, protocol)


def test_fit_selected_model_reuses_full_fits_and_scores(data):
    sentinel, scores = object(), pd.DataFrame({"weak": np.arange(600.0)})
    model, oof = _fit(data, {"weak": sentinel}, scores, variant="weak")
    assert model is sentinel and oof.equals(scores)


def test_fit_selected_model_cross_validates_when_scores_are_missing(data):
    features, target, _ = data
    model, oof = _fit(data)
    assert model.predict(features).shape == (600,)
    assert oof.columns.tolist() == ["strong"] and oof.strong.notna().all()
    _, _, reducer = data
    _, reference, _ = evaluate_variants(features, target, reducer, FAMILY, PROTOCOL)
    assert np.allclose(oof.strong, reference.strong)
    assert _fit(data, protocol=_protocol(cv_folds=0))[1].empty


def test_evaluate_variants_ranks_on_a_sample(data):
    scores, oof, fitted = evaluate_variants(*data, _family(selection_sample=300), PROTOCOL)
    assert (scores.rows == 300).all() and oof.empty and fitted == {}


@pytest.mark.parametrize("method", ["f1", "youden", "default", "fixed"])
def test_tune_threshold_methods(data, method):
    features, target, _ = data
    model, oof = _fit(data)
    family = FAMILY.model_copy(update={"threshold": ThresholdRule(method=method, value=0.3)})
    chosen, curve = tune_threshold(model, features, target, oof, PROTOCOL, family)
    assert chosen["source"] == "out_of_fold" and chosen["method"] == method
    expected = {"default": default_threshold(model), "fixed": 0.3}
    if method in expected:
        assert chosen["threshold"] == expected[method]
    if method == "f1":
        assert np.isclose(chosen["train_f1"], curve.f1.max())
    assert list(curve.columns) == ["threshold", "precision", "recall", "f1"]


def test_tune_threshold_in_sample_differs_from_out_of_fold(data):
    features, target, _ = data
    model, oof = _fit(data)
    in_sample, _ = tune_threshold(model, features, target, oof, _protocol(threshold_source="in_sample"), FAMILY)
    oof_chosen, _ = tune_threshold(model, features, target, oof, PROTOCOL, FAMILY)
    assert in_sample["source"] == "in_sample" and in_sample["threshold"] != oof_chosen["threshold"]
    with pytest.raises(ValueError, match="needs cross-validation"):
        tune_threshold(model, features, target, pd.DataFrame(), PROTOCOL, FAMILY)


def test_evaluate_model_reports_metrics_matrix_and_curves(data):
    features, target, _ = data
    model, _ = _fit(data)
    metrics, matrix, roc, pr, scores = evaluate_model(model, {"threshold": 0.5}, features, target, "strong")
    assert scores.index.equals(features.index) and scores.recommended.sum() == matrix.predicted_1.sum()
    predicted = model.predict(features)
    assert np.isclose(metrics["accuracy"], (predicted == target.is_promoted).mean(), atol=0.01)
    assert matrix[["predicted_0", "predicted_1"]].to_numpy().sum() == 600
    assert matrix.loc[1, "predicted_1"] == ((predicted == 1) & (target.is_promoted == 1)).sum()
    assert roc.fpr.iloc[0] == 0 and roc.tpr.iloc[-1] == 1 and 0.5 < metrics["roc_auc"] <= 1
    assert {"precision", "recall", "threshold"} == set(pr.columns)


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
def test_svm_training_accuracy_from_support_vectors_equals_predicting_every_row(data, kernel):
    features, target, reducer = data
    family = _family(estimator="sklearn.svm.SVC", base_params={}, variants={"k": {"kernel": kernel, "C": 0.5}})
    scores, _, fitted = evaluate_variants(features, target, reducer, family, _protocol(cv_folds=0))
    model, y = fitted["k"], target.is_promoted.to_numpy()
    assert len(model.named_steps["model"].support_) < len(y)  # the shortcut skips rows
    assert scores.train_accuracy.iloc[0] == pytest.approx(np.mean((model.decision_function(features) >= 0) == y))


def test_a_family_can_set_its_own_number_of_parallel_fits(data):
    scores, *_ = evaluate_variants(*data, _family(parallel_fits=2), PROTOCOL)
    assert scores.equals(evaluate_variants(*data, FAMILY, PROTOCOL)[0].assign(fit_seconds=scores.fit_seconds))


def test_a_threaded_forest_fits_on_its_threads_and_predicts_on_one(data):
    family = _family(
        estimator="sklearn.ensemble.RandomForestClassifier",
        base_params={"n_estimators": 20, "n_jobs": 2, "random_state": 0},
        variants={"plain": {}},
    )
    _, _, fitted = evaluate_variants(*data, family, _protocol(cv_folds=0))
    forest = fitted["plain"].named_steps["model"]
    assert len(forest.estimators_) == 20 and forest.n_jobs == 1  # summing trees in a fixed order: reproducible


def test_a_fit_that_fails_on_a_small_table_is_named(data):
    features, target, reducer = (data[0].head(24).copy(), data[1].head(24), data[2])
    features.attrs["source"] = "dataset 'employees_raw' (small.csv)"
    family = _family(
        estimator="sklearn.ensemble.HistGradientBoostingClassifier",
        base_params={"early_stopping": True, "validation_fraction": 0.05},
        variants={"default": {}},
    )
    with pytest.raises(TooFewRowsError, match=r"small\.csv.*a fit on 24 training rows.*probably too small"):
        evaluate_variants(features, target, reducer, family, PROTOCOL)


def test_each_variant_is_built_once_and_every_fit_fits_a_clone(data, monkeypatch):
    built = {}

    def build(family, variant, reducer):
        built[variant] = build_estimator(family, variant, reducer)
        return built[variant]

    monkeypatch.setattr(nodes, "build_estimator", build)
    evaluate_variants(*data, FAMILY, PROTOCOL)  # 3 folds per variant
    assert list(built) == ["strong", "weak"]
    assert not any(hasattr(estimator.named_steps["model"], "coef_") for estimator in built.values())


def test_the_old_n_jobs_key_names_its_new_name():
    with pytest.raises(ValidationError, match="renamed parallel_fits"):
        _family(n_jobs=2)
    with pytest.raises(ValidationError, match="renamed parallel_fits"):
        TabularProtocol.model_validate({**PROTOCOL.model_dump(), "n_jobs": 2})
