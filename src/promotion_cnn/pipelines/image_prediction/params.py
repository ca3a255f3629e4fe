"""Typed parameters of image_prediction."""

from __future__ import annotations

from pydantic import Field

from promotion_cnn.params import Params


class ImagePrediction(Params):
    """A folder of new images in, a table of predictions out (``image_prediction``)."""

    model: str = Field(
        min_length=1,
        description="A trained image model (resnet, lenet, alexnet, ...), or best: the highest validation accuracy.",
    )
    top_k: int = Field(gt=0, description="Classes listed per image, most probable first.")
    batch_size: int = Field(gt=0, description="Images per prediction step.")
