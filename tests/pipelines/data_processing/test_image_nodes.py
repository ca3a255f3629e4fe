"""Image part of data_processing: indexing, validation (each bad-input case), class counts, sample grids."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import ValidationError

from promotion_cnn.datasets import DigitsImageFolderDataset, ImageFolderDataset, index_image_folder, read_image_rgb
from promotion_cnn.pipelines.data_processing.image_nodes import (
    InvalidImageSetError,
    count_images_per_class,
    plot_image_samples,
    validate_images,
)
from promotion_cnn.pipelines.data_processing.image_pipeline import create_image_pipeline
from promotion_cnn.pipelines.data_processing.params import ImageSamples, ImageValidation

VALIDATION = ImageValidation(splits=["train", "val"], on_bad_file="skip", max_images_per_class=None, seed=0, workers=2)
SAMPLES = ImageSamples(n_images=9, columns=3, display_size=16, seed=0)


def write_image(path: Path, mode: str = "RGB", size: int = 12, fmt: str | None = None, seed: int = 0) -> Path:
    """A small random image in the given colour mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, format=fmt)
    return path


def write_folder(root: Path, classes=("cat", "dog", "fish"), per_class: int = 4) -> Path:
    """``root/{train,val}/<class>/<n>.png``: ``per_class`` tiny RGB images per class and split."""
    for split in ("train", "val"):
        for c, label in enumerate(classes):
            for i in range(per_class):
                write_image(root / split / label / f"{i}.png", seed=100 * c + i)
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "images")


def test_index_lists_every_file_and_empty_class_folders(folder: Path) -> None:
    (folder / "val" / "bird").mkdir()
    index = ImageFolderDataset(str(folder)).load()
    assert list(index.columns) == ["path", "label", "split", "folder"]
    assert len(index) == 3 * 4 * 2 + 1
    empty = index[index["path"].isna()]
    assert empty[["label", "split"]].values.tolist() == [["bird", "val"]]


def test_index_can_rename_class_folders(folder: Path) -> None:
    index = ImageFolderDataset(str(folder), label_names={"cat": "tabby cat"}).load()
    assert set(index["label"]) == {"tabby cat", "dog", "fish"}
    assert set(index.loc[index["label"] == "tabby cat", "folder"]) == {
        str(folder / "train/cat"),
        str(folder / "val/cat"),
    }


def test_index_names_a_missing_split_folder(tmp_path: Path) -> None:
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(Exception, match=r"no 'val' sub-folder"):
        index_image_folder(tmp_path)


def test_valid_folder_gives_manifest_and_no_issues(folder: Path) -> None:
    manifest, issues = validate_images(index_image_folder(folder), VALIDATION)
    assert list(manifest.columns) == ["path", "label", "split"]
    assert len(manifest) == 24 and issues.empty
    assert list(issues.columns) == ["path", "problem", "action"]
    assert pd.api.types.is_string_dtype(manifest["label"])


@pytest.mark.parametrize(
    "make_bad, expected",
    [
        (lambda p: p.write_bytes(write_image(p, fmt="JPEG", size=64).read_bytes()[:300]), "corrupt or truncated"),
        (lambda p: p.write_text("label,notes\ncat,not an image\n"), "not an image file"),
        (lambda p: p.write_bytes(b""), "not an image file"),
    ],
    ids=["truncated_jpeg", "text_file", "empty_file"],
)
def test_bad_files_are_skipped_and_listed_or_raise(folder: Path, caplog, make_bad, expected: str) -> None:
    bad = folder / "train" / "dog" / "broken.jpg"
    make_bad(bad)
    with caplog.at_level(logging.WARNING):
        manifest, issues = validate_images(index_image_folder(folder), VALIDATION)
    assert str(bad) not in set(manifest["path"]) and len(manifest) == 24
    assert issues.values.tolist() == [[str(bad), issues["problem"][0], "skipped"]]
    assert expected in issues["problem"][0]
    assert str(bad) in caplog.text
    with pytest.raises(InvalidImageSetError, match=rf"(?s)1 file\(s\) cannot be used.*{bad}.*{expected}"):
        validate_images(index_image_folder(folder), VALIDATION.model_copy(update={"on_bad_file": "error"}))


def test_unknown_on_bad_file_setting_is_rejected(folder: Path) -> None:
    with pytest.raises(ValidationError, match="on_bad_file"):
        ImageValidation.model_validate({**VALIDATION.model_dump(), "on_bad_file": "ignore"})


def test_empty_class_folder_is_an_error_naming_it(folder: Path) -> None:
    (folder / "train" / "bird").mkdir()
    (folder / "val" / "bird").mkdir()
    with pytest.raises(InvalidImageSetError, match=r"(?s)empty class folder.*train/bird.*val/bird"):
        validate_images(index_image_folder(folder), VALIDATION)


def test_class_missing_from_val_is_an_error_naming_it(folder: Path) -> None:
    write_image(folder / "train" / "bird" / "0.png")
    with pytest.raises(InvalidImageSetError, match=r"only in 'train': \['bird'\], only in 'val': \[\]"):
        validate_images(index_image_folder(folder), VALIDATION)


