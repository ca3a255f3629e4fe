"""The models are listed once, as parameter blocks: the lists the pipelines are built from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from promotion_cnn.model_lists import ModelListError, TabularFamily, exported, load_model_lists, model_lists

PROJECT = Path(__file__).resolve().parents[1]
FAMILY = {"estimator": "sklearn.linear_model.LogisticRegression", "feature_set": "full", "use_reducer": False}


def test_the_project_declares_its_families_and_image_models_in_conf_base():
    models = load_model_lists(PROJECT)
    assert models.families == {
        "random_forest": TabularFamily("random_forest", "study", True, False),
        "svm": TabularFamily("svm", "study", True, False),
        "hist_gradient_boosting": TabularFamily("hist_gradient_boosting", "full", False, True),
        "logistic_regression": TabularFamily("logistic_regression", "full", False, True),
    }
    assert models.recommender_candidates == ("hist_gradient_boosting", "logistic_regression")
    assert tuple(models.image_models) == (
        "simple_cnn",
        "lenet",
        "alexnet",
        "lenet_batch_128",
        "lenet_batch_8",
        "lenet_size_128",
        "lenet_kernel_2",
        "lenet_dropout",
        "alexnet_25_epochs",
        "resnet",
    )
    assert models.image_models_of("lenet") == (
        "lenet",
        "lenet_batch_128",
        "lenet_batch_8",
        "lenet_size_128",
        "lenet_kernel_2",
        "lenet_dropout",
    )
    assert exported("test_metrics", "svm") == "test_metrics_svm"


def test_a_family_block_without_its_feature_set_fails_naming_the_block():
    block = {k: v for k, v in FAMILY.items() if k != "feature_set"}
    with pytest.raises(ModelListError, match=r"tabular family block 'extra_trees' has no feature_set"):
        model_lists({"extra_trees": block, "ok": {**FAMILY, "recommender_candidate": True}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_set": "pca"}, r"'extra_trees': feature_set is 'pca'"),
        ({"use_reducer": True}, r"'extra_trees': use_reducer needs feature_set study"),
        ({"feature_set": "study", "recommender_candidate": True}, r"recommender_candidate needs feature_set full"),
        ({"recommender_candidate": "yes"}, r"recommender_candidate must be true or false"),
    ],
)
def test_a_block_that_cannot_be_placed_fails_naming_block_and_key(change, message):
    with pytest.raises(ModelListError, match=message):
        model_lists({"extra_trees": {**FAMILY, **change}, "ok": {**FAMILY, "recommender_candidate": True}})


def test_adding_a_family_is_one_yaml_block(tmp_path):
    """A copy of the project with one more block in parameters_tabular_modelling.yml gets its namespace."""
    shutil.copytree(PROJECT / "conf", tmp_path / "conf")
    with (tmp_path / "conf/base/parameters_tabular_modelling.yml").open("a") as file:
        file.write(
            "\nextra_trees:\n  estimator: sklearn.ensemble.ExtraTreesClassifier\n  feature_set: study\n"
            "  use_reducer: true\n  variants: {default: {}}\n  threshold: {method: f1}\n"
        )
    with (tmp_path / "conf/base/parameters_image_modelling.yml").open("a") as file:
        file.write("\nlenet_wide:\n  <<: *lenet\n  layers: {<<: *lenet_layers, filters: [12, 32]}\n")
    models = load_model_lists(tmp_path)
    assert models.families["extra_trees"] == TabularFamily("extra_trees", "study", True, False)
    assert list(models.image_models)[-1] == "lenet_wide" and "lenet_wide" in models.image_models_of("lenet")
    from promotion_cnn.pipelines.reporting import create_pipeline as reporting
    from promotion_cnn.pipelines.tabular_modelling import create_pipeline as tabular

    assert "extra_trees.evaluate_variants" in {n.name for n in tabular(families=models.families).nodes}
    report = reporting(families=models.families, image_models=models.image_models)
    lenet_table = next(n for n in report.nodes if n.name == "tabulate_lenet_variants")
    assert "val_metrics_lenet_wide" in lenet_table.inputs
    assert {"test_metrics_extra_trees", "report_section_extra_trees"} <= report.datasets()


def test_environments_cannot_add_a_model(tmp_path):
    """Namespaces are declared in conf/base; a block only in another environment is not a model."""
    shutil.copytree(PROJECT / "conf", tmp_path / "conf")
    (tmp_path / "conf/real/parameters_extra.yml").write_text(
        "extra_trees:\n  estimator: sklearn.ensemble.ExtraTreesClassifier\n  feature_set: study\n"
    )
    assert "extra_trees" not in load_model_lists(tmp_path).families
