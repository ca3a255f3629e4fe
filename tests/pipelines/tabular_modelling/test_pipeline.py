"""The tabular processing + modelling pipelines run end to end on tiny generated data."""

import pickle
from multiprocessing.reduction import ForkingPickler

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator
from support import KeptDataset

from promotion_cnn.datasets import generate_employees
from promotion_cnn.model_lists import exported, load_model_lists
from promotion_cnn.pipelines.data_processing import create_tabular_pipeline
from promotion_cnn.pipelines.tabular_modelling import create_pipeline
from promotion_cnn.pipelines.tabular_modelling.pipeline import create_template

MODELS = load_model_lists()  # the project's tabular families (conf/base)
MODEL_FAMILIES = tuple(MODELS.families)
RECOMMENDER_CANDIDATES = MODELS.recommender_candidates


def _run(params: dict, seed: int = 3) -> dict:
    pipeline = create_tabular_pipeline() + create_pipeline()
    catalog = DataCatalog({"employees_raw": MemoryDataset(generate_employees(2000, seed))})
    params = ParameterValidator({"tabular": pipeline}).validate_raw_params(params)  # typed, as in a run
    for name in pipeline.datasets():
        if name.startswith("params:"):
            value = params
            for key in name.removeprefix("params:").split("."):
                value = value[key] if isinstance(value, dict) else getattr(value, key)
            catalog[name] = MemoryDataset(value)
        elif name != "employees_raw":
            catalog[name] = KeptDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog[name].load() for name in pipeline.all_outputs()}


@pytest.fixture(scope="module")
def outputs(fast_params):
    return _run(fast_params)


def test_every_family_is_trained_selected_and_evaluated(outputs, fast_params):
    for family in MODEL_FAMILIES:
        scores = outputs[f"{family}.variant_scores"]
        assert scores.variant.tolist() == list(fast_params[family]["variants"])
        metrics = outputs[exported("test_metrics", family)]
        assert metrics["variant"] in scores.variant.tolist()
        assert metrics["n_test"] == 500 and 0 <= metrics["f1"] <= 1 and 0 <= metrics["roc_auc"] <= 1
        assert outputs[f"{family}.threshold"]["source"] == "out_of_fold"
        assert outputs[f"{family}.confusion_matrix"].shape == (2, 3)


def test_random_forest_learns_the_planted_signal(outputs):
    assert outputs["test_metrics_random_forest"]["roc_auc"] > 0.65
    assert outputs["test_metrics_random_forest"]["f1"] > 0.2


def test_saved_model_includes_preprocessing(outputs):
    model = outputs["random_forest.model"]
    assert [name for name, _ in model.steps] == ["scale", "pca", "model"]


def test_feature_space_is_summarised(outputs):
    summary = outputs["feature_space_summary"]
    assert summary["n_components"] < summary["n_features"] and summary["explained_variance"] >= 0.9


def test_same_seeds_give_identical_metrics(outputs, fast_params):
    again = _run(fast_params)
    for family in MODEL_FAMILIES:
        assert again[exported("test_metrics", family)] == outputs[exported("test_metrics", family)]
        assert (
            again[f"{family}.variant_scores"]
            .drop(columns="fit_seconds")
            .equals(outputs[f"{family}.variant_scores"].drop(columns="fit_seconds"))
        )


def test_study_faithful_protocol_runs_without_cross_validation(fast_params):
    study = {
        **fast_params,
        "tabular_protocol": {
            **fast_params["tabular_protocol"],
            "cv_folds": 0,
            "selection_metric": "train_accuracy",
            "threshold_source": "in_sample",
        },
        "svm": {**fast_params["svm"], "threshold": {"method": "default", "value": None}},
    }
    outputs = _run(study)
    assert outputs["svm.threshold"] | {} and outputs["svm.threshold"]["threshold"] == 0.0
    assert outputs["random_forest.threshold"]["source"] == "in_sample"
    assert "cv_f1" not in outputs["random_forest.variant_scores"].columns


