"""Fixtures for the image_modelling tests: a handful of tiny real images (scikit-learn digits)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader

from promotion_cnn.datasets import write_digits_folder
from promotion_cnn.datasets.image_folder import ImageFolderDataset, ImageSet
from promotion_cnn.pipelines.data_processing.image_nodes import count_images_per_class, validate_images
from promotion_cnn.pipelines.data_processing.params import ImageValidation
from promotion_cnn.pipelines.image_modelling.params import ImageModel, ImageTraining
from promotion_cnn.settings import CONFIG_LOADER_ARGS

PROJECT = Path(__file__).resolve().parents[3]


def _load_parameters(env: str = "base") -> dict:
    loader = OmegaConfigLoader(str(PROJECT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env})
    return loader["parameters"]


@pytest.fixture(scope="session")
def load_parameters():
    """``load_parameters(env)``: the project's parameters for ``base`` alone or ``base`` plus ``env``."""
    return _load_parameters


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory) -> Path:
    """The embedded digits folder at 16x16 pixels, 20 images per digit (16 train, 4 val)."""
    root = tmp_path_factory.mktemp("images") / "digits"
    write_digits_folder(root, image_size=16, images_per_class=20)
    return root


@pytest.fixture(scope="session")
def tiny_images(tiny_digits: Path) -> ImageSet:
    """The tiny digits folder as the catalog loads it (one decode cache for the session, as for a run)."""
    return ImageFolderDataset(str(tiny_digits)).load()


@pytest.fixture(scope="session")
def tiny_manifest(tiny_images: ImageSet) -> pd.DataFrame:
    """Four training and four validation images per class: 80 images."""
    settings = ImageValidation(splits=["train", "val"], on_bad_file="error", max_images_per_class=4, seed=0, workers=2)
    return validate_images(tiny_images, settings)[0]


@pytest.fixture(scope="session")
def tiny_class_counts(tiny_manifest: pd.DataFrame) -> pd.DataFrame:
    return count_images_per_class(tiny_manifest)


@pytest.fixture
def training() -> ImageTraining:
    """Shared training settings for one fast epoch."""
    return ImageTraining.model_validate({**_load_parameters()["image_training"], "epochs": 1, "batch_size": 16})


@pytest.fixture
def tiny_lenet() -> ImageModel:
    """LeNet at 16x16 (the study's layers, smaller input)."""
    return ImageModel.model_validate({**_load_parameters()["lenet"], "image_size": 16})
