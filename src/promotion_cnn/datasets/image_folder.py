"""An image folder (``<root>/<split>/<class>/<file>``) as a Kedro dataset, and the project's image reads.

Image datasets load an ``ImageSet``: the table of its files (one row per image) and the
functions that read them. Nodes get pixels only through it, so the catalog decides where
images come from (a folder here, scikit-learn's digits in memory in ``digits_images``) and
no node opens a file. ``ImageFolderDataset`` indexes every file, one row each, and every
class folder that holds no file as one row with an empty ``path``, so that validation can
name it; ``ImageFileListDataset`` lists the files of a flat (or nested) folder of new images.
Decoded, resized image sets are kept in the set's ``cache``: one per dataset, shared by
every node of the run that reads it, bounded by the dataset's ``decode_cache_mb``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache
from kedro.io import AbstractDataset, DatasetError
from PIL import Image, UnidentifiedImageError

INDEX_COLUMNS = ["path", "label", "split", "folder"]
GREYSCALE_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def index_image_folder(
    root: str | Path, splits: list[str] | tuple[str, ...] = ("train", "val"), label_names: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per file under ``<root>/<split>/<class>/`` and one with an empty path per empty class folder.

    The label is the class folder's name, or its entry in ``label_names`` where it has one.
    """
    label_names = label_names or {}
    root = Path(os.path.normpath(root))  # "project/../shared/x" -> "shared/x", links kept
    if not root.is_dir():
        raise DatasetError(f"Image folder '{root}' does not exist or is not a folder")
    rows = []
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DatasetError(f"Image folder '{root}' has no '{split}' sub-folder (expected {list(splits)})")
        stray = sorted(str(p) for p in split_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if stray:
            raise DatasetError(f"'{split_dir}' must hold only one sub-folder per class, but holds file(s) {stray[:5]}")
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
            label = label_names.get(class_dir.name, class_dir.name)
            rows += [(str(f), label, split, str(class_dir)) for f in files] or [(None, label, split, str(class_dir))]
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    return index.astype({c: "str" for c in INDEX_COLUMNS})


def inspect_image(path: str) -> tuple[str | None, str | None]:
    """``(problem, mode)``: why the file cannot be used (or None) and its colour mode, decoding it fully."""
    try:
        with Image.open(path) as image:
            mode = image.mode
            image.draft(None, (64, 64))  # JPEG: decode every block, at reduced scale
            image.load()
    except UnidentifiedImageError:
        return "not an image file (format not recognised)", None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return f"corrupt or truncated image ({error})", None
    return None, mode


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of any mode: greyscale replicated, CMYK converted, transparency flattened onto white."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        array = np.asarray(image, dtype=np.float64)
        span = max(float(array.max() - array.min()), 1e-12)
        image = Image.fromarray(np.uint8(np.round(255 * (array - array.min()) / span)))
    return image.convert("RGB")


def read_image_rgb(path: str, size: int | None = None) -> np.ndarray:
    """Decode one image to a ``(size, size, 3)`` uint8 RGB array (any mode converted; JPEGs at reduced scale)."""
    with Image.open(path) as image:
        if size is not None:
            image.draft("RGB", (size, size))
        rgb = _to_rgb(image)
    if size is not None and rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _entry_bytes(entry: tuple[int, Any]) -> int:
    return entry[0]


def decode_cache(megabytes: float | None) -> LRUCache | None:
    """A least-recently-used cache of decoded image sets holding at most ``megabytes`` (None: no bound; 0: none).

    Picklable while empty (a module-level size function), so datasets holding one go to ParallelRunner's workers."""
    if megabytes == 0:
        return None
    return LRUCache(maxsize=float("inf") if megabytes is None else megabytes * 2**20, getsizeof=_entry_bytes)


@dataclass(frozen=True, eq=False)
class ImageSet:
    """What the image datasets load: ``files`` (one row per image, ``path`` naming it) and how to read them.

    ``read(path, size)`` decodes one image to a ``(size, size, 3)`` uint8 RGB array; ``inspect(path)`` gives
    ``(problem, mode)``: why it cannot be used (or None) and its colour mode. ``cache`` holds decoded sets
    (``promotion_cnn.images.input_pipeline``) as ``(bytes, data)`` entries, or is None for no caching.
    """

    files: pd.DataFrame
    read: Callable[[str, int | None], np.ndarray]
    inspect: Callable[[str], tuple[str | None, str | None]]
    cache: LRUCache | None = None


class ImageFolderDataset(AbstractDataset[None, ImageSet]):
    """Read-only dataset: the images of a folder laid out ``<path>/<split>/<class>/<image>``, as an ``ImageSet``.

    Its files have columns ``path, label, split, folder``; an empty class folder is one row
    with an empty ``path``. ``label_names`` optionally maps class-folder names to labels.
    ``decode_cache_mb`` bounds the memory of decoded image sets kept for later nodes (least
    recently used dropped first; null: no bound, 0: decode again on every pass).
    Example catalog entry (the layout of ``../shared/datasets/imagenette``)::

        images_raw:
          type: promotion_cnn.datasets.ImageFolderDataset
          path: ../shared/datasets/imagenette
          splits: [train, val]
          label_names: {n01440764: tench, n02102040: English springer}
          decode_cache_mb: 3072
    """

    def __init__(
        self,
        path: str,
        splits: list[str] | None = None,
        label_names: dict[str, str] | None = None,
        decode_cache_mb: float | None = 3072,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(path)
        self._splits = list(splits or ["train", "val"])
        self._label_names = dict(label_names or {})
        self._cache = decode_cache(decode_cache_mb)
        self.metadata = metadata

    def load(self) -> ImageSet:
        files = index_image_folder(self._path, self._splits, self._label_names)
        return ImageSet(files, read_image_rgb, inspect_image, self._cache)

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only: it indexes the image folder '{self._path}'")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "splits": self._splits}

    def preview(self, nrows: int = 10) -> dict:
        """Index preview for kedro-viz."""
        return self.load().files.head(nrows).to_dict(orient="split")


class ImageFileListDataset(AbstractDataset[None, ImageSet]):
    """Read-only dataset: every file under a folder (sub-folders included) as an ``ImageSet``, files ``path, file``.

    ``file`` is the path relative to the folder. The files are not opened here, so a
    broken or non-image file is listed like any other and named later by the pipeline
    that reads it. Nothing is cached (one pass). Example catalog entry::

        new_images:
          type: promotion_cnn.datasets.ImageFileListDataset
          path: /path/to/new/images
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> ImageSet:
        root = Path(os.path.normpath(self._path))
        if not root.is_dir():
            raise DatasetError(f"Image folder '{root}' does not exist or is not a folder")
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
        rows = [(str(f), str(f.relative_to(root))) for f in files]
        return ImageSet(pd.DataFrame(rows, columns=["path", "file"]).astype("str"), read_image_rgb, inspect_image)

    def save(self, data: None) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only: it lists the files of '{self._path}'")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def preview(self, nrows: int = 10) -> dict:
        """File list preview for kedro-viz."""
        return self.load().files.head(nrows).to_dict(orient="split")
