"""Nodes of the image part of data_processing: validate the image folder, count classes, draw sample grids."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from promotion_cnn.datasets.image_folder import GREYSCALE_MODES, ImageSet

from .params import ImageSamples, ImageValidation
from .source_nodes import describe_source

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["path", "label", "split"]
ISSUE_COLUMNS = ["path", "problem", "action"]
MODE_NAMES = {"CMYK": "CMYK", "P": "palette", "YCbCr": "YCbCr", "LAB": "LAB", "HSV": "HSV"}


class InvalidImageSetError(ValueError):
    """An image set that cannot be used; the message names the folder, class or files and the problem."""


def _source(index: pd.DataFrame) -> str:
    return index.attrs.get("source", "the image folder")


def _listing(paths: list[str], limit: int = 20) -> str:
    shown = "\n  ".join(paths[:limit])
    return f"\n  {shown}" + (f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else "")


def _mode_problem(mode: str) -> str | None:
    """Description of a colour mode that needs converting to RGB, or None for RGB."""
    if mode == "RGB":
        return None
    if mode in GREYSCALE_MODES:
        kind = "greyscale"
    elif "A" in mode or mode == "RGBa":
        kind = "transparent"
    else:
        kind = MODE_NAMES.get(mode, "non-RGB")
    return f"{kind} image (mode {mode}) converted to RGB"


def _check_class_folders(index: pd.DataFrame, splits: list[str], source: str) -> None:
    """Raise if a split is missing, the class sets differ or a class folder is empty."""
    missing = [s for s in splits if s not in set(index["split"])]
    if missing:
        raise InvalidImageSetError(f"{source}: no class folder in split(s) {missing}")
    classes = {s: set(index.loc[index["split"] == s, "label"]) for s in splits}
    reference = splits[0]
    for split in splits[1:]:
        only_ref, only_here = sorted(classes[reference] - classes[split]), sorted(classes[split] - classes[reference])
        if only_ref or only_here:
            raise InvalidImageSetError(
                f"{source}: '{reference}' and '{split}' must hold the same classes; "
                f"only in '{reference}': {only_ref}, only in '{split}': {only_here}"
            )
    empty = index.loc[index["path"].isna(), "folder"].tolist()
    if empty:
        raise InvalidImageSetError(f"{source}: empty class folder(s), every class needs images:{_listing(empty)}")


def _sample_per_class(index: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` seeded files per class and split (all when ``limit`` is None)."""
    if limit is None:
        return index
    shuffled = index.sample(frac=1, random_state=seed)
    return shuffled[shuffled.groupby(["split", "label"]).cumcount() < limit]


def describe_images(images: ImageSet) -> dict[str, Any]:
    """The image set's origin, rows, columns and a SHA-256 of its file index (``describe_source`` of its files)."""
    return describe_source(images.files)


def validate_images(images: ImageSet, validation: ImageValidation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check class folders, decode every image, and return the manifest and the skipped/converted files."""
    raw_index = images.files
    source = _source(raw_index)
    splits = list(validation.splits)
    if raw_index.empty:
        raise InvalidImageSetError(f"{source}: no class folder and no image found")
    index = raw_index[raw_index["split"].isin(splits)]
    _check_class_folders(index, splits, source)
    index = _sample_per_class(index, validation.max_images_per_class, validation.seed)
    paths = index["path"].tolist()
    with ThreadPoolExecutor(max_workers=validation.workers) as pool:
        inspected = list(pool.map(images.inspect, paths))
    bad = [(p, problem, "skipped") for p, (problem, _) in zip(paths, inspected) if problem]
    converted = [
        (p, _mode_problem(mode), "converted")
        for p, (problem, mode) in zip(paths, inspected)
        if not problem and _mode_problem(mode)
    ]
    if bad:
        listing = _listing([f"{p}: {problem}" for p, problem, _ in bad])
        if validation.on_bad_file == "error":
            raise InvalidImageSetError(f"{source}: {len(bad)} file(s) cannot be used as images:{listing}")
        logger.warning("%s: skipping %d file(s) that cannot be used as images:%s", source, len(bad), listing)
    if converted:
        logger.info(
            "%s: %d image(s) will be converted to RGB:%s",
            source,
            len(converted),
            _listing([f"{p}: {problem}" for p, problem, _ in converted], 5),
        )
    skipped = {p for p, _, _ in bad}
    manifest = index.loc[~index["path"].isin(skipped), MANIFEST_COLUMNS]
    classes = index[["split", "label"]].drop_duplicates()
    emptied = sorted(set(map(tuple, classes.values)) - set(map(tuple, manifest[["split", "label"]].values)))
    if emptied:
        raise InvalidImageSetError(f"{source}: no usable image left in class(es) {emptied} after skipping bad files")
    manifest = manifest.sort_values(["split", "label", "path"]).reset_index(drop=True)
    issues = pd.DataFrame(bad + converted, columns=ISSUE_COLUMNS).astype("str")
    logger.info("Image manifest: %s", manifest.groupby("split").size().to_dict())
    return manifest, issues.sort_values("path").reset_index(drop=True)


def count_images_per_class(manifest: pd.DataFrame) -> pd.DataFrame:
    """Number of images per class and split (columns ``label, split, count``)."""
    counts = manifest.groupby(["label", "split"]).size().rename("count").reset_index()
    logger.info("Images per class:\n%s", counts.pivot(index="label", columns="split", values="count").to_string())
    return counts


def _sample_grid(manifest: pd.DataFrame, images: ImageSet, split: str, samples: ImageSamples) -> Figure:
    rows = manifest[manifest["split"] == split]
    n = min(samples.n_images, len(rows))
    chosen = rows.sample(n=n, random_state=samples.seed).sort_values("label")
    columns = samples.columns
    lines = int(np.ceil(n / columns))
    figure = Figure(figsize=(2.2 * columns, 2.4 * lines), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (_, row) in zip(axes.flat, chosen.iterrows()):
        ax.imshow(images.read(row["path"], samples.display_size))
        ax.set_title(str(row["label"]), fontsize=10)
    figure.suptitle(f"{n} {split} images and their labels")
    return figure


def plot_image_samples(manifest: pd.DataFrame, images: ImageSet, samples: ImageSamples) -> tuple[Figure, Figure]:
    """Seeded grids of training and validation images with their labels (the study's Fig. 7 and 8)."""
    return _sample_grid(manifest, images, "train", samples), _sample_grid(manifest, images, "val", samples)
