"""The study's three CNN architectures and a small residual network as Keras builders (Keras imported inside).

With the study's settings (``conf/base/parameters_image_modelling.yml``) and 10 classes:
simple CNN at 200x200 has 8,708,466 parameters (Appendix F), LeNet at 32x32 81,302
(Appendix G), AlexNet at 227x227 58,327,818 (Appendix H). ``resnet`` is the project's own
default (1,231,850 parameters with its settings). Every output layer computes in float32, so
the networks also train under the ``mixed_bfloat16`` precision policy. Every network takes raw pixel values
(0-255) and scales them itself (a float32 ``Rescaling`` layer after the input), so a saved model is all a
predictor needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _input_layers(keras: Any, input_size: int | None) -> list[Any]:
    """The input of raw 0-255 pixels and its scaling to [0, 1], in float32 under any precision policy."""
    return [keras.Input((input_size, input_size, 3)), keras.layers.Rescaling(1 / 255, dtype="float32", name="rescale")]


def _pool(keras: Any, pooling: str, pool_size: int, strides: int | None = None) -> Any:
    layers = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}
    if pooling not in layers:
        raise ValueError(f"pooling must be 'max' or 'average', got {pooling!r}")
    return layers[pooling](pool_size=pool_size, strides=strides)


def simple_cnn(
    input_size: int,
    n_classes: int,
    filters: tuple[int, ...] = (6, 64, 64),
    kernel_size: int = 3,
    pool_size: int = 2,
    dense_units: int = 64,
    activation: str = "relu",
) -> Any:
    """Conv(6) -> MaxPool -> Conv(64) -> MaxPool -> Conv(64) -> Flatten -> Dense(64) -> Dense(classes)."""
    import keras

    layers: list[Any] = _input_layers(keras, input_size)
    for i, f in enumerate(filters):
        layers.append(keras.layers.Conv2D(f, kernel_size, activation=activation))
        if i < len(filters) - 1:
            layers.append(_pool(keras, "max", pool_size))
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(dense_units, activation=activation),
        keras.layers.Dense(n_classes, activation="softmax", dtype="float32"),
    ]
    return keras.Sequential(layers, name="simple_cnn")


def lenet(
    input_size: int,
    n_classes: int,
    filters: tuple[int, ...] = (6, 16),
    kernel_size: int = 3,
    pooling: str = "average",
    pool_size: int = 2,
    dense_units: tuple[int, ...] = (120, 84),
    activation: str = "relu",
    dropout: float = 0.0,
) -> Any:
    """LeNet-5: two Conv + pooling blocks, Dense(120) -> Dense(84) -> [Dropout] -> Dense(classes)."""
    import keras

    layers: list[Any] = _input_layers(keras, input_size)
    for f in filters:
        layers += [keras.layers.Conv2D(f, kernel_size, activation=activation), _pool(keras, pooling, pool_size)]
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(units, activation=activation) for units in dense_units]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))  # the study's added dropout layer, before the classifier
    layers.append(keras.layers.Dense(n_classes, activation="softmax", dtype="float32"))
    return keras.Sequential(layers, name="lenet")


def alexnet(
    input_size: int,
    n_classes: int,
    filters: tuple[int, ...] = (96, 256, 384, 384, 256),
    kernel_sizes: tuple[int, ...] = (11, 5, 3, 3, 3),
    first_stride: int = 4,
    pool_size: int = 3,
    pool_stride: int = 2,
    dense_units: tuple[int, ...] = (4096, 4096),
    activation: str = "relu",
    dropout: float = 0.5,
    batch_norm: bool = True,
) -> Any:
    """AlexNet: five Conv (+BatchNorm) with max pooling after the 1st, 2nd and 5th, two Dense(4096) + Dropout."""
    import keras

    if len(filters) != 5 or len(kernel_sizes) != 5:
        raise ValueError(f"alexnet needs 5 filters and 5 kernel sizes, got {filters} and {kernel_sizes}")
    layers: list[Any] = _input_layers(keras, input_size)
    for i, (f, k) in enumerate(zip(filters, kernel_sizes)):
        stride = first_stride if i == 0 else 1
        layers.append(
            keras.layers.Conv2D(f, k, strides=stride, padding="valid" if i == 0 else "same", activation=activation)
        )
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if i in (0, 1, 4):
            layers.append(_pool(keras, "max", pool_size, pool_stride))
    layers.append(keras.layers.Flatten())
    for units in dense_units:
        layers += [keras.layers.Dense(units, activation=activation), keras.layers.Dropout(dropout)]
    layers.append(keras.layers.Dense(n_classes, activation="softmax", dtype="float32"))
    return keras.Sequential(layers, name="alexnet")


def resnet(
    input_size: int,
    n_classes: int,
    stem_filters: int = 32,
    stem_stride: int = 1,
    stage_filters: tuple[int, ...] = (32, 64, 128, 256),
    blocks_per_stage: int = 1,
    dropout: float = 0.0,
    bn_momentum: float = 0.9,
    zero_init_last_bn: bool = False,
    avg_pool_shortcut: bool = False,
) -> Any:
    """Small ResNet: Conv-BN-ReLU stem, basic residual blocks (stride 2 from the second stage), global average
    pooling, [Dropout], Dense(classes). No pretrained weights. Fully convolutional, so it takes any input size
    (``input_size`` is the training size; evaluation may use another). ``bn_momentum`` 0.9
    (Keras' default is 0.99) lets the batch-norm statistics settle within the few hundred steps of a small set.

    Two "Bag of Tricks" options (He et al. 2019), off by default: ``zero_init_last_bn`` starts each block's last
    batch-norm scale at 0, so every block begins as the identity; ``avg_pool_shortcut`` (ResNet-D) downsamples a
    shortcut by 2x2 average pooling before its 1x1 convolution instead of a strided 1x1 convolution that skips
    three quarters of the activations."""
    import keras
    from keras import layers

    def conv_bn(x: Any, filters: int, stride: int = 1, kernel: int = 3, relu: bool = True, zero: bool = False) -> Any:
        x = layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, kernel_initializer="he_normal"
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, gamma_initializer="zeros" if zero else "ones")(x)
        return layers.ReLU()(x) if relu else x

    inputs, rescale = _input_layers(keras, None)
    x = conv_bn(rescale(inputs), stem_filters, stem_stride)
    for stage, filters in enumerate(stage_filters):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            shortcut, shortcut_stride = x, stride
            if stride != 1 and avg_pool_shortcut:  # ResNet-D: average first, then a stride-1 projection
                shortcut, shortcut_stride = layers.AveragePooling2D(stride, padding="same")(x), 1
            if shortcut_stride != 1 or shortcut.shape[-1] != filters:
                shortcut = conv_bn(shortcut, filters, shortcut_stride, kernel=1, relu=False)
            x = conv_bn(conv_bn(x, filters, stride), filters, relu=False, zero=zero_init_last_bn)
            x = layers.ReLU()(layers.Add()([x, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="resnet")


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "simple_cnn": simple_cnn,
    "lenet": lenet,
    "alexnet": alexnet,
    "resnet": resnet,
}


def build_architecture(
    name: str, input_size: int, n_classes: int, layers: dict[str, Any] | None = None, precision: str = "float32"
) -> Any:
    """Uncompiled Keras model of the named architecture; ``layers`` holds the builder's keyword arguments and
    ``precision`` the dtype policy its layers keep (the global policy is restored afterwards)."""
    import keras

    if name not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURES)}, got {name!r}")
    default_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        return ARCHITECTURES[name](input_size, n_classes, **(layers or {}))
    except ValueError as error:
        raise ValueError(f"{name} at {input_size}x{input_size} cannot be built: {error}") from error
    finally:
        keras.config.set_dtype_policy(default_policy)
