"""The embedded default image set: scikit-learn's real 8x8 handwritten digits written as an image folder.

On first load, if the folder is absent or was written with other settings, digits of
``sklearn.datasets.load_digits`` (1,797 real scans shipped with scikit-learn, so no
download; optionally a seeded, class-balanced sample of them) are written as RGB PNG
files under ``<path>/{train,val}/digit_<d>/``, with a seeded stratified split. The folder
is built in a temporary sibling and renamed into place, so an interrupted load never
leaves a half-written folder behind. The same settings give the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import DatasetError
from PIL import Image

from .image_folder import ImageFolderDataset

SETTINGS_FILE = ".digits.json"  # hidden: the folder index skips it


def write_digits_folder(
    path: str | Path,
    image_size: int = 32,
    val_fraction: float = 0.2,
    seed: int = 42,
    images_per_class: int | None = None,
) -> None:
    """Write the digits as ``<path>/{train,val}/digit_<d>/<n>.png`` (dark strokes on white), atomically.

    ``images_per_class`` (train and val together) keeps a seeded sample of each digit; None keeps all.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    digits = load_digits()
    indices = np.arange(len(digits.target))
    if images_per_class is not None:
        rng = np.random.default_rng(seed)
        indices = np.sort(
            np.concatenate([rng.permutation(np.flatnonzero(digits.target == d))[:images_per_class] for d in range(10)])
        )
    train, val = train_test_split(indices, test_size=val_fraction, random_state=seed, stratify=digits.target[indices])
    settings = {
        "image_size": image_size,
        "val_fraction": val_fraction,
        "seed": seed,
        "images_per_class": images_per_class,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        for split, members in (("train", train), ("val", val)):
            for i in sorted(members):
                grey = np.uint8(np.round(255 - digits.images[i] * (255 / 16)))
                image = Image.fromarray(grey).resize((image_size, image_size), Image.Resampling.BILINEAR)
                folder = staging / split / f"digit_{digits.target[i]}"
                folder.mkdir(parents=True, exist_ok=True)
                image.convert("RGB").save(folder / f"{i:04d}.png", optimize=False)
        (staging / SETTINGS_FILE).write_text(json.dumps(settings, sort_keys=True))
        if path.exists():  # written with other settings: swap the new folder in, then drop the old one
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}-old-", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def digits_folder_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings a digits folder was written with, or None if there is none."""
    marker = Path(path) / SETTINGS_FILE
    return json.loads(marker.read_text()) if marker.exists() else None


class DigitsImageFolderDataset(ImageFolderDataset):
    """The embedded 10-class image set; indexes ``path`` like ``ImageFolderDataset``, writing it first if absent.

    Example catalog entry::

        images_raw:
          type: promotion_cnn.datasets.DigitsImageFolderDataset
          path: data/01_raw/digits
          image_size: 32
          val_fraction: 0.2
          seed: 42
          images_per_class: 50     # optional: a seeded sample of each digit (null: all 1,797)
    """

    def __init__(
        self,
        path: str,
        image_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 42,
        images_per_class: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(path, ["train", "val"], metadata=metadata)
        self._settings = {
            "image_size": image_size,
            "val_fraction": val_fraction,
            "seed": seed,
            "images_per_class": images_per_class,
        }

    def load(self):
        written_with = digits_folder_settings(self._path)
        if written_with != self._settings:
            if self._path.exists() and written_with is None:
                raise DatasetError(
                    f"'{self._path}' exists but was not written by {type(self).__name__}: "
                    "move it away or point the dataset's path elsewhere"
                )
            write_digits_folder(self._path, **self._settings)
        index = super().load()
        index.attrs["synthetic"] = (
            f"scikit-learn's digits written as images by {type(self).__name__} ({self._settings})"
        )
        return index

    def _exists(self) -> bool:
        return True  # generated on demand

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), **self._settings}
