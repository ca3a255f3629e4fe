"""Training settings turned into Keras objects: optimiser with its learning-rate schedule, loss, callbacks, and
the ``tf.distribute`` strategy the model trains under (``distribution``).

Every choice comes from the ``image_training`` parameters (or a model's ``training``
block); the defaults reproduce the study (constant learning rate, plain cross-entropy,
the last epoch's weights, one device and no strategy). Keras and TensorFlow are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from promotion_cnn.tf_cluster import ClusterConfigError, cluster_config, describe_task

logger = logging.getLogger(__name__)

SCHEDULES = ("constant", "cosine")
DISTRIBUTIONS = ("mirrored", "multi_worker")


class DistributionError(ValueError):
    """A ``distribution`` that cannot run here: unknown, no ``TF_CONFIG``, created too late, or a batch too small."""


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo: CPUs that compute bfloat16 natively


def cpu_computes_bfloat16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), from Linux's ``/proc/cpuinfo``; None when
    unknown (no such file). Without them TensorFlow emulates ``mixed_bfloat16``: conf/real's resnet took ~7 s a batch
    against ~1.2 s in float32 on an AVX2-only AMD EPYC (docs/image_results.md)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flags = {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in line.split()}
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def warn_if_emulated_precision(precision: str, model: str) -> None:
    """Warn when ``mixed_bfloat16`` would run emulated: no GPU and a CPU without bfloat16 instructions."""
    if precision != "mixed_bfloat16" or cpu_computes_bfloat16() is not False:
        return
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        logger.warning(
            "%s: precision mixed_bfloat16 on a CPU without bfloat16 instructions (AVX512-BF16, AMX) and no GPU is "
            "emulated, several times slower than float32: set precision: float32 for this machine",
            model,
        )


def distribution_strategy(run: dict[str, Any]) -> Any | None:
    """The ``tf.distribute`` strategy of ``run['distribution']`` (one per process), or None for null."""
    kind = run.get("distribution")
    if kind is None:
        return None
    if kind not in DISTRIBUTIONS:
        raise DistributionError(f"distribution must be null or one of {list(DISTRIBUTIONS)}, got {kind!r}")
    if kind == "multi_worker" and run.get("time_budget_minutes") is not None:
        raise DistributionError(
            "time_budget_minutes must be null with distribution: multi_worker (each worker would stop on its own clock)"
        )
    return _strategy(kind)


@functools.cache
def _strategy(kind: str) -> Any:
    """The process's one strategy of this kind (MultiWorkerMirroredStrategy cannot be made twice, nor late)."""
    import tensorflow as tf

    if kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        logger.info(
            "distribution mirrored: %d replica(s) on %s",
            strategy.num_replicas_in_sync,
            strategy.extended.worker_devices,
        )
        return strategy
    config = cluster_config()
    if config is None:
        raise ClusterConfigError(
            "distribution multi_worker needs TF_CONFIG (the cluster and this task) in the environment"
        )
    try:
        strategy = _multi_worker_class()()
    except RuntimeError as error:  # TensorFlow: "Collective ops must be configured at program startup"
        raise DistributionError(
            "distribution multi_worker must start before TensorFlow runs anything else in the process: give it to "
            f"every image model of the run, or run those models in a run of their own ({error})"
        ) from None
    logger.info(
        "distribution multi_worker: %s, %d replica(s) in sync", describe_task(config), strategy.num_replicas_in_sync
    )
    return strategy


def _multi_worker_class() -> type:
    """MultiWorkerMirroredStrategy whose ``reduce`` takes the scalars (loss, metrics) Keras 3's ``fit`` averages
    over workers with ``axis=0``, which TensorFlow refuses for a 0-d value (keras-team/keras#20585)."""
    import tensorflow as tf

    class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """A scalar per replica is reduced whole (``axis=None``); every other value as asked."""

        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            rank = self.experimental_local_results(value)[0].shape.rank
            return super().reduce(reduce_op, value, axis if rank else None)

    return MultiWorkerStrategy


def strategy_scope(strategy: Any | None) -> Any:
    """``strategy.scope()``, or a context that does nothing without a strategy."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def distribute_batches(dataset: Any, strategy: Any | None, batch_size: int) -> Any:
    """The batched dataset for the strategy: ``batch_size`` is global (split over the replicas), shards by batch."""
    import tensorflow as tf

    if strategy is None:
        return dataset
    replicas = strategy.num_replicas_in_sync
    if batch_size < replicas:
        raise DistributionError(
            f"batch_size ({batch_size}) is the global batch: it must be at least the {replicas} replicas"
        )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def compiled_copy(network: Any, run: dict[str, Any], steps_per_epoch: int) -> Any:
    """A copy of the built network with its weights, compiled with the run's optimiser, loss and accuracy."""
    import keras

    trained = keras.models.clone_model(network)
    trained.set_weights(network.get_weights())
    trained.compile(
        optimizer=make_optimizer(run, steps_per_epoch),
        loss=make_loss(run),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return trained


def build_before_fit(trained: Any, strategy: Any | None, element_spec: Any) -> None:
    """Build the compiled model's optimiser (and, under a strategy, its metrics) before ``fit``, from shapes only.

    Without it the optimiser makes its slot variables inside the first training step, and ``tf.function`` traces a
    step that creates variables twice: a second trace of the whole forward, backward and update graph (~40 % of
    resnet's training time on the embedded digits; the weights come out the same).
    Under a strategy, Keras 3's ``fit`` would build from a batch it draws first: one extra pass of the seeded
    shuffle (and of the augmentation draws), so every epoch would see the images in the order of the next epoch
    without a strategy. Built here, from shapes only, and with ``fit`` taking the strategy of the scope it runs in,
    one replica trains exactly as no strategy does (tested).
    """
    if strategy is None:
        trained.optimizer.build(trained.trainable_variables)
        return
    trained._symbolic_build(data_batch=element_spec)
    trained._distribute_strategy = None  # Keras 3 (TF backend): fit() uses tf.distribute.get_strategy(), the scope's


def plain_copy(trained: Any) -> Any:
    """The trained network rebuilt outside any strategy scope, same weights, uncompiled (saved, evaluated, predicted
    with as a model trained without a strategy; the model file is loaded with ``compile=False`` anyway)."""
    import keras

    copy = keras.models.clone_model(trained)
    copy.set_weights(trained.get_weights())
    return copy


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
