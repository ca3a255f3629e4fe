"""Nodes of the generic build -> train -> evaluate template for image classifiers (Keras imported inside)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from promotion_cnn.datasets.image_folder import ImageSet
from promotion_cnn.images.input_pipeline import make_dataset

from .architectures import build_architecture
from .params import ImageModel, ImageTraining
from .training import (
    build_before_fit,
    compiled_copy,
    distribute_batches,
    distribution_strategy,
    keep_best_callback,
    plain_copy,
    progress_logger,
    strategy_scope,
    warn_if_emulated_precision,
)

logger = logging.getLogger(__name__)

# Keras' seeds (keras.utils.set_random_seed) and precision policy are process-wide: under ThreadRunner two CNNs
# building or training at once would draw from each other's seeds. One at a time; other nodes still run beside them.
_KERAS_STATE = threading.Lock()


def one_at_a_time(function: Callable[..., Any]) -> Callable[..., Any]:
    """The node function holding the process's Keras lock while it runs."""

    @functools.wraps(function)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _KERAS_STATE:
            return function(*args, **kwargs)

    return locked


HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def settings(model: ImageModel, training: ImageTraining) -> dict[str, Any]:
    """The shared training settings overridden by the keys the model's own ``training`` block sets, as a dict."""
    return {**training.model_dump(), **model.training.model_dump(exclude_unset=True)}


def class_names(manifest: pd.DataFrame) -> list[str]:
    """Sorted class labels of the training split; a label's position is its class index."""
    return sorted(manifest.loc[manifest["split"] == "train", "label"].unique().tolist())


def _split(manifest: pd.DataFrame, split: str, classes: list[str]) -> tuple[list[str], list[int]]:
    rows = manifest[manifest["split"] == split]
    unknown = sorted(set(rows["label"]) - set(classes))
    if unknown:
        raise ValueError(f"'{split}' images have label(s) {unknown} that the model was not built for ({classes})")
    index = {c: i for i, c in enumerate(classes)}
    return rows["path"].tolist(), [index[c] for c in rows["label"]]


def eval_size(model: ImageModel) -> int:
    """The validation / prediction input size: ``eval_image_size`` (fully convolutional models only), else image_size."""
    return int(model.eval_image_size or model.image_size)


def _describe(model: ImageModel, run: dict[str, Any]) -> str:
    return f"{model.architecture} {model.image_size}px batch {run['batch_size']}"


@one_at_a_time
def build_model(class_counts: pd.DataFrame, model: ImageModel, training: ImageTraining) -> Any:
    """Uncompiled Keras model of the configured architecture, one softmax output per class, seeded weights."""
    import keras

    run = settings(model, training)
    distribution_strategy(run)  # multi_worker: created before TensorFlow's first operation in the process
    keras.utils.set_random_seed(run["seed"])
    n_classes = int(class_counts["label"].nunique())
    warn_if_emulated_precision(run["precision"], _describe(model, run))
    network = build_architecture(model.architecture, model.image_size, n_classes, model.layers, run["precision"])
    logger.info(
        "Built %s: %d classes, %s parameters, %s precision",
        _describe(model, run),
        n_classes,
        f"{network.count_params():,}",
        run["precision"],
    )
    return network


def summarise_model(network: Any) -> str:
    """The Keras model summary as plain text."""
    lines: list[str] = []
    network.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


