"""Beyond the study: augmentation, learning-rate schedule, label smoothing, keep-best, mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from promotion_cnn.images import input_pipeline
from promotion_cnn.pipelines.image_modelling import training as training_code
from promotion_cnn.pipelines.image_modelling.nodes import (
    build_model,
    evaluate_model,
    train_model,
)
from promotion_cnn.pipelines.image_modelling.params import ImageModel
from promotion_cnn.pipelines.image_modelling.training import (
    cpu_computes_bfloat16,
    keep_best_callback,
    learning_rate,
    make_optimizer,
)

AUGMENT = {
    "random_resized_crop": {"scale": [0.3, 0.6]},
    "horizontal_flip": True,
    "source_size": 20,
}


def test_augmentation_draws_new_crops_each_epoch_reproducibly(
    tiny_images,
    tiny_manifest: pd.DataFrame,
) -> None:
    paths, labels = tiny_manifest["path"].tolist()[:8], list(range(8))

    def two_epochs() -> list[np.ndarray]:
        data = input_pipeline.make_dataset(tiny_images, paths, labels, 12, 8, shuffle_seed=3, augmentation=AUGMENT)
        return [next(iter(data))[0].numpy() for _ in range(2)]

    first, again = two_epochs(), two_epochs()
    assert first[0].shape == (8, 12, 12, 3) and 0 <= first[0].min() <= first[0].max() <= 255  # raw pixel values
    assert not np.allclose(first[0], first[1])  # new draws every epoch
    np.testing.assert_allclose(first[0], again[0])  # ... from the seed
    plain = next(iter(input_pipeline.make_dataset(tiny_images, paths, labels, 12, 8, shuffle_seed=3)))[0].numpy()
    assert not np.allclose(plain, first[0])


def test_switched_off_augmentation_is_the_plain_pipeline(
    tiny_images,
    tiny_manifest: pd.DataFrame,
) -> None:
    paths, labels = tiny_manifest["path"].tolist()[:8], list(range(8))
    off = {"random_resized_crop": None, "horizontal_flip": False, "source_size": None}
    batches = [
        next(iter(input_pipeline.make_dataset(tiny_images, paths, labels, 12, 8, 3, augmentation=a)))[0].numpy()
        for a in (off, None)
    ]
    np.testing.assert_array_equal(*batches)


def test_cosine_schedule_warms_up_then_decays() -> None:
    run = {
        "learning_rate": 0.01,
        "epochs": 10,
        "lr_schedule": "cosine",
        "warmup_epochs": 1,
        "min_lr_fraction": 0.1,
    }
    schedule = learning_rate(run, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == pytest.approx(0.0) and rates[1] == pytest.approx(0.005)
    assert rates[2] == pytest.approx(0.01) and rates[2] > rates[3] > rates[4] == pytest.approx(0.001)
    assert learning_rate({**run, "lr_schedule": "constant"}, 10) == 0.01
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        learning_rate({**run, "lr_schedule": "step"}, 10)


def test_optimizer_takes_weight_decay_and_the_schedule() -> None:
    run = {
        "optimizer": "adamw",
        "learning_rate": 0.01,
        "epochs": 2,
        "lr_schedule": "cosine",
        "optimizer_args": {"weight_decay": 0.05},
    }
    optimizer = make_optimizer(run, 5)
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == pytest.approx(0.05)
    assert isinstance(optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)


def test_keep_best_is_only_there_when_asked_for() -> None:
    assert keep_best_callback({"epochs": 5}) is None
    callback = keep_best_callback({"epochs": 5, "keep_best": True})
    assert callback.restore_best_weights and callback.patience == 5 and callback.monitor == "val_accuracy"
    assert not keep_best_callback({"epochs": 5, "early_stopping_patience": 2}).restore_best_weights


def test_keep_best_ends_with_the_best_epochs_weights(
    tiny_images, tiny_manifest, tiny_class_counts, tiny_lenet, training
) -> None:
    run = training.model_copy(update={"epochs": 4, "learning_rate": 0.05, "keep_best": True, "label_smoothing": 0.1})
    network = build_model(tiny_class_counts, tiny_lenet, run)
    trained, history, timing = train_model(network, tiny_images, tiny_manifest, tiny_lenet, run)
    metrics, _ = evaluate_model(trained, tiny_images, tiny_manifest, tiny_lenet, run, history, timing)
    assert timing["weights_from_epoch"] == metrics["best_epoch"] and len(history) == 4
    assert metrics["val_accuracy"] == pytest.approx(history["val_accuracy"].max())


def test_resnet_trains_with_every_option_and_mixed_precision(
    tiny_images, tiny_manifest, tiny_class_counts, training, load_parameters
) -> None:
    resnet = ImageModel.model_validate({**load_parameters("quick")["resnet"], "image_size": 16})
    run = training.model_copy(update={"precision": "mixed_bfloat16"})
    network = build_model(tiny_class_counts, resnet, run)
    assert network.get_layer("rescale").compute_dtype == "float32" and network.layers[-2].compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    trained, history, timing = train_model(network, tiny_images, tiny_manifest, resnet, run)
    metrics, matrix = evaluate_model(trained, tiny_images, tiny_manifest, resnet, run, history, timing)
    assert len(history) == 2 and np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    assert metrics["architecture"] == "resnet" and matrix.shape == (10, 11)


def test_resnet_validates_at_another_size_and_fixed_inputs_refuse_to(
    tiny_images, tiny_manifest, tiny_class_counts, training, tiny_lenet, load_parameters
) -> None:
    resnet = ImageModel.model_validate({**load_parameters("quick")["resnet"], "image_size": 12, "eval_image_size": 16})
    run = training.model_copy(update={"epochs": 1})
    network = build_model(tiny_class_counts, resnet, run)
    trained, history, timing = train_model(network, tiny_images, tiny_manifest, resnet, run)
    metrics, _ = evaluate_model(trained, tiny_images, tiny_manifest, resnet, run, history, timing)
    assert metrics["image_size"] == 12 and metrics["eval_image_size"] == 16
    assert metrics["val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1], abs=1e-6)  # validated at 16 too
    lenet = tiny_lenet.model_copy(update={"eval_image_size": 20})
    with pytest.raises(ValueError, match=r"lenet takes only 16px inputs, so eval_image_size \(20\) must be null or 16"):
        train_model(build_model(tiny_class_counts, lenet, run), tiny_images, tiny_manifest, lenet, run)


def test_emulated_bfloat16_is_warned_about(tiny_class_counts, tiny_lenet, training, monkeypatch, caplog) -> None:
    avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
    assert cpu_computes_bfloat16(avx2) is False
    assert cpu_computes_bfloat16(avx2.replace("avx2", "avx2 avx512f avx512_bf16")) is True
    assert cpu_computes_bfloat16(avx2.replace("avx2", "avx2 amx_bf16 amx_tile")) is True
    bf16 = training.model_copy(update={"precision": "mixed_bfloat16"})
    for native, warned in ((False, True), (True, False), (None, False)):  # None: no /proc/cpuinfo, nothing known
        monkeypatch.setattr(training_code, "cpu_computes_bfloat16", lambda native=native: native)
        caplog.clear()
        build_model(tiny_class_counts, tiny_lenet, bf16)
        assert ("emulated" in caplog.text) is warned, native
    caplog.clear()
    monkeypatch.setattr(training_code, "cpu_computes_bfloat16", lambda: False)
    build_model(tiny_class_counts, tiny_lenet, training)  # float32: nothing to say
    assert "emulated" not in caplog.text
