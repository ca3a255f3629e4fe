"""The image pipelines end to end on tiny digits through the project's catalog, and their wiring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator

from promotion_cnn.model_lists import exported, load_model_lists
from promotion_cnn.pipelines.data_processing import create_image_pipeline
from promotion_cnn.pipelines.image_modelling import create_pipeline
from promotion_cnn.settings import CONFIG_LOADER_ARGS

OUTPUTS = ("trained_model", "history", "val_metrics", "val_confusion_matrix", "model_summary")
CROSS_MODEL = {"history", "val_metrics", "val_confusion_matrix"}  # mapped out of the namespace: <name>_<model>
IMAGE_MODELS = tuple(load_model_lists().image_models)  # the project's image models (conf/base)
TABULAR_NAMES = {
    "model",
    "threshold",
    "variant_scores",
    "test_metrics",
    "confusion_matrix",
    "roc_curve",
    "pr_curve",
    "threshold_curve",
    "oof_scores",
    "fitted_variants",
    "selected_variant",
}


def project_catalog(project: Path, env: str, raw_folder: Path) -> DataCatalog:
    """The project's catalog for ``env`` with the raw image folder swapped, as a user would in conf/local."""
    loader = OmegaConfigLoader(str(project / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env})
    config = dict(loader["catalog"])
    config["images_raw"] = {"type": "promotion_cnn.datasets.ImageFolderDataset", "path": str(raw_folder)}
    return DataCatalog.from_config(config)


def test_every_model_is_a_tagged_namespace_with_the_agreed_outputs() -> None:
    pipeline = create_pipeline()
    # the list itself (from the parameter blocks) is checked in tests/test_model_lists.py
    for name in IMAGE_MODELS:
        nodes = pipeline.only_nodes_with_namespaces([name]).nodes
        assert [n.name.split(".")[-1] for n in nodes] == [
            "build_model",
            "summarise_model",
            "train_model",
            "evaluate_model",
        ]
        assert all(n.tags == {"image", name} for n in nodes)
        outputs = {exported(o, name) if o in CROSS_MODEL else f"{name}.{o}" for o in OUTPUTS}
        assert outputs <= pipeline.all_outputs()
    assert not {d.split(".", 1)[-1] for d in pipeline.all_outputs()} & TABULAR_NAMES
    assert pipeline.inputs() == {
        "images_raw",
        "image_manifest",
        "image_class_counts",
        "params:image_training",
        *(f"params:{n}" for n in IMAGE_MODELS),
    }


def test_catalog_factories_give_each_namespace_its_own_files(project_root: Path, tmp_path: Path) -> None:
    catalog = project_catalog(project_root, "base", tmp_path)
    for name in IMAGE_MODELS:
        for output in (*OUTPUTS, "train_timing"):
            dataset = catalog.get(exported(output, name) if output in CROSS_MODEL else f"{name}.{output}")
            assert f"/{name}/{output}" in str(dataset._describe()["filepath"]), (name, output)
    assert type(catalog.get("lenet.trained_model")).__name__ == "ImageModelDataset"
    assert type(catalog.get("image_samples_val@figure")).__name__ == "MatplotlibDataset"


def test_whole_image_pipeline_runs_on_tiny_images(
    project_root: Path, load_parameters, tiny_digits: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the catalog's relative data/ paths land here
    catalog = project_catalog(project_root, "quick", tiny_digits)
    parameters = load_parameters("quick")
    parameters["image_validation"] = {**parameters["image_validation"], "max_images_per_class": 2}
    pipeline = create_image_pipeline() + create_pipeline()
    for key, value in ParameterValidator({"image": pipeline}).validate_raw_params(parameters).items():
        catalog[f"params:{key}"] = value  # typed, as a run gives them
    SequentialRunner().run(pipeline, catalog)

    assert catalog.load("image_class_counts")["count"].tolist() == [2] * 20
    assert catalog.load("image_issues").empty
    assert Path("data/03_primary/image_manifest.parquet").exists()
    assert len(list(Path("data/08_reporting").glob("image_samples_*.png/*/*.png"))) == 2
    for name in IMAGE_MODELS:
        metrics = catalog.load(exported("val_metrics", name))
        assert metrics["epochs"] == (2 if name in ("alexnet_25_epochs", "resnet") else 1) and metrics["n_val"] == 20
        assert 0 <= metrics["val_accuracy"] <= 1
        history = catalog.load(exported("history", name))
        assert list(history.columns[:5]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
        assert catalog.load(exported("val_confusion_matrix", name)).drop(columns="actual").to_numpy().sum() == 20
        artifact = catalog.load(f"{name}.trained_model")  # the model describes itself, and the metrics name it
        assert artifact["model"].count_params() == metrics["n_params"]
        assert artifact["version"] == metrics["model_version"] and artifact["classes"] == metrics["classes"]
        assert artifact["model"].get_layer("rescale").scale == 1 / 255  # preprocessing travels with the model
        assert f"Total params: {metrics['n_params']:,}" in catalog.load(f"{name}.model_summary")
    assert catalog.load("val_metrics_lenet_batch_8")["batch_size"] == 8


def test_importing_the_registry_and_pipelines_does_not_import_tensorflow(project_root: Path) -> None:
    code = (
        "import sys\n"
        "from kedro.framework.startup import bootstrap_project\n"
        f"bootstrap_project({str(project_root)!r})\n"
        "from promotion_cnn.pipeline_registry import register_pipelines\n"
        "import promotion_cnn.datasets, promotion_cnn.pipelines.data_processing.pipeline\n"
        "import promotion_cnn.pipelines.image_modelling.pipeline, promotion_cnn.pipelines.tabular_modelling.pipeline\n"
        "pipelines = register_pipelines()\n"
        "assert len(pipelines['image_modelling'].nodes) > 36, len(pipelines['image_modelling'].nodes)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'})\n"
        "print(loaded[:5])\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=project_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("env", ["base", "quick"])
def test_every_namespace_has_parameters(load_parameters, env: str) -> None:
    parameters = load_parameters(env)
    for name in IMAGE_MODELS:
        assert {"architecture", "image_size"} <= set(parameters[name]), (env, name)
