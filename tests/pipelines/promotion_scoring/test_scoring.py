"""promotion_scoring on tiny generated data: ranking, summary, and every kind of bad input."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from support import NO_CV
from threadpoolctl import threadpool_info

from promotion_cnn.datasets import SyntheticEmployeesDataset, generate_employees
from promotion_cnn.pipelines.data_processing import create_tabular_pipeline
from promotion_cnn.pipelines.promotion_scoring import create_pipeline
from promotion_cnn.pipelines.promotion_scoring.nodes import align_features
from promotion_cnn.pipelines.tabular_modelling.nodes import fit_selected_model
from promotion_cnn.pipelines.tabular_modelling.params import ModelFamily
from promotion_cnn.pipelines.tabular_modelling.recommender_nodes import describe_candidate, select_recommender
from promotion_cnn.tabular.scoring import predict_scores
from promotion_cnn.tabular.tables import InvalidTableError


@pytest.fixture(scope="module")
def recommender(project_params, run_pipeline):
    """The default gradient-boosting family fitted on the `full` features of a small generated table."""
    data = run_pipeline(
        create_tabular_pipeline(),
        project_params,
        {"employees_raw": generate_employees(1500, seed=11)},
        ["full_features_train", "full_target_train"],
    )
    features, target = data["full_features_train"], data["full_target_train"]
    family = ModelFamily.model_validate(project_params["hist_gradient_boosting"])
    model = fit_selected_model(features, target, None, family, "default", {}, pd.DataFrame(), NO_CV)[0]
    scores = pd.DataFrame({"variant": ["default"], "cv_f1_tuned": [0.5]})
    candidate = describe_candidate(
        model,
        {"threshold": 0.3},
        "default",
        scores,
        {k: 0.5 for k in ("precision", "recall", "f1", "roc_auc")},
        features,
    )
    return select_recommender(NO_CV, hist_gradient_boosting=candidate)[0]


def _to_score(n: int = 300, seed: int = 21) -> pd.DataFrame:
    table = SyntheticEmployeesDataset(n_rows=n, seed=seed, include_target=False).load()
    table.attrs["source"] = "dataset 'employees_to_score' (current.csv)"
    return table


@pytest.fixture(scope="module")
def score(run_pipeline):
    """Run promotion_scoring on a table, with ``promotion_scoring`` parameters overridden by keywords."""

    def run(recommender, params, table, **scoring) -> dict:
        params = {**params, "promotion_scoring": {**params["promotion_scoring"], **scoring}}
        return run_pipeline(
            create_pipeline(),
            params,
            {"employees_to_score": table, "recommender": recommender},
            ["promotion_recommendations", "promotion_recommendation_summary"],
        )

    return run


@pytest.fixture(scope="module")
def scored(recommender, project_params, score):
    return score(recommender, project_params, _to_score())


def test_recommendations_are_ranked_and_thresholded(scored, recommender):
    table = scored["promotion_recommendations"]
    assert table.columns.tolist() == ["employee_id", "probability", "recommended", "rank", "model", "model_version"]
    assert (table.model == f"{recommender['family']}/{recommender['variant']}").all()
    assert (table.model_version == "unsaved").all()  # in memory here; tests/test_fresh_clone.py checks saved runs
    assert len(table) == 300 and table.employee_id.is_unique and set(table.employee_id) == set(_to_score().employee_id)
    assert table["rank"].tolist() == list(range(1, 301)) and table.probability.is_monotonic_decreasing
    assert ((table.probability >= recommender["threshold"]["threshold"]) == table.recommended).all()
    assert table.probability.between(0, 1).all() and 0 < table.recommended.sum() < 300


def test_scores_match_the_model_on_training_style_features(scored, recommender, project_params, run_pipeline):
    """The scoring features are the training features: same columns, same encoding, same scores."""
    data = run_pipeline(
        create_tabular_pipeline(),
        project_params,
        {"employees_raw": generate_employees(300, seed=21)},
        ["full_features_train", "full_features_test", "employees_validated"],
    )
    features = pd.concat([data["full_features_train"], data["full_features_test"]])
    expected = pd.Series(
        recommender["model"].predict_proba(features)[:, 1],
        index=data["employees_validated"].loc[features.index, "employee_id"].to_numpy(),
    )
    got = scored["promotion_recommendations"].set_index("employee_id").probability
    assert len(got) == len(expected) == 300 and np.allclose(got.loc[expected.index], expected)


def test_summary_counts_per_department_and_in_total(scored):
    summary = scored["promotion_recommendation_summary"].set_index("department")
    assert summary.loc["all", "n_employees"] == 300
    assert summary.drop("all").n_recommended.sum() == summary.loc["all", "n_recommended"]
    assert np.allclose(summary.share_recommended, summary.n_recommended / summary.n_employees)


def test_unseen_levels_are_logged_and_scored_by_default(score, recommender, project_params, caplog):
    table = _to_score()
    table.loc[[0, 5], "region"] = "region_99"
    table.loc[3, "department"] = "Space Exploration"
    with caplog.at_level(logging.WARNING):
        out = score(recommender, project_params, table)
    assert "column 'region' has level(s) ['region_99'] the recommender never saw (2 row(s))" in caplog.text
    assert "'department' has level(s) ['Space Exploration']" in caplog.text
    assert len(out["promotion_recommendations"]) == 300


def test_unseen_levels_can_stop_the_run(score, recommender, project_params):
    table = _to_score()
    table.loc[0, "region"] = "region_99"
    with pytest.raises(InvalidTableError, match=r"current\.csv.*'region'.*region_99"):
        score(recommender, project_params, table, unseen_levels="error")


def test_categories_are_aligned_level_by_level_as_cell_by_cell(recommender, project_params, run_pipeline, caplog):
    """align_features decides a categorical column on its levels: the same frame and warnings as on plain text."""
    table = _to_score()
    table.loc[[0, 5], "region"] = "region_99"
    table.loc[[3], "region"] = None
    data = run_pipeline(
        create_pipeline(),
        project_params,
        {"employees_to_score": table, "recommender": recommender},
        ["employees_to_score_features"],
    )
    features = data["employees_to_score_features"]
    as_text = features.astype({column: "str" for column in recommender["categories"]})
    assert all(isinstance(features[c].dtype, pd.CategoricalDtype) for c in recommender["categories"])
    unchanged = features.copy()
    warnings = []
    for frame in (features, as_text):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            warnings.append((align_features(frame, recommender, "warn"), caplog.messages))
    (by_level, level_warnings), (by_cell, cell_warnings) = warnings
    pd.testing.assert_frame_equal(by_level, by_cell)
    pd.testing.assert_frame_equal(features, unchanged)
    assert level_warnings == cell_warnings and "['region_99'] the recommender never saw (2 row(s))" in level_warnings[0]


def test_predictions_run_openmp_on_one_thread():
    """predict_scores limits OpenMP (loaded by scikit-learn) to one thread, as fits do."""

    class Probe:
        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            threads = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "openmp"]
            assert threads, "no OpenMP runtime loaded"
            return np.array([[0.0, float(max(threads))]] * len(features))

    assert predict_scores(Probe(), pd.DataFrame({"a": [1, 2]})).tolist() == [1.0, 1.0]
    assert predict_scores(Probe(), pd.DataFrame({"a": [1]})).tolist() == [1.0]  # the second call too


def test_optional_column_the_model_needs_is_named(score, recommender, project_params):
    schema = {**project_params["employees_schema"]}
    schema["required_columns"] = [c for c in schema["required_columns"] if c != "region"]
    with pytest.raises(InvalidTableError, match=r"current\.csv.*\['region'\] missing, the recommender was trained"):
        score(recommender, {**project_params, "employees_schema": schema}, _to_score().drop(columns="region"))


def test_a_target_column_is_ignored(score, recommender, project_params, scored, caplog):
    with caplog.at_level(logging.WARNING):
        out = score(recommender, project_params, _to_score().assign(is_promoted=1))
    assert "has a 'is_promoted' column; it is ignored" in caplog.text
    assert out["promotion_recommendations"].equals(scored["promotion_recommendations"])


def test_gender_is_not_needed_for_scoring(score, recommender, project_params, scored):
    out = score(recommender, project_params, _to_score().drop(columns="gender"))
    assert out["promotion_recommendations"].equals(scored["promotion_recommendations"])


def test_empty_cells_are_logged_with_count_and_ids(score, recommender, project_params, caplog):
    table = _to_score()
    table.loc[[1, 4, 7], "region"] = None
    table.loc[2, "department"] = None
    ids = table.loc[[1, 4, 7], "employee_id"].tolist()
    with caplog.at_level(logging.WARNING):
        out = score(recommender, project_params, table)
    assert (
        f"current.csv): column 'region' has 3 empty cell(s), employee_id {ids}; scored as a missing value"
        in caplog.text
    )
    assert f"column 'department' has 1 empty cell(s), employee_id [{table.loc[2, 'employee_id']}]" in caplog.text
    assert len(out["promotion_recommendations"]) == 300


def test_empty_cells_can_stop_the_run(score, recommender, project_params):
    table = _to_score()
    table.loc[list(range(8)), "region"] = None
    ids = ", ".join(map(str, table.employee_id[:5]))
    with pytest.raises(
        InvalidTableError, match=rf"current\.csv.*'region' has 8 empty cell\(s\), employee_id \[{ids}\] \.\.\."
    ):
        score(recommender, project_params, table, empty_cells="error")
