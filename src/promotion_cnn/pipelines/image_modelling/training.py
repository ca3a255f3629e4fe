"""Training settings turned into Keras objects: optimiser with its learning-rate schedule, loss and callbacks.

Every choice comes from the ``image_training`` parameters (or a model's ``training``
block); the defaults reproduce the study (constant learning rate, plain cross-entropy,
the last epoch's weights). Keras is imported inside the functions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

SCHEDULES = ("constant", "cosine")


def learning_rate(run: dict[str, Any], steps_per_epoch: int) -> Any:
    """The learning rate: a float (``constant``), or linear warm-up then cosine decay over the planned epochs."""
    import keras

    schedule = run.get("lr_schedule", "constant")
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    if schedule == "constant":
        return run["learning_rate"]
    warmup_steps = int(round(run.get("warmup_epochs", 0) * steps_per_epoch))
    decay_steps = max(run["epochs"] * steps_per_epoch - warmup_steps, 1)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(
            run["learning_rate"], decay_steps, alpha=run.get("min_lr_fraction", 0.0)
        )
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps,
        alpha=run.get("min_lr_fraction", 0.0),
        warmup_target=run["learning_rate"],
        warmup_steps=warmup_steps,
    )


def make_optimizer(run: dict[str, Any], steps_per_epoch: int) -> Any:
    """The named Keras optimiser (``adam``, ``adamw``, ``sgd``, ...) with ``optimizer_args`` (e.g. weight_decay)."""
    import keras

    optimizer_class = type(keras.optimizers.get(run["optimizer"]))
    return optimizer_class(
        learning_rate=learning_rate(run, steps_per_epoch),
        **(run.get("optimizer_args") or {}),
    )


def make_loss(run: dict[str, Any]) -> Any:
    """Categorical cross-entropy on one-hot labels, with ``label_smoothing`` (0: the study's plain loss)."""
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=run.get("label_smoothing", 0.0))


def progress_logger(
    name: str,
    n_batches: int,
    epochs: int,
    every_seconds: float,
    budget_seconds: float | None,
) -> Any:
    """Keras callback that logs progress within and after each epoch and stops before a time budget runs out."""
    import keras

    class ProgressLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.start = time.perf_counter()
            self.epoch_seconds: list[float] = []
            self.stopped_by_budget = False

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.epoch_start = epoch + 1, time.perf_counter()
            self.last_report = self.epoch_start

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            if now - self.last_report >= every_seconds:
                self.last_report = now
                logger.info(
                    "%s: epoch %d/%d, batch %d/%d, loss %.4f, accuracy %.4f",
                    name,
                    self.epoch,
                    epochs,
                    batch + 1,
                    n_batches,
                    logs.get("loss", np.nan),
                    logs.get("accuracy", np.nan),
                )

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch_seconds.append(time.perf_counter() - self.epoch_start)
            logs = logs or {}
            logger.info(
                "%s: epoch %d/%d done in %.1f s: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f",
                name,
                epoch + 1,
                epochs,
                self.epoch_seconds[-1],
                logs.get("loss", np.nan),
                logs.get("accuracy", np.nan),
                logs.get("val_loss", np.nan),
                logs.get("val_accuracy", np.nan),
            )
            expected_end = time.perf_counter() - self.start + np.mean(self.epoch_seconds)
            if budget_seconds is not None and epoch + 1 < epochs and expected_end > budget_seconds:
                logger.warning(
                    "%s: stopping after epoch %d/%d: another epoch would exceed the time budget of %.0f s",
                    name,
                    epoch + 1,
                    epochs,
                    budget_seconds,
                )
                self.model.stop_training = self.stopped_by_budget = True

    return ProgressLogger()


def keep_best_callback(run: dict[str, Any]) -> Any | None:
    """Early stopping on validation accuracy after ``early_stopping_patience`` epochs without a gain, and/or
    ``keep_best``: end with the weights of the best validation epoch; None when neither is asked for."""
    import keras

    patience, keep_best = (
        run.get("early_stopping_patience"),
        bool(run.get("keep_best", False)),
    )
    if patience is None and not keep_best:
        return None
    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        restore_best_weights=keep_best,
        patience=run["epochs"] if patience is None else int(patience),
    )
