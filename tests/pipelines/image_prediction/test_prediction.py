"""image_prediction: model selection, predictions on a folder with unreadable files, the CLI run after training."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro_datasets.partitions import PartitionedDataset
from kedro_datasets.tensorflow import TensorFlowModelDataset

from promotion_cnn.datasets import ImageFileListDataset, write_digits_folder
from promotion_cnn.pipelines.image_prediction.nodes import PREDICTION_COLUMNS, predict_images, select_image_model

PROJECT = Path(__file__).resolve().parents[3]
METRICS = {
    "lenet": {"val_accuracy": 0.6, "classes": ["a", "b"], "image_size": 32},
    "resnet": {"val_accuracy": 0.9, "classes": ["a", "b"], "image_size": 64},
    "alexnet": None,
}


def test_best_or_named_model_is_selected_among_the_trained_ones() -> None:
    assert select_image_model({"model": "best"}, **METRICS)["model"] == "resnet"
    chosen = select_image_model({"model": "lenet"}, **METRICS)
    assert chosen == {"model": "lenet", "val_accuracy": 0.6, "classes": ["a", "b"], "image_size": 32}
    with pytest.raises(ValueError, match="'alexnet', which has not been trained yet"):
        select_image_model({"model": "alexnet"}, **METRICS)
    with pytest.raises(ValueError, match="'vgg', which is not an image model"):
        select_image_model({"model": "vgg"}, **METRICS)
    with pytest.raises(ValueError, match="run `kedro run --pipeline image_modelling` first"):
        select_image_model({"model": "best"}, lenet=None)


@pytest.fixture(scope="module")
def new_images(tmp_path_factory) -> Path:
    """Twenty digit images in sub-folders, plus a truncated PNG and a text file."""
    digits = tmp_path_factory.mktemp("digits")
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
    for version, bias in (("2026-01-01T00.00.00.000Z", 0.0), ("2026-02-01T00.00.00.000Z", 5.0)):
        model = keras.Sequential(
            [keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        )
        model.layers[-1].set_weights([np.zeros((768, 10)), np.eye(10)[3] * bias])  # the newer one says "3"
        TensorFlowModelDataset(
            filepath=str(root / "tiny" / "trained_model.keras" / version / "trained_model.keras")
        ).save(model)
    return PartitionedDataset(path=str(root), dataset="tensorflow.TensorFlowModelDataset", filename_suffix=".keras")


def test_every_file_gets_a_row_and_unreadable_ones_a_problem(new_images: Path, saved_models, caplog) -> None:
    files = ImageFileListDataset(str(new_images)).load()
    selected = {"model": "tiny", "classes": [f"digit_{d}" for d in range(10)], "image_size": 16, "val_accuracy": 1.0}
    table = predict_images(files, saved_models.load(), selected, {"top_k": 3, "batch_size": 8})
    assert list(table.columns) == PREDICTION_COLUMNS and len(table) == len(files) == 22
    bad = table.set_index("file").loc[["broken.png", "notes.txt"]]
    assert bad["predicted_class"].isna().all() and bad["problem"].str.contains("truncated|not an image").all()
    good = table[table["problem"].isna()]
    assert len(good) == 20 and (good["predicted_class"] == "digit_3").all()  # the latest version was used
    assert good["probability"].between(0, 1).all() and good["top_classes"].str.count(r"\(").eq(3).all()
    assert (good["model"] == "tiny").all() and "broken.png" in caplog.text and "notes.txt" in caplog.text


def test_empty_or_missing_folder_and_unsaved_model_are_named(tmp_path: Path, new_images: Path, saved_models) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files to predict"):
        predict_images(ImageFileListDataset(str(tmp_path / "empty")).load(), {}, {}, {"top_k": 3, "batch_size": 8})
    with pytest.raises(DatasetError, match="'.*nowhere' does not exist"):
        ImageFileListDataset(str(tmp_path / "nowhere")).load()
    selected = {"model": "resnet", "classes": ["a"], "image_size": 16, "val_accuracy": 1.0}
    with pytest.raises(ValueError, match="No saved 'resnet' model"):
        predict_images(
            ImageFileListDataset(str(new_images)).load(), saved_models.load(), selected, {"top_k": 3, "batch_size": 8}
        )


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_cli_predicts_after_training_and_explains_when_nothing_is_trained(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT,
        project,
        ignore=shutil.ignore_patterns(
            ".git", "data", "local", "__pycache__", "*.egg-info", ".pytest_cache", "build", "*.log"
        ),
    )
    before = _kedro(project, "--pipeline", "image_prediction", "--env", "quick")
    assert (
        before.returncode != 0 and "run `kedro run --pipeline image_modelling` first" in before.stdout + before.stderr
    )
    for step in (
        ["data_processing", "--tags", "image", "--params", "image_validation.max_images_per_class=4"],
        ["image_modelling", "--namespaces", "lenet,resnet"],
    ):
        trained = _kedro(project, "--env", "quick", "--pipeline", *step)
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    result = _kedro(
        project, "--pipeline", "image_prediction", "--env", "quick", "--params", "image_prediction.model=resnet"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(next((project / "data/07_model_output/image_predictions.csv").glob("*/image_predictions.csv")))
    assert len(table) == 100 and (table["model"] == "resnet").all() and table["problem"].isna().all()  # 10 per digit
    assert table["predicted_class"].str.startswith("digit_").all()
