"""image_prediction: model selection, predictions on a folder with unreadable files, the CLI run after training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import support
from kedro.io import DatasetError, Version
from kedro_datasets.partitions import PartitionedDataset

from promotion_cnn.datasets import ImageFileListDataset, ImageModelDataset, write_digits_folder
from promotion_cnn.pipelines.image_prediction.nodes import PREDICTION_COLUMNS, predict_images, select_image_model
from promotion_cnn.pipelines.image_prediction.params import ImagePrediction


def _params(model: str) -> ImagePrediction:
    return ImagePrediction(model=model, top_k=3, batch_size=8)


PROJECT = Path(__file__).resolve().parents[3]
METRICS = {
    "lenet": {"val_accuracy": 0.6, "classes": ["a", "b"], "image_size": 32, "model_version": "v1"},
    "resnet": {"val_accuracy": 0.9, "classes": ["a", "b"], "image_size": 64, "model_version": "v2"},
    "alexnet": None,
}
OLD, NEW = "2026-01-01T00.00.00.000Z", "2026-02-01T00.00.00.000Z"


def test_best_or_named_model_is_selected_among_the_trained_ones() -> None:
    assert select_image_model(_params("best"), **METRICS)["model"] == "resnet"
    chosen = select_image_model(_params("lenet"), **METRICS)
    assert chosen == {"model": "lenet", "model_version": "v1", "val_accuracy": 0.6}
    with pytest.raises(ValueError, match="name no model version"):
        select_image_model(_params("lenet"), lenet={"val_accuracy": 0.6})
    with pytest.raises(ValueError, match="'alexnet', which has not been trained yet"):
        select_image_model(_params("alexnet"), **METRICS)
    with pytest.raises(ValueError, match="'vgg', which is not an image model"):
        select_image_model(_params("vgg"), **METRICS)
    with pytest.raises(ValueError, match="run `kedro run --pipelines image_modelling` first"):
        select_image_model(_params("best"), lenet=None)


@pytest.fixture(scope="module")
def new_images(tmp_path_factory) -> Path:
    """Twenty digit images in sub-folders, plus a truncated PNG and a text file."""
    digits = tmp_path_factory.mktemp("images") / "digits"
    write_digits_folder(digits, image_size=16, images_per_class=10)
    folder = digits / "val"
    (folder / "broken.png").write_bytes((folder / "digit_0" / os.listdir(folder / "digit_0")[0]).read_bytes()[:60])
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> PartitionedDataset:
    """Two saved versions of a tiny Keras classifier in the catalog's layout, as a lazy partitioned dataset."""
    import keras

    root = tmp_path_factory.mktemp("models")
    for version, answer in ((OLD, 7), (NEW, 3)):  # the older one says "7", the newer one "3"
        model = keras.Sequential(
            [keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        )
        model.layers[-1].set_weights([np.zeros((768, 10)), np.eye(10)[answer] * 5.0])
        ImageModelDataset(filepath=str(root / "tiny" / "trained_model.keras"), version=Version(None, version)).save(
            {"model": model, "classes": [f"digit_{d}" for d in range(10)], "image_size": 16, "eval_image_size": 16}
        )
    return PartitionedDataset(
        path=str(root), dataset="promotion_cnn.datasets.ImageModelDataset", filename_suffix=".keras"
    )


def test_every_file_gets_a_row_and_unreadable_ones_a_problem(new_images: Path, saved_models, caplog) -> None:
    files = ImageFileListDataset(str(new_images)).load()
    selected = {"model": "tiny", "model_version": OLD, "val_accuracy": 1.0}
    table = predict_images(files, saved_models.load(), selected, _params("best"))
    assert list(table.columns) == PREDICTION_COLUMNS and len(table) == len(files.files) == 22
    bad = table.set_index("file").loc[["broken.png", "notes.txt"]]
    assert bad["predicted_class"].isna().all() and bad["problem"].str.contains("truncated|not an image").all()
    good = table[table["problem"].isna()]
    assert len(good) == 20 and (good["predicted_class"] == "digit_7").all()  # the selected version, not the latest
    assert (table["model_version"] == OLD).all()
    newer = predict_images(
        files,
        saved_models.load(),
        {**selected, "model_version": NEW},
        ImagePrediction(model="best", top_k=1, batch_size=8),
    )
    assert (newer.dropna(subset="predicted_class")["predicted_class"] == "digit_3").all()
    assert good["probability"].between(0, 1).all() and good["top_classes"].str.count(r"\(").eq(3).all()
    assert (good["model"] == "tiny").all() and "broken.png" in caplog.text and "notes.txt" in caplog.text


def test_empty_or_missing_folder_and_unsaved_model_are_named(tmp_path: Path, new_images: Path, saved_models) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files to predict"):
        predict_images(ImageFileListDataset(str(tmp_path / "empty")).load(), {}, {}, _params("best"))
    with pytest.raises(DatasetError, match="'.*nowhere' does not exist"):
        ImageFileListDataset(str(tmp_path / "nowhere")).load()
    files = ImageFileListDataset(str(new_images)).load()
    for selected, message in (
        ({"model": "resnet", "model_version": NEW}, "No saved 'resnet' model of version"),
        ({"model": "tiny", "model_version": "2025-01-01T00.00.00.000Z"}, rf"saved versions: \['{OLD}', '{NEW}'\]"),
    ):
        with pytest.raises(ValueError, match=message):
            predict_images(files, saved_models.load(), {**selected, "val_accuracy": 1.0}, _params("best"))


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    return support.kedro_run(project, "--env", "quick", *args, timeout=600)


def _versions(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*/"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A fresh copy where image_prediction first ran with nothing trained (its message is kept in
    ``nothing_trained.txt``), then the digits were validated, lenet and resnet trained, and lenet trained again."""
    project = support.copy_project(tmp_path_factory.mktemp("image_prediction") / "project")
    before = _kedro(project, "--pipelines", "image_prediction")
    assert before.returncode != 0
    (project / "nothing_trained.txt").write_text(before.stdout + before.stderr)
    for step in (
        ["data_processing", "--tags", "image", "--params", "image_validation.max_images_per_class=4"],
        ["image_modelling", "--namespaces", "lenet,resnet"],
        ["image_modelling", "--namespaces", "lenet"],
    ):
        result = _kedro(project, "--pipelines", *step)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_cli_predicts_after_training_and_explains_when_nothing_is_trained(trained: Path) -> None:
    assert "run `kedro run --pipelines image_modelling` first" in (trained / "nothing_trained.txt").read_text()
    result = _kedro(trained, "--pipelines", "image_prediction", "--params", "image_prediction.model=resnet")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (latest,) = _versions(trained / "data/07_model_output/image_predictions.csv")[-1:]
    table = pd.read_csv(next((trained / "data/07_model_output/image_predictions.csv" / latest).glob("*.csv")))
    assert len(table) == 60 and (table["model"] == "resnet").all() and table["problem"].isna().all()  # 6 per digit
    assert table["predicted_class"].str.startswith("digit_").all()
    (resnet,) = _versions(trained / "data/06_models/resnet/trained_model.keras")
    assert (table["model_version"] == resnet).all()


def test_prediction_names_the_model_it_loaded_after_a_crashed_training_run(trained: Path, kill_run_when) -> None:
    """lenet trained twice, a third training killed mid-epoch: prediction uses, and names, the second run's model."""
    models = trained / "data/06_models/lenet/trained_model.keras"
    summaries = trained / "data/08_reporting/lenet/model_summary.txt"
    first, second = _versions(models)
    command = support.kedro_command("--env", "quick", "--pipelines", "image_modelling")

    def summary_saved() -> bool:  # the summary is saved before training starts
        return len(_versions(summaries)) == 3

    killed = [*command, "--namespaces", "lenet", "--params", "image_training.epochs=100000"]
    assert (
        kill_run_when(killed, trained, support.kedro_env(trained), summary_saved, settle=2) == -signal.SIGKILL
    )  # killed mid-training
    assert len(_versions(summaries)) == 3  # the killed run's partial output is on disk ...

    result = _kedro(trained, "--pipelines", "image_prediction", "--params", "image_prediction.model=lenet")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "did not finish: rolled back" in output and len(_versions(summaries)) == 2  # ... until the next run
    metrics = json.loads(next((trained / "data/08_reporting/lenet/val_metrics.json").glob(f"{second}/*")).read_text())
    log = (trained / "logs" / "kedro_run.log").read_text()  # the console shows a summary, the log every line
    assert metrics["model_version"] == second and f"version {second} (validation accuracy" in log
    (latest,) = _versions(trained / "data/07_model_output/image_predictions.csv")[-1:]
    table = pd.read_csv(next((trained / "data/07_model_output/image_predictions.csv" / latest).glob("*.csv")))
    assert (table["model"] == "lenet").all() and (table["model_version"] == second).all() and first != second