@one_at_a_time
def train_model(
    network: Any, images: ImageSet, manifest: pd.DataFrame, model: ImageModel, training: ImageTraining
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Fit a copy of the built model on the manifest's training images; return it with its description (classes, input
    sizes: all a predictor needs), the per-epoch history and timings."""
    import keras
    import tensorflow as tf

    run = settings(model, training)
    strategy = distribution_strategy(run)  # None unless `distribution` is set
    keras.utils.set_random_seed(run["seed"])
    classes = class_names(manifest)
    train_paths, train_labels = _split(manifest, "train", classes)
    val_paths, val_labels = _split(manifest, "val", classes)
    size, batch = model.image_size, run["batch_size"]
    n_classes, n_batches = len(classes), int(np.ceil(len(train_paths) / batch))
    train_data = make_dataset(
        images, train_paths, train_labels, size, batch, run["seed"], run["shuffle_buffer"], run.get("augmentation")
    )
    trained_size = network.input_shape[1]  # a fixed input size: evaluation must use it too
    if trained_size and eval_size(model) != trained_size:
        raise ValueError(
            f"{model.architecture} takes only {trained_size}px inputs, so eval_image_size "
            f"({model.eval_image_size}) must be null or {trained_size}"
        )
    val_data = make_dataset(images, val_paths, val_labels, eval_size(model), batch)
    train_data, val_data = (
        distribute_batches(d.map(lambda x, y: (x, tf.one_hot(y, n_classes))), strategy, batch)
        for d in (train_data, val_data)
    )
    budget = run.get("time_budget_minutes")
    progress = progress_logger(
        _describe(model, run),
        n_batches,
        run["epochs"],
        run["progress_seconds"],
        None if budget is None else 60 * budget,
    )
    keep_best = keep_best_callback(run)
    logger.info(
        "Training %s on %d images, validating on %d, for %d epoch(s) with %s (learning rate %g, %s)",
        _describe(model, run),
        len(train_paths),
        len(val_paths),
        run["epochs"],
        run["optimizer"],
        run["learning_rate"],
        run.get("lr_schedule", "constant"),
    )
    with strategy_scope(strategy):  # the training copy is built, compiled and fitted inside the strategy's scope
        trained = compiled_copy(network, run, n_batches)
        build_before_fit(trained, strategy, train_data.element_spec)
        start = time.perf_counter()
        fitted = trained.fit(
            train_data,
            validation_data=val_data,
            epochs=run["epochs"],
            callbacks=[progress] + ([keep_best] if keep_best else []),
            verbose=run["keras_verbose"],
            shuffle=False,
        )  # shuffle=False: the data is shuffled already
        seconds = time.perf_counter() - start
    trained = trained if strategy is None else plain_copy(trained)
    history = pd.DataFrame(fitted.history).assign(epoch=lambda h: np.arange(1, len(h) + 1))
    history["seconds"] = progress.epoch_seconds
    epochs_run = len(history)
    timing = {
        "train_seconds": round(seconds, 2),
        "images_per_second": round(len(train_paths) * epochs_run / seconds, 2),
        "epochs": epochs_run,
        "epochs_planned": run["epochs"],
        "stopped_by_time_budget": progress.stopped_by_budget,
        "stopped_early": bool(keep_best and keep_best.stopped_epoch > 0),
        "weights_from_epoch": int(history["val_accuracy"].idxmax() + 1) if run.get("keep_best") else epochs_run,
        "n_train": len(train_paths),
    }
    logger.info("Trained %s: %s", _describe(model, run), timing)
    artifact = {
        "model": trained,
        "architecture": model.architecture,
        "classes": classes,
        "image_size": int(size),
        "eval_image_size": eval_size(model),
        "input": "RGB, raw pixel values 0-255 (the model rescales)",
    }
    return artifact, history[HISTORY_COLUMNS], timing


def evaluate_model(
    trained: dict[str, Any],
    images: ImageSet,
    manifest: pd.DataFrame,
    model: ImageModel,
    training: ImageTraining,
    history: pd.DataFrame,
    timing: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Final validation metrics (with the training history's last and best epochs) and the confusion matrix.

    The metrics name the saved model they measured (``model_version``: the run that trained it).
    """
    import keras

    run = settings(model, training)
    classes = trained["classes"]
    val_paths, val_labels = _split(manifest, "val", classes)
    val_data = make_dataset(images, val_paths, val_labels, eval_size(model), run["batch_size"])
    probabilities = trained["model"].predict(val_data, verbose=0)
    truth = np.asarray(val_labels)
    predicted = probabilities.argmax(axis=1)
    loss = keras.losses.sparse_categorical_crossentropy(truth, probabilities)
    last = history.iloc[-1]
    metrics = {
        "architecture": model.architecture,
        "val_accuracy": float(np.mean(predicted == truth)),
        "val_loss": float(np.mean(keras.ops.convert_to_numpy(loss))),
        "train_accuracy": float(last["accuracy"]),
        "train_loss": float(last["loss"]),
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "best_epoch": int(history.loc[history["val_accuracy"].idxmax(), "epoch"]),
        "n_params": int(trained["model"].count_params()),
        "image_size": int(model.image_size),
        "eval_image_size": eval_size(model),
        "batch_size": int(run["batch_size"]),
        "optimizer": run["optimizer"],
        "lr_schedule": run.get("lr_schedule", "constant"),
        "precision": run.get("precision", "float32"),
        "learning_rate": float(run["learning_rate"]),
        "n_val": len(val_paths),
        "classes": classes,
        "model_version": trained.get("version", "unsaved"),
        **timing,
    }
    logger.info("Validation: %s", {k: v for k, v in metrics.items() if k != "classes"})
    matrix = pd.crosstab(
        pd.Categorical(np.asarray(classes)[truth], categories=classes),
        pd.Categorical(np.asarray(classes)[predicted], categories=classes),
        dropna=False,
    )
    matrix = matrix.rename_axis(index="actual", columns=None).reset_index()
    matrix["actual"] = matrix["actual"].astype("str")
    return metrics, matrix
