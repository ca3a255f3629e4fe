"""Typed parameters of data_processing used by this pipeline only (the shared ones: ``promotion_cnn.params``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promotion_cnn.params import Params


class Split(Params):
    """The seeded train/test split (``split``), shared by both feature sets."""

    test_size: float = Field(gt=0, lt=1, description="Share of the rows in the test part.")
    random_state: int = Field(description="Seed of the split.")
    stratify: bool = Field(default=True, description="Keep the target's class shares in both parts.")


class Reduction(Params):
    """Min-max scaling then PCA, fitted on the training part only (``reduction``)."""

    pca_variance: float = Field(gt=0, le=1, description="Share of the variance the principal components keep.")
    random_state: int = Field(description="Seed of the PCA solver.")


class ImageValidation(Params):
    """Validation of the raw image folder (``image_validation``)."""

    splits: list[str] = Field(
        min_length=1, description="Sub-folders of the raw image folder; the first one's classes are the reference."
    )
    on_bad_file: Literal["skip", "error"] = Field(
        description="An unreadable file: skip (warning listing the files) or error (stop, listing the files)."
    )
    max_images_per_class: int | None = Field(
        default=None, gt=0, description="Seeded sample per class and split for smoke runs; null: every image."
    )
    seed: int = Field(description="Seed of the per-class sample.")
    workers: int = Field(default=2, gt=0, description="Threads decoding images during validation.")


class ImageSamples(Params):
    """The sample grids of the study's Fig. 7 (train) and Fig. 8 (val) (``image_samples``)."""

    n_images: int = Field(gt=0, description="Images per grid.")
    columns: int = Field(gt=0, description="Columns of the grid.")
    display_size: int = Field(gt=0, description="Pixels a side of each image in the grid.")
    seed: int = Field(description="Seed of the sample.")
