"""Typed parameters of image_modelling: the shared training settings and each model's block."""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, create_model, model_validator
from pydantic.fields import FieldInfo

from promotion_cnn.params import Params

from .architectures import ARCHITECTURES


class RandomResizedCrop(Params):
    """A random area and aspect of each training image, resized to the input size."""

    scale: list[float] = Field(default=[0.35, 1.0], min_length=2, max_length=2, description="Area range (shares).")
    ratio: list[float] = Field(default=[0.75, 4 / 3], min_length=2, max_length=2, description="Aspect range.")


class Augmentation(Params):
    """Training images only, new draws every epoch."""

    random_resized_crop: RandomResizedCrop | None = Field(default=None, description="null: no crop.")
    horizontal_flip: bool = Field(default=False, description="Mirror half of the images.")
    source_size: int | None = Field(
        default=None, gt=0, description="Cache images at this size and cut the crops from it; null: image_size."
    )


class ImageTraining(Params):
    """Every model's training settings, unless its ``training:`` block overrides them (``image_training``)."""

    batch_size: int = Field(gt=0, description="Images per training step (the global batch: split over the replicas).")
    epochs: int = Field(gt=0, description="Passes over the training images.")
    optimizer: str = Field(description="Any keras.optimizers name: adam, sgd, rmsprop, adamw, ...")
    learning_rate: float = Field(gt=0, description="The (peak) learning rate.")
    optimizer_args: dict[str, Any] = Field(default={}, description="Further optimiser arguments, e.g. momentum.")
    seed: int = Field(description="Weights, image order and shuffling.")
    shuffle_buffer: int = Field(gt=0, description="Images in the shuffle buffer.")
    time_budget_minutes: float | None = Field(
        default=None, gt=0, description="Stop before the epoch that would exceed it; null: run every epoch."
    )
    progress_seconds: float = Field(default=30, ge=0, description="A progress line at most this often.")
    keras_verbose: Literal[0, 1, 2] = Field(default=0, description="Keras' own progress: 0 off, 1 bar, 2 a line.")
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = Field(
        default="float32", description="mixed_bfloat16: faster on CPUs with AMX / AVX512-BF16 and on GPUs."
    )
    keep_best: bool = Field(default=False, description="End with the weights of the best validation epoch.")
    early_stopping_patience: int | None = Field(
        default=None, gt=0, description="Stop after this many epochs without a better validation accuracy."
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        default="constant", description="constant, or cosine: linear warm-up, then cosine decay."
    )
    warmup_epochs: float = Field(default=0, ge=0, description="Cosine only (fractions allowed).")
    min_lr_fraction: float = Field(default=0.0, ge=0, le=1, description="Cosine only: the last rate's share.")
    label_smoothing: float = Field(default=0.0, ge=0, lt=1, description="0: the plain cross-entropy.")
    augmentation: Augmentation = Field(default=Augmentation(), description="Training-image augmentation.")
    distribution: Literal["mirrored", "multi_worker"] | None = Field(
        default=None,
        description="null: one device, no tf.distribute; mirrored: this machine's GPUs (MirroredStrategy); "
        "multi_worker: the machines of TF_CONFIG (MultiWorkerMirroredStrategy). docs/scaling.md",
    )


def _optional(info: FieldInfo) -> FieldInfo:
    override = FieldInfo.merge_field_infos(info, default=None)
    override.annotation = info.annotation | None
    return override


TrainingOverrides = create_model(
    "TrainingOverrides",
    __base__=Params,
    __doc__="A model's own training settings: any ``image_training`` key, overriding it for this model only.",
    **{name: (info.annotation | None, _optional(info)) for name, info in ImageTraining.model_fields.items()},
)


class ImageModel(Params):
    """One image model (``simple_cnn``, ``lenet``, ``resnet``, ``lenet_batch_8``, ...): architecture and size."""

    architecture: Literal[tuple(ARCHITECTURES)] = Field(  # type: ignore[valid-type]
        description="The network's builder: a key of architectures.ARCHITECTURES (simple_cnn, lenet, alexnet, resnet)."
    )
    image_size: int = Field(gt=0, description="Training input, pixels a side.")
    eval_image_size: int | None = Field(
        default=None, gt=0, description="Validation / prediction input (fully convolutional only); null: image_size."
    )
    layers: dict[str, Any] = Field(default={}, description="The architecture builder's keyword arguments.")
    training: TrainingOverrides = Field(default=TrainingOverrides(), description="Overrides of image_training.")

    @model_validator(mode="after")
    def _layers(self) -> ImageModel:
        accepted = list(inspect.signature(ARCHITECTURES[self.architecture]).parameters)[2:]
        unknown = sorted(set(self.layers) - set(accepted))
        if unknown:
            raise ValueError(f"layers: {self.architecture} takes no {unknown}; it takes {accepted}")
        return self
