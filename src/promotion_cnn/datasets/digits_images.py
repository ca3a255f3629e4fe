"""The embedded default image set: scikit-learn's real 8x8 handwritten digits, as images held in memory.

``DigitsImagesDataset`` loads the 1,797 scans of ``sklearn.datasets.load_digits`` (shipped
with scikit-learn: no download, no file written), optionally a seeded, class-balanced
sample, split train/val with a seeded stratified split and drawn dark on white at
``image_size`` pixels, as an ``ImageSet`` laid out as an image folder would be: files
``digits:<split>/digit_<d>/<n>.png``. ``DigitsImageFileListDataset`` gives one split of
the same images as a list of new images (image_prediction's default input).
``write_digits_folder`` writes them as PNG files instead (a real folder for tests and benchmarks).
The same settings give the same pixels.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from PIL import Image

from .image_folder import INDEX_COLUMNS, ImageSet, decode_cache

PREFIX = "digits:"


def digit_images(
    image_size: int = 32, val_fraction: float = 0.2, seed: int = 42, images_per_class: int | None = None
) -> dict[str, np.ndarray]:
    """``{"<split>/digit_<d>/<n>.png": (image_size, image_size, 3) uint8 RGB}`` in folder order (split, class, n).

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
    images = {}
    for split, members in (("train", train), ("val", val)):
        for i in sorted(members, key=lambda i: (digits.target[i], i)):
            grey = np.uint8(np.round(255 - digits.images[i] * (255 / 16)))
            image = Image.fromarray(grey).resize((image_size, image_size), Image.Resampling.BILINEAR)
            images[f"{split}/digit_{digits.target[i]}/{i:04d}.png"] = np.asarray(image.convert("RGB"))
    return images


def write_digits_folder(path: str | Path, **settings: Any) -> None:
    """Write ``digit_images(**settings)`` as ``<path>/{train,val}/digit_<d>/<n>.png``, atomically (a staging folder
    renamed into place); ``path`` must not exist."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"'{path}' exists: write the digits to a new folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        for name, pixels in digit_images(**settings).items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(staging / name, optimize=False)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class DigitsImagesDataset(AbstractDataset[None, ImageSet]):
    """Read-only dataset: the embedded 10-class image set, generated in memory, indexed like ``ImageFolderDataset``.

    Example catalog entry::

        images_raw:
          type: promotion_cnn.datasets.DigitsImagesDataset
          image_size: 32
          val_fraction: 0.2
          seed: 42
          images_per_class: 50     # optional: a seeded sample of each digit (null: all 1,797)
    """

    def __init__(
        self,
        image_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 42,
        images_per_class: int | None = None,
        decode_cache_mb: float | None = 3072,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._settings = {
            "image_size": image_size,
            "val_fraction": val_fraction,
            "seed": seed,
            "images_per_class": images_per_class,
        }
        self._cache = decode_cache(decode_cache_mb)
        self._images: dict[str, np.ndarray] | None = None
        self.metadata = metadata

    def _pixels(self) -> dict[str, np.ndarray]:
        if self._images is None:
            self._images = {PREFIX + name: pixels for name, pixels in digit_images(**self._settings).items()}
        return self._images

    def _read(self, path: str, size: int | None = None) -> np.ndarray:
        pixels = self._pixels().get(path)
        if pixels is None:
            raise DatasetError(f"'{path}' is not an image of {type(self).__name__} {self._settings}")
        if size is None or pixels.shape[0] == size:
            return pixels
        return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))

    def _inspect(self, path: str) -> tuple[str | None, str | None]:
        return (None, "RGB") if path in self._pixels() else ("not an image of the digits set", None)

    def _files(self) -> pd.DataFrame:
        rows = [(path, *path[len(PREFIX) :].split("/")[:2]) for path in self._pixels()]
        files = pd.DataFrame(
            [(path, label, split, f"{PREFIX}{split}/{label}") for path, split, label in rows], columns=INDEX_COLUMNS
        ).astype("str")
        files.attrs["synthetic"] = f"scikit-learn's digits drawn as images by {type(self).__name__} ({self._settings})"
        return files

    def load(self) -> ImageSet:
        return ImageSet(self._files(), self._read, self._inspect, self._cache)

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only: it generates scikit-learn's digits as images")

    def _exists(self) -> bool:
        return True  # drawn in memory from data shipped with scikit-learn: nothing on disk to be missing

    def _describe(self) -> dict[str, Any]:
        return dict(self._settings)

    def preview(self, nrows: int = 10) -> dict:
        """Index preview for kedro-viz."""
        return self._files().head(nrows).to_dict(orient="split")


class DigitsImageFileListDataset(DigitsImagesDataset):
    """One split of ``DigitsImagesDataset`` as new images to predict (``path``, ``file``), like ``ImageFileListDataset``.

    Example catalog entry (image_prediction's default: the validation digits)::

        new_images:
          type: promotion_cnn.datasets.DigitsImageFileListDataset
          split: val
          images_per_class: 30     # the settings of images_raw, for the same images
    """

    def __init__(self, split: str = "val", **settings: Any) -> None:
        super().__init__(**{"decode_cache_mb": 0, **settings})
        self._split = split

    def _files(self) -> pd.DataFrame:
        files = super()._files()
        files = files[files["split"] == self._split]
        if files.empty:
            raise DatasetError(f"{type(self).__name__} has no split '{self._split}' (splits: train, val)")
        return files.assign(file=files["path"].str.split("/", n=1).str[1])[["path", "file"]].reset_index(drop=True)

    def _describe(self) -> dict[str, Any]:
        return {"split": self._split, **self._settings}
