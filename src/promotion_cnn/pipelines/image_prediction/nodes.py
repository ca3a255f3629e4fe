"""Nodes of image_prediction: choose a trained image model, predict every readable new image (Keras inside)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from promotion_cnn.datasets.image_folder import inspect_image
from promotion_cnn.pipelines.image_modelling.input_pipeline import make_dataset

from .params import ImagePrediction

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["file", "predicted_class", "probability", "top_classes", "model", "problem"]


def select_image_model(image_prediction: ImagePrediction, **val_metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The model to predict with: the one named in ``image_prediction.model``, or the trained one with the best
    validation accuracy (``best``); absent metrics (models never trained) are ``None`` and left out."""
    trained = {name: metrics for name, metrics in val_metrics.items() if metrics}
    choice = image_prediction.model
    if not trained:
        raise ValueError("No trained image model was found: run `kedro run --pipeline image_modelling` first")
    if choice == "best":
        choice = max(trained, key=lambda name: trained[name]["val_accuracy"])
    elif choice not in trained:
        known = (
            "has not been trained yet" if choice in val_metrics else f"is not an image model ({sorted(val_metrics)})"
        )
        raise ValueError(f"image_prediction.model is '{choice}', which {known}; trained: {sorted(trained)}")
    metrics = trained[choice]
    logger.info("Predicting with %s (validation accuracy %.4f)", choice, metrics["val_accuracy"])
    size = metrics.get("eval_image_size", metrics["image_size"])  # the size the model was validated at
    return {"model": choice, "classes": metrics["classes"], "image_size": size, "val_accuracy": metrics["val_accuracy"]}


def _latest_model(trained_image_models: dict[str, Callable[[], Any]], name: str) -> Any:
    versions = sorted(key for key in trained_image_models if key.split("/")[0] == name)
    if not versions:
        raise ValueError(f"No saved '{name}' model was found in trained_image_models: run image_modelling for it")
    return trained_image_models[versions[-1]]()


def predict_images(
    new_images: pd.DataFrame,
    trained_image_models: dict[str, Callable[[], Any]],
    selected_model: dict[str, Any],
    image_prediction: ImagePrediction,
) -> pd.DataFrame:
    """One row per file: predicted class, its probability and the top classes; unreadable files get a ``problem``."""
    source = new_images.attrs.get("source", "new_images")
    if new_images.empty:
        raise ValueError(f"{source} holds no files to predict")
    problems = pd.Series([inspect_image(path)[0] for path in new_images["path"]], index=new_images.index)
    bad, good = new_images[problems.notna()], new_images[problems.isna()]
    if len(bad):
        logger.warning(
            "%d of %d file(s) in %s cannot be read and are not predicted: %s",
            len(bad),
            len(new_images),
            source,
            "; ".join(f"{f}: {problems[i]}" for i, f in bad["file"].items()),
        )
    classes, name, top_k = np.asarray(selected_model["classes"]), selected_model["model"], image_prediction.top_k
    table = new_images[["file"]].assign(
        predicted_class=None, probability=np.nan, top_classes=None, model=name, problem=problems
    )
    if len(good):
        model = _latest_model(trained_image_models, name)
        data = make_dataset(
            good["path"].tolist(),
            [0] * len(good),
            int(model.input_shape[1] or selected_model["image_size"]),
            image_prediction.batch_size,
        )
        probabilities = model.predict(data.map(lambda x, _: x), verbose=0)
        top = np.argsort(-probabilities, axis=1)[:, :top_k]
        rows = good.index
        table.loc[rows, "predicted_class"] = classes[top[:, 0]]
        table.loc[rows, "probability"] = probabilities[np.arange(len(good)), top[:, 0]]
        table.loc[rows, "top_classes"] = [
            ", ".join(f"{classes[c]} ({p[c]:.3f})" for c in t) for t, p in zip(top, probabilities)
        ]
    logger.info("Predicted %d image(s) with %s; %d unreadable", len(good), name, len(bad))
    return table[PREDICTION_COLUMNS].reset_index(drop=True)