def test_modern_families_train_on_the_full_features_without_pca(outputs, fast_params):
    assert [name for name, _ in outputs["hist_gradient_boosting.model"].steps] == ["model"]
    assert [name for name, _ in outputs["logistic_regression.model"].steps] == ["encode", "model"]
    assert outputs["test_metrics_hist_gradient_boosting"]["roc_auc"] > 0.7
    assert outputs["full_features_test"].index.equals(outputs["features_test"].index)


def test_recommender_is_the_best_cross_validated_full_feature_family(outputs):
    comparison, best = outputs["tabular_model_comparison"], outputs["best_tabular_model"]
    assert set(comparison.family) == set(RECOMMENDER_CANDIDATES)
    assert (
        best["family"] == comparison.loc[comparison.cv_f1_tuned.idxmax(), "family"] == outputs["recommender"]["family"]
    )
    assert best["test_metrics"] == outputs[exported("test_metrics", best["family"])]
    assert outputs["recommender"]["threshold"] == outputs[f"{best['family']}.threshold"]


def test_fairness_audit_covers_every_family_by_gender_age_and_proxies(outputs):
    audit = outputs["fairness_audit"]
    assert {"family", "attribute", "group", "n", "selection_rate", "recall", "fpr", "disparate_impact"} <= set(audit)
    assert set(audit.family) == set(MODEL_FAMILIES)
    assert set(audit.attribute) == {"gender", "age_band", "region", "department"}
    gender = audit[audit.attribute == "gender"]
    assert set(gender.group) == {"f", "m"} and (gender.groupby("family").n.sum() == 500).all()
    assert (gender[gender.group == "m"].disparate_impact == 1).all()
    assert not audit[audit.role == "proxy"].flagged.any()
    summary = outputs["fairness_summary"]
    assert set(summary.family) == set(MODEL_FAMILIES) and len(summary) == 4 * len(MODEL_FAMILIES)
    for family in MODEL_FAMILIES:
        intervals = outputs[f"{family}.test_metric_intervals"].set_index("metric")
        assert intervals.loc["f1", "value"] == pytest.approx(outputs[exported("test_metrics", family)]["f1"])
        assert (intervals["low"] <= intervals["value"]).all() and (intervals["value"] <= intervals["high"]).all()
        calibration = outputs[f"{family}.calibration"]
        assert family == "svm" or 0 <= calibration["expected_calibration_error"] <= 1


def test_permutation_importance_names_original_columns(outputs):
    importance = outputs["permutation_importance"]
    assert set(importance.feature) == set(outputs["full_features_train"].columns)
    assert importance.feature.iloc[0] in {"avg_training_score", "previous_year_rating", "awards_won?", "department"}


def test_feature_reducer_feeds_only_the_families_that_use_it():
    """No false edge: ``feature_reducer`` is an input of a family's nodes only when its block sets use_reducer."""
    pipeline = create_pipeline()
    readers = {node.namespace for node in pipeline.nodes if "feature_reducer" in node.inputs}
    assert (
        readers == {name for name, family in MODELS.families.items() if family.use_reducer} == {"random_forest", "svm"}
    )


def test_families_come_from_their_parameter_blocks():
    """A family passed in is a namespace with its feature set; candidates alone describe themselves."""
    from promotion_cnn.model_lists import TabularFamily

    families = {"extra_trees": TabularFamily("extra_trees", "full", False, True)}
    pipeline = create_pipeline(families=families)
    assert {n.namespace for n in pipeline.nodes} == {"extra_trees", None}
    assert {"full_features_train", "candidate_extra_trees", "test_metrics_extra_trees"} <= pipeline.datasets()
    assert "feature_reducer" not in pipeline.inputs()


def test_nodes_without_reducer_keep_their_function_names_in_parallel_runner_workers():
    """ParallelRunner sends nodes with multiprocessing's pickler, which rebuilds a plain partial without its
    attributes: Kedro then warned on every run that the node "is made from a 'partial' function"."""
    nodes = create_template(use_reducer=False).nodes
    copies = [pickle.loads(ForkingPickler.dumps(node)) for node in nodes]
    assert [copy.func.__name__ for copy in copies] == [node.func.__name__ for node in nodes]
