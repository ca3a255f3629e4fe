"""The study's architectures: parameter counts (Appendices F, G, H) and the variants' layers; the project's resnet."""

from __future__ import annotations

import numpy as np
import pytest

from promotion_cnn.pipelines.image_modelling.architectures import build_architecture

STUDY_PARAMETER_COUNTS = {"simple_cnn": 8_708_466, "lenet": 81_302, "alexnet": 58_327_818}


@pytest.fixture(scope="module")
def parameters(load_parameters) -> dict:
    return load_parameters("real")  # the study's input sizes (conf/base shrinks them for the digits)


def build(settings: dict, n_classes: int = 10):
    return build_architecture(settings["architecture"], settings["image_size"], n_classes, settings.get("layers"))


@pytest.mark.parametrize("name, expected", STUDY_PARAMETER_COUNTS.items())
def test_study_architectures_have_the_study_parameter_counts(parameters: dict, name: str, expected: int) -> None:
    assert build(parameters[name]).count_params() == expected


@pytest.mark.parametrize("name, expected", STUDY_PARAMETER_COUNTS.items())
def test_builder_defaults_are_the_study_architectures(name: str, expected: int) -> None:
    size = {"simple_cnn": 200, "lenet": 32, "alexnet": 227}[name]
    assert build_architecture(name, size, 10).count_params() == expected


def test_variants_change_only_what_their_name_says(parameters: dict) -> None:
    lenet = parameters["lenet"]
    assert parameters["lenet_batch_128"]["training"]["batch_size"] == 128
    assert parameters["lenet_batch_8"]["training"]["batch_size"] == 8
    assert parameters["lenet_size_128"]["image_size"] == 128
    assert parameters["lenet_kernel_2"]["layers"] == {**lenet["layers"], "kernel_size": 2}
    assert parameters["lenet_dropout"]["layers"] == {**lenet["layers"], "dropout": 0.5}
    assert parameters["alexnet_25_epochs"]["layers"] == parameters["alexnet"]["layers"]
    kernel_2 = build(parameters["lenet_kernel_2"])
    assert kernel_2.layers[1].kernel_size == (2, 2)  # after the input's rescaling
    dropout = build(parameters["lenet_dropout"])
    assert [type(layer).__name__ for layer in dropout.layers][-2:] == ["Dropout", "Dense"]
    assert dropout.count_params() == STUDY_PARAMETER_COUNTS["lenet"]
    assert "AveragePooling2D" in {type(layer).__name__ for layer in dropout.layers}


def test_alexnet_has_batch_norm_and_dropout(parameters: dict) -> None:
    kinds = [type(layer).__name__ for layer in build(parameters["alexnet"]).layers]
    assert kinds.count("BatchNormalization") == 5 and kinds.count("Dropout") == 2


def test_output_layer_follows_the_number_of_classes(parameters: dict) -> None:
    assert build(parameters["lenet"], n_classes=3).output_shape == (None, 3)


def test_unknown_architecture_and_too_small_input_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="architecture must be one of"):
        build_architecture("vgg", 32, 10)
    with pytest.raises(ValueError, match="alexnet at 40x40 cannot be built"):
        build_architecture("alexnet", 40, 10)
    with pytest.raises(ValueError, match="pooling must be 'max' or 'average'"):
        build_architecture("lenet", 32, 10, {"pooling": "median"})


def test_resnet_is_residual_fully_convolutional_and_sized_by_its_settings(parameters: dict) -> None:
    network = build(parameters["resnet"])
    kinds = [type(layer).__name__ for layer in network.layers]
    assert network.count_params() == 1_231_850
    assert kinds.count("Add") == 4 and "GlobalAveragePooling2D" in kinds and "Flatten" not in kinds
    deeper = build({**parameters["resnet"], "layers": {**parameters["resnet"]["layers"], "blocks_per_stage": 2}})
    assert [type(layer).__name__ for layer in deeper.layers].count("Add") == 8
    assert build(parameters["resnet"], n_classes=3).output_shape == (None, 3)


def test_resnet_bag_of_tricks_options(parameters: dict) -> None:
    import keras

    plain = build(parameters["resnet"])
    tricks = build(
        {
            **parameters["resnet"],
            "layers": {**parameters["resnet"]["layers"], "zero_init_last_bn": True, "avg_pool_shortcut": True},
        }
    )
    assert tricks.count_params() == plain.count_params()  # same weights, other initial values and shortcut inputs
    kinds = [type(layer).__name__ for layer in tricks.layers]
    assert kinds.count("AveragePooling2D") == 3 and "AveragePooling2D" not in [type(x).__name__ for x in plain.layers]
    norms = [layer for layer in tricks.layers if isinstance(layer, keras.layers.BatchNormalization)]
    zero = [layer for layer in norms if not np.any(layer.gamma.numpy())]
    assert len(zero) == 4  # each block's last batch norm; the stem's and the shortcuts' start at 1
    image = np.random.default_rng(0).uniform(0, 255, (1, 80, 80, 3)).astype("float32")
    assert np.isfinite(tricks(image, training=False).numpy()).all()


def test_output_stays_float32_under_mixed_precision() -> None:
    import keras

    for name, size in {"lenet": 32, "resnet": 32}.items():
        network = build_architecture(name, size, 10, precision="mixed_bfloat16")
        convolutions = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
        assert convolutions[0].compute_dtype == "bfloat16" and network.layers[-1].compute_dtype == "float32"
        assert network.get_layer("rescale").compute_dtype == "float32"  # raw pixels scaled in full precision
        assert network(np.zeros((1, size, size, 3))).dtype == "float32"
        assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
