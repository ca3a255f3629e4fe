"""Unit tests of the modern-family options (preprocessing, calibration) and the recommender nodes."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from support import NO_CV

from promotion_cnn.pipelines.tabular_modelling.estimators import build_estimator
from promotion_cnn.pipelines.tabular_modelling.nodes import fit_selected_model
from promotion_cnn.pipelines.tabular_modelling.params import ModelFamily, PermutationImportanceParams
from promotion_cnn.pipelines.tabular_modelling.recommender_nodes import (
    combine_family_tables,
    describe_candidate,
    explain_recommender,
    select_recommender,
)

LOGISTIC_CONFIG = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "feature_set": "full",
    "use_reducer": False,
    "preprocessing": "one_hot_scale",
    "base_params": {"max_iter": 500},
    "variants": {"plain": {}, "calibrated": {"calibration": "sigmoid"}},
    "threshold": {"method": "f1"},
}
LOGISTIC = ModelFamily.model_validate(LOGISTIC_CONFIG)


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    n = 600
    signal = rng.normal(size=n)
    features = pd.DataFrame(
        {
            "department": pd.Categorical(rng.choice(["HR", "Legal", "Sales"], n)),
            "signal": signal,
            "noise": rng.normal(size=n),
        },
        index=np.arange(1000, 1000 + n),
    )
    target = pd.DataFrame({"is_promoted": (signal + 0.5 * rng.normal(size=n) > 1.0).astype(int)}, index=features.index)
    return features, target


def test_one_hot_scale_preprocessing_and_calibration_are_parameters(mixed):
    features, target = mixed
    plain = build_estimator(LOGISTIC, "plain", None)
    assert [n for n, _ in plain.steps] == ["encode", "model"] and isinstance(
        plain.named_steps["model"], LogisticRegression
    )
    calibrated = build_estimator(LOGISTIC, "calibrated", None)
    assert isinstance(calibrated.named_steps["model"], CalibratedClassifierCV)
    model = fit_selected_model(features, target, None, LOGISTIC, "plain", {}, pd.DataFrame(), NO_CV)[0]
    assert model.named_steps["encode"].get_feature_names_out().tolist()[:3] == [
        "department_HR",
        "department_Legal",
        "department_Sales",
    ]
    unseen = features.head(3).assign(department=pd.Categorical(["Mars"] * 3))
    assert np.isfinite(model.predict_proba(unseen)).all()  # an unseen level is all-zero one-hot, not an error
    for bad in ({"calibration": "platt"}, {"preprocessing": "pca"}, {"variants": {"v": {"calibration": "platt"}}}):
        with pytest.raises(ValidationError, match=r"calibration|preprocessing"):
            ModelFamily.model_validate({**LOGISTIC_CONFIG, **bad})


def test_combine_family_tables_adds_family_first():
    combined = combine_family_tables(a=pd.DataFrame({"x": [1]}), b=pd.DataFrame({"x": [2, 3]}))
    assert combined.columns.tolist() == ["family", "x"] and combined.family.tolist() == ["a", "b", "b"]


def _candidate(features, target, cv_f1, test_f1):
    model = fit_selected_model(features, target, None, LOGISTIC, "plain", {}, pd.DataFrame(), NO_CV)[0]
    scores = pd.DataFrame({"variant": ["plain"], "cv_f1_tuned": [cv_f1], "cv_roc_auc": [0.8], "train_accuracy": [0.9]})
    metrics = {"precision": 0.5, "recall": 0.5, "f1": test_f1, "roc_auc": 0.8}
    return describe_candidate(model, {"threshold": 0.3}, "plain", scores, metrics, features)


def test_select_recommender_uses_cross_validation_only(mixed):
    features, target = mixed
    candidates = {
        "good_cv": _candidate(features, target, 0.6, 0.1),
        "good_test": _candidate(features, target, 0.5, 0.9),
    }
    recommender, summary, comparison = select_recommender(NO_CV, **candidates)
    assert recommender["family"] == summary["family"] == "good_cv"
    assert recommender["categories"] == {"department": ["HR", "Legal", "Sales"]}
    assert (
        recommender["feature_columns"] == ["department", "signal", "noise"]
        and recommender["threshold"]["threshold"] == 0.3
    )
    assert comparison.family.tolist() == ["good_cv", "good_test"] and "test_f1" in comparison
    with pytest.raises(ValueError, match="not scored for family"):
        select_recommender(NO_CV.model_copy(update={"selection_metric": "cv_average_precision"}), **candidates)


def test_permutation_importance_in_original_column_names(mixed):
    features, target = mixed
    recommender, _, _ = select_recommender(NO_CV, one=_candidate(features, target, 0.6, 0.5))
    table = explain_recommender(
        recommender, features, target, PermutationImportanceParams(scoring="roc_auc", n_repeats=3, random_state=0)
    )
    assert table.columns.tolist() == ["feature", "importance_mean", "importance_std"]
    assert set(table.feature) == {"department", "signal", "noise"} and table.feature.iloc[0] == "signal"
    assert table.set_index("feature").loc["signal", "importance_mean"] > 0.2
