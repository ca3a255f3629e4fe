"""Nodes of the build -> train -> evaluate template and the tf.data input pipeline, on tiny digits."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pandas as pd
import pytest

from promotion_cnn.datasets.image_folder import ImageSet, decode_cache
from promotion_cnn.images import input_pipeline
from promotion_cnn.pipelines.image_modelling.nodes import (
    HISTORY_COLUMNS,
    build_model,
    class_names,
    evaluate_model,
    settings,
    summarise_model,
    train_model,
)
from promotion_cnn.pipelines.image_modelling.params import ImageModel

METRIC_KEYS = {
    "val_accuracy",
    "val_loss",
    "train_accuracy",
    "best_val_accuracy",
    "epochs",
    "n_params",
    "train_seconds",
    "images_per_second",
    "image_size",
    "batch_size",
}


def test_model_overrides_shared_training_settings(tiny_lenet, training) -> None:
    lenet_8 = ImageModel.model_validate({**tiny_lenet.model_dump(exclude_unset=True), "training": {"batch_size": 8}})
    assert settings(lenet_8, training) == {**training.model_dump(), "batch_size": 8}
    assert settings(tiny_lenet, training) == training.model_dump()


def test_build_is_seeded_and_sized_by_the_classes(tiny_class_counts, tiny_lenet, training) -> None:
    first = build_model(tiny_class_counts, tiny_lenet, training)
    again = build_model(tiny_class_counts, tiny_lenet, training)
    other = build_model(tiny_class_counts, tiny_lenet, training.model_copy(update={"seed": 1}))
    assert first.output_shape == (None, 10)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), again.get_weights()))
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_builds_in_two_threads_at_once_are_the_seeded_build(tiny_class_counts, tiny_lenet, training) -> None:
    """ThreadRunner: Keras' seeds are process-wide, so two builds at once must not draw from each other's seeds."""
    expected = build_model(tiny_class_counts, tiny_lenet, training).get_weights()
    barrier, built = threading.Barrier(3), []

    def build() -> None:
        barrier.wait()
        built.append(build_model(tiny_class_counts, tiny_lenet, training).get_weights())

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 3
    assert all(np.array_equal(a, b) for weights in built for a, b in zip(expected, weights))


def test_summary_is_text_with_the_parameter_count(tiny_class_counts, tiny_lenet, training) -> None:
    network = build_model(tiny_class_counts, tiny_lenet, training)
    summary = summarise_model(network)
    assert f"Total params: {network.count_params():,}" in summary and "AveragePooling2D" in summary


def test_train_and_evaluate(tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training, caplog) -> None:
    network = build_model(tiny_class_counts, tiny_lenet, training)
    before = [w.copy() for w in network.get_weights()]
    two_epochs = training.model_copy(update={"epochs": 2, "progress_seconds": 0})
    with caplog.at_level(logging.INFO):
        trained, history, timing = train_model(network, tiny_images, tiny_manifest, tiny_lenet, two_epochs)
    assert "epoch 1/2, batch 1/3" in caplog.text and "epoch 2/2 done" in caplog.text
    assert all(np.array_equal(a, b) for a, b in zip(before, network.get_weights())), "the input model is unchanged"
    assert list(history.columns) == HISTORY_COLUMNS and history["epoch"].tolist() == [1, 2]
    assert history[["accuracy", "val_accuracy"]].stack().between(0, 1).all()
    assert timing["epochs"] == 2 and timing["n_train"] == 40 and timing["images_per_second"] > 0
    metrics, matrix = evaluate_model(trained, tiny_images, tiny_manifest, tiny_lenet, two_epochs, history, timing)
    assert set(metrics) >= METRIC_KEYS
    assert metrics["val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1], abs=1e-6)
    assert metrics["val_loss"] == pytest.approx(history["val_loss"].iloc[-1], rel=1e-4)
    assert metrics["n_params"] == network.count_params() and metrics["image_size"] == 16
    assert trained["classes"] == metrics["classes"] and trained["eval_image_size"] == 16
    assert metrics["model_version"] == "unsaved"  # not saved through the catalog here
    assert list(matrix.columns) == ["actual", *class_names(tiny_manifest)]
    counts = matrix.set_index("actual")
    assert counts.to_numpy().sum() == 40 and (counts.sum(axis=1) == 4).all()
    assert np.trace(counts.to_numpy()) / 40 == pytest.approx(metrics["val_accuracy"])


def test_the_training_step_is_traced_once(
    tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training, monkeypatch
) -> None:
    import keras

    traces = []
    step = keras.Model.train_step
    monkeypatch.setattr(keras.Model, "train_step", lambda self, data: traces.append(1) or step(self, data))
    network = build_model(tiny_class_counts, tiny_lenet, training)
    train_model(network, tiny_images, tiny_manifest, tiny_lenet, training.model_copy(update={"epochs": 2}))
    # one trace for every batch (the dataset's batch dimension is unknown, so the partial last batch reuses it);
    # without the optimiser built before fit: 2 (tf.function traces a step that creates variables twice)
    assert len(traces) == 1


def test_time_budget_stops_training_between_epochs(
    tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training
) -> None:
    network = build_model(tiny_class_counts, tiny_lenet, training)
    _, history, timing = train_model(
        network,
        tiny_images,
        tiny_manifest,
        tiny_lenet,
        training.model_copy(update={"epochs": 5, "time_budget_minutes": 1e-9}),
    )
    assert len(history) == 1 and timing["stopped_by_time_budget"] and timing["epochs_planned"] == 5


def test_labels_unknown_to_the_model_are_rejected(
    tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training
) -> None:
    network = build_model(tiny_class_counts, tiny_lenet, training)
    renamed = tiny_manifest.assign(label=np.where(tiny_manifest["split"] == "val", "cat", tiny_manifest["label"]))
    with pytest.raises(ValueError, match=r"'val' images have label\(s\) \['cat'\]"):
        train_model(network, tiny_images, renamed, tiny_lenet, training)


def test_images_are_decoded_once_per_input_size(tiny_images, tiny_manifest: pd.DataFrame) -> None:
    decoded = []

    def counting_read(path: str, size: int | None) -> np.ndarray:
        decoded.append(size)
        return tiny_images.read(path, size)

    images = ImageSet(tiny_images.files, counting_read, tiny_images.inspect, decode_cache(None))
    paths, labels = tiny_manifest["path"].tolist()[:10], list(range(10))
    for batch_size in (4, 3):  # two models sharing the input size
        data = input_pipeline.make_dataset(images, paths, labels, 12, batch_size, shuffle_seed=0)
        for _ in range(2):  # two epochs
            batches = np.concatenate([x.numpy() for x, _ in data])
    assert decoded == [12] * 10
    assert (
        batches.shape == (10, 12, 12, 3) and batches.dtype == np.float32 and 0 <= batches.min() <= batches.max() <= 255
    )
    assert batches.max() > 1  # raw pixel values: the models rescale
    list(input_pipeline.make_dataset(images, paths, labels, 14, 4))
    assert decoded.count(14) == 10  # another input size: decoded (once) again


def test_shuffling_is_seeded_and_reshuffles_each_epoch(tiny_images, tiny_manifest: pd.DataFrame) -> None:
    paths, labels = tiny_manifest["path"].tolist()[:40], list(range(40))

    def epochs(seed: int | None) -> list[list[int]]:
        data = input_pipeline.make_dataset(tiny_images, paths, labels, 8, 40, shuffle_seed=seed)
        return [next(iter(data))[1].numpy().tolist() for _ in range(2)]

    first, again = epochs(0), epochs(0)
    assert first == again and first[0] != first[1] and sorted(first[0]) == labels
    assert epochs(None) == [labels, labels]
