"""The embedded default image set: scikit-learn's real 8x8 handwritten digits written as an image folder.

On first load, if the folder is absent, the 1,797 digits of ``sklearn.datasets.load_digits``
(real scans shipped with scikit-learn, so no download) are written as RGB PNG files
under ``<path>/{train,val}/digit_<d>/``, with a seeded stratified split. The folder is
built in a temporary sibling and renamed into place, so an interrupted first load
never leaves a half-written folder behind. The same seed gives the same files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .image_folder import ImageFolderDataset


def write_digits_folder(path: str | Path, image_size: int = 32, val_fraction: float = 0.2, seed: int = 42) -> None:
    """Write the digits as ``<path>/{train,val}/digit_<d>/<n>.png`` (dark strokes on white), atomically."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    digits = load_digits()
    indices = np.arange(len(digits.target))
    train, val = train_test_split(indices, test_size=val_fraction, random_state=seed, stratify=digits.target)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        for split, members in (("train", train), ("val", val)):
            for i in sorted(members):
                grey = np.uint8(np.round(255 - digits.images[i] * (255 / 16)))
                image = Image.fromarray(grey, mode="L").resize((image_size, image_size), Image.Resampling.BILINEAR)
                folder = staging / split / f"digit_{digits.target[i]}"
                folder.mkdir(parents=True, exist_ok=True)
                image.convert("RGB").save(folder / f"{i:04d}.png", optimize=False)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class DigitsImageFolderDataset(ImageFolderDataset):
    """The embedded 10-class image set; indexes ``path`` like ``ImageFolderDataset``, writing it first if absent.

    Example catalog entry::

        images_raw:
          type: promotion_cnn.datasets.DigitsImageFolderDataset
          path: data/01_raw/digits
          image_size: 32
          val_fraction: 0.2
          seed: 42
    """

    def __init__(
        self,
        path: str,
        image_size: int = 32,
        val_fraction: float = 0.2,
        seed: int = 42,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(path, ["train", "val"], metadata=metadata)
        self._image_size = image_size
        self._val_fraction = val_fraction
        self._seed = seed

    def load(self):
        if not self._path.exists():
            write_digits_folder(self._path, self._image_size, self._val_fraction, self._seed)
        return super().load()

    def _exists(self) -> bool:
        return True  # generated on demand

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "image_size": self._image_size, "seed": self._seed}
