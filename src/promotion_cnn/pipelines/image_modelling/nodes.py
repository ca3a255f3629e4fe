"""Nodes of the generic build -> train -> evaluate template for image classifiers (Keras imported inside)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from .architectures import build_architecture
from .input_pipeline import make_dataset

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def settings(model: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    """The shared training defaults overridden by the model's own ``training`` block."""
    return {**training, **(model.get("training") or {})}


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


def _describe(model: dict[str, Any], run: dict[str, Any]) -> str:
    return f"{model['architecture']} {model['image_size']}px batch {run['batch_size']}"


def build_model(class_counts: pd.DataFrame, model: dict[str, Any], training: dict[str, Any]) -> Any:
    """Uncompiled Keras model of the configured architecture, one softmax output per class, seeded weights."""
    import keras

    keras.utils.set_random_seed(settings(model, training)["seed"])
    n_classes = int(class_counts["label"].nunique())
    network = build_architecture(model["architecture"], model["image_size"], n_classes, model.get("layers"))
    logger.info("Built %s: %d classes, %s parameters", _describe(model, settings(model, training)), n_classes,
                f"{network.count_params():,}")  # fmt: skip
    return network


def summarise_model(network: Any) -> str:
    """The Keras model summary as plain text."""
    lines: list[str] = []
    network.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


def _progress_logger(name: str, n_batches: int, epochs: int, every_seconds: float, budget_seconds: float | None) -> Any:
    """Keras callback that logs progress within and after each epoch and stops before a time budget runs out."""
    import keras

    class ProgressLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.start = time.perf_counter()
            self.epoch_seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.epoch_start = epoch + 1, time.perf_counter()
            self.last_report = self.epoch_start

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            if now - self.last_report >= every_seconds:
                self.last_report = now
                logger.info("%s: epoch %d/%d, batch %d/%d, loss %.4f, accuracy %.4f", name, self.epoch, epochs,
                            batch + 1, n_batches, logs.get("loss", np.nan), logs.get("accuracy", np.nan))  # fmt: skip

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_seconds.append(time.perf_counter() - self.epoch_start)
            logs = logs or {}
            logger.info("%s: epoch %d/%d done in %.1f s: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f",
                        name, epoch + 1, epochs, self.epoch_seconds[-1], logs.get("loss", np.nan),
                        logs.get("accuracy", np.nan), logs.get("val_loss", np.nan),
                        logs.get("val_accuracy", np.nan))  # fmt: skip
            expected_end = time.perf_counter() - self.start + np.mean(self.epoch_seconds)
            if budget_seconds is not None and epoch + 1 < epochs and expected_end > budget_seconds:
                logger.warning("%s: stopping after epoch %d/%d: another epoch would exceed the time budget of %.0f s",
                               name, epoch + 1, epochs, budget_seconds)  # fmt: skip
                self.model.stop_training = True

    return ProgressLogger()


def train_model(
    network: Any, manifest: pd.DataFrame, model: dict[str, Any], training: dict[str, Any]
) -> tuple[Any, pd.DataFrame, dict[str, Any]]:
    """Fit a copy of the built model on the training images; return it, the per-epoch history and timings."""
    import keras

    run = settings(model, training)
    keras.utils.set_random_seed(run["seed"])
    classes = class_names(manifest)
    train_paths, train_labels = _split(manifest, "train", classes)
    val_paths, val_labels = _split(manifest, "val", classes)
    size, batch = model["image_size"], run["batch_size"]
    train_data = make_dataset(train_paths, train_labels, size, batch, run["seed"], run["shuffle_buffer"])
    val_data = make_dataset(val_paths, val_labels, size, batch)
    trained = keras.models.clone_model(network)
    trained.set_weights(network.get_weights())
    optimizer_config = {"learning_rate": run["learning_rate"], **(run.get("optimizer_args") or {})}
    optimizer = keras.optimizers.get({"class_name": run["optimizer"], "config": optimizer_config})
    trained.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    budget = run.get("time_budget_minutes")
    progress = _progress_logger(_describe(model, run), int(np.ceil(len(train_paths) / batch)), run["epochs"],
                                run["progress_seconds"], None if budget is None else 60 * budget)  # fmt: skip
    logger.info("Training %s on %d images, validating on %d, for %d epoch(s) with %s (learning rate %g)",
                _describe(model, run), len(train_paths), len(val_paths), run["epochs"], run["optimizer"],
                run["learning_rate"])  # fmt: skip
    start = time.perf_counter()
    fitted = trained.fit(train_data, validation_data=val_data, epochs=run["epochs"], callbacks=[progress],
                         verbose=run["keras_verbose"], shuffle=False)  # fmt: skip  (the data is shuffled already)
    seconds = time.perf_counter() - start
    history = pd.DataFrame(fitted.history).assign(epoch=lambda h: np.arange(1, len(h) + 1))
    history["seconds"] = progress.epoch_seconds
    epochs_run = len(history)
    timing = {
        "train_seconds": round(seconds, 2),
        "images_per_second": round(len(train_paths) * epochs_run / seconds, 2),
        "epochs": epochs_run,
        "epochs_planned": run["epochs"],
        "stopped_by_time_budget": epochs_run < run["epochs"],
        "n_train": len(train_paths),
    }
    logger.info("Trained %s: %s", _describe(model, run), timing)
    return trained, history[HISTORY_COLUMNS], timing


def evaluate_model(
    trained: Any,
    manifest: pd.DataFrame,
    model: dict[str, Any],
    training: dict[str, Any],
    history: pd.DataFrame,
    timing: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Final validation metrics (with the training history's last and best epochs) and the confusion matrix."""
    import keras

    run = settings(model, training)
    classes = class_names(manifest)
    val_paths, val_labels = _split(manifest, "val", classes)
    val_data = make_dataset(val_paths, val_labels, model["image_size"], run["batch_size"])
    probabilities = trained.predict(val_data, verbose=0)
    truth = np.asarray(val_labels)
    predicted = probabilities.argmax(axis=1)
    loss = keras.losses.sparse_categorical_crossentropy(truth, probabilities)
    last = history.iloc[-1]
    metrics = {
        "architecture": model["architecture"],
        "val_accuracy": float(np.mean(predicted == truth)),
        "val_loss": float(np.mean(keras.ops.convert_to_numpy(loss))),
        "train_accuracy": float(last["accuracy"]),
        "train_loss": float(last["loss"]),
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "best_epoch": int(history.loc[history["val_accuracy"].idxmax(), "epoch"]),
        "n_params": int(trained.count_params()),
        "image_size": int(model["image_size"]),
        "batch_size": int(run["batch_size"]),
        "optimizer": run["optimizer"],
        "learning_rate": float(run["learning_rate"]),
        "n_val": len(val_paths),
        "classes": classes,
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
