"""Nodes of image_prediction: choose a trained image model, predict every readable new image (Keras inside)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from promotion_cnn.datasets.image_folder import ImageSet
from promotion_cnn.images.input_pipeline import make_dataset

from .params import ImagePrediction

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["file", "predicted_class", "probability", "top_classes", "model", "model_version", "problem"]


def select_image_model(image_prediction: ImagePrediction, **val_metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The model to predict with: the one named in ``image_prediction.model``, or the trained one with the best
    validation accuracy (``best``); absent metrics (models never trained) are ``None`` and left out. The choice
    names the exact saved model its metrics measured (``model_version``)."""
    trained = {name: metrics for name, metrics in val_metrics.items() if metrics}
    choice = image_prediction.model
    if not trained:
        raise ValueError("No trained image model was found: run `kedro run --pipelines image_modelling` first")
    if choice == "best":
        choice = max(trained, key=lambda name: trained[name]["val_accuracy"])
    elif choice not in trained:
        known = (
            "has not been trained yet" if choice in val_metrics else f"is not an image model ({sorted(val_metrics)})"
        )
        raise ValueError(f"image_prediction.model is '{choice}', which {known}; trained: {sorted(trained)}")
    metrics = trained[choice]
    version = metrics.get("model_version")
    if not version:
        raise ValueError(f"The validation metrics of '{choice}' name no model version: rerun image_modelling for it")
    logger.info("Predicting with %s, version %s (validation accuracy %.4f)", choice, version, metrics["val_accuracy"])
    return {"model": choice, "model_version": version, "val_accuracy": metrics["val_accuracy"]}


def load_model_version(trained_image_models: dict[str, Callable[[], Any]], name: str, version: str) -> dict[str, Any]:
    """The saved model ``name`` of exactly ``version`` (the run that trained it), with its description."""
    keys = [key for key in trained_image_models if key.split("/")[0] == name and version in key.split("/")]
    if not keys:
        saved = sorted({key.split("/")[-2] for key in trained_image_models if key.split("/")[0] == name})
        raise ValueError(
            f"No saved '{name}' model of version {version} in trained_image_models (saved versions: {saved}): "
            "rerun image_modelling for it"
        )
    artifact = trained_image_models[keys[0]]()
    if artifact.get("version") != version:
        raise ValueError(f"{keys[0]} describes itself as version {artifact.get('version')}, not {version}")
    return artifact


def predict_images(
    new_images: ImageSet,
    trained_image_models: dict[str, Callable[[], Any]],
    selected_model: dict[str, Any],
    image_prediction: ImagePrediction,
) -> pd.DataFrame:
    """One row per file: predicted class, its probability and the top classes; unreadable files get a ``problem``."""
    files = new_images.files
    source = files.attrs.get("source", "new_images")
    if files.empty:
        raise ValueError(f"{source} holds no files to predict")
    problems = pd.Series([new_images.inspect(path)[0] for path in files["path"]], index=files.index)
    bad, good = files[problems.notna()], files[problems.isna()]
    if len(bad):
        logger.warning(
            "%d of %d file(s) in %s cannot be read and are not predicted: %s",
            len(bad),
            len(files),
            source,
            "; ".join(f"{f}: {problems[i]}" for i, f in bad["file"].items()),
        )
    name, version, top_k = selected_model["model"], selected_model["model_version"], image_prediction.top_k
    table = files[["file"]].assign(
        predicted_class=None, probability=np.nan, top_classes=None, model=name, model_version=version, problem=problems
    )
    if len(good):
        artifact = load_model_version(trained_image_models, name, version)
        classes = np.asarray(artifact["classes"])
        data = make_dataset(
            new_images, good["path"].tolist(), [0] * len(good), artifact["eval_image_size"], image_prediction.batch_size
        )
        probabilities = artifact["model"].predict(data.map(lambda x, _: x), verbose=0)
        top = np.argsort(-probabilities, axis=1)[:, :top_k]
        rows = good.index
        table.loc[rows, "predicted_class"] = classes[top[:, 0]]
        table.loc[rows, "probability"] = probabilities[np.arange(len(good)), top[:, 0]]
        table.loc[rows, "top_classes"] = [
            ", ".join(f"{classes[c]} ({p[c]:.3f})" for c in t) for t, p in zip(top, probabilities)
        ]
    logger.info("Predicted %d image(s) with %s version %s; %d unreadable", len(good), name, version, len(bad))
    return table[PREDICTION_COLUMNS].reset_index(drop=True)