def test_class_left_without_usable_image_is_an_error(folder: Path) -> None:
    for path in (folder / "val" / "fish").iterdir():
        path.write_text("not an image")
    with pytest.raises(InvalidImageSetError, match=r"no usable image left in class\(es\) \[\('val', 'fish'\)\]"):
        validate_images(index_image_folder(folder), VALIDATION)


@pytest.mark.parametrize(
    "mode, kind", [("L", "greyscale"), ("RGBA", "transparent"), ("CMYK", "CMYK"), ("P", "palette")]
)
def test_non_rgb_images_are_kept_listed_and_read_as_rgb(folder: Path, mode: str, kind: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    odd = write_image(folder / "val" / "cat" / f"odd.{fmt.lower()}", mode=mode, fmt=fmt)
    manifest, issues = validate_images(index_image_folder(folder), VALIDATION)
    assert str(odd) in set(manifest["path"])
    assert issues.values.tolist() == [[str(odd), f"{kind} image (mode {mode}) converted to RGB", "converted"]]
    pixels = read_image_rgb(str(odd), 20)
    assert pixels.shape == (20, 20, 3) and pixels.dtype == np.uint8


def test_greyscale_is_replicated_and_transparency_flattened_on_white(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.new("L", (4, 4), 77).save(grey)
    assert (read_image_rgb(str(grey)) == 77).all()
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (10, 20, 30, 0)).save(clear)
    assert (read_image_rgb(str(clear)) == 255).all()


def test_sampling_per_class_is_seeded(folder: Path) -> None:
    settings = VALIDATION.model_copy(update={"max_images_per_class": 2})
    first, _ = validate_images(index_image_folder(folder), settings)
    again, _ = validate_images(index_image_folder(folder), settings)
    other, _ = validate_images(index_image_folder(folder), settings.model_copy(update={"seed": 1}))
    assert len(first) == 12 and first.equals(again) and not first.equals(other)


def test_class_counts_per_split(folder: Path) -> None:
    write_image(folder / "train" / "cat" / "extra.png")
    manifest, _ = validate_images(index_image_folder(folder), VALIDATION)
    counts = count_images_per_class(manifest)
    assert list(counts.columns) == ["label", "split", "count"]
    assert counts.set_index(["label", "split"])["count"].to_dict() == {
        ("cat", "train"): 5,
        ("cat", "val"): 4,
        ("dog", "train"): 4,
        ("dog", "val"): 4,
        ("fish", "train"): 4,
        ("fish", "val"): 4,
    }


def test_sample_grids_show_nine_labelled_images_per_split(folder: Path) -> None:
    manifest, _ = validate_images(index_image_folder(folder), VALIDATION)
    train_figure, val_figure = plot_image_samples(manifest, SAMPLES)
    for figure, split in ((train_figure, "train"), (val_figure, "val")):
        shown = [ax for ax in figure.axes if ax.images]
        assert len(shown) == 9
        labels = {ax.get_title() for ax in shown}
        assert labels <= set(manifest.loc[manifest["split"] == split, "label"]) and len(labels) == 3
        assert shown[0].images[0].get_array().shape == (16, 16, 3)


def test_digits_dataset_is_deterministic_real_and_read_only(tmp_path: Path) -> None:
    first = DigitsImageFolderDataset(str(tmp_path / "a"), image_size=8).load()
    second = DigitsImageFolderDataset(str(tmp_path / "b"), image_size=8).load()
    assert len(first) == 1797 and sorted(first["label"].unique()) == [f"digit_{d}" for d in range(10)]
    assert first.groupby("split").size().to_dict() == {"train": 1437, "val": 360}
    for a, b in zip(first["path"][::97], second["path"][::97]):
        assert Path(a).read_bytes() == Path(b).read_bytes()
    assert not list(tmp_path.glob(".a-*")), "no staging folder may be left behind"
    with pytest.raises(Exception, match="read-only"):
        DigitsImageFolderDataset(str(tmp_path / "a")).save(first)


def test_digits_sample_is_balanced_and_rewritten_when_settings_change(tmp_path: Path) -> None:
    small = DigitsImageFolderDataset(str(tmp_path / "d"), image_size=8, images_per_class=10).load()
    sizes = small.groupby(["split", "label"]).size()
    assert len(small) == 100 and set(sizes["train"]) == {8} and set(sizes["val"]) == {2}
    larger = DigitsImageFolderDataset(str(tmp_path / "d"), image_size=8, images_per_class=20).load()
    assert len(larger) == 200
    assert len(list((tmp_path / "d").rglob("*.png"))) == 200, "the old folder is replaced, not merged"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging or old folder is left behind"


def test_digits_dataset_never_replaces_a_folder_it_did_not_write(folder: Path) -> None:
    with pytest.raises(Exception, match="exists but was not written by DigitsImageFolderDataset"):
        DigitsImageFolderDataset(str(folder)).load()
    assert len(list(folder.rglob("*.png"))) == 24


def test_pipeline_wires_raw_folder_to_reporting_datasets() -> None:
    pipeline = create_image_pipeline()
    assert pipeline.inputs() == {"images_raw", "params:image_validation", "params:image_samples"}
    assert pipeline.outputs() >= {
        "image_issues",
        "image_class_counts",
        "image_samples_train@figure",
        "image_samples_val@figure",
    }
    assert "image_manifest" in pipeline.all_outputs()
