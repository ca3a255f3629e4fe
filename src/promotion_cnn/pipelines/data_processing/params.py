"""Typed parameters of data_processing used by this pipeline only (the shared ones: ``promotion_cnn.params``)."""

from __future__ import annotations

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
