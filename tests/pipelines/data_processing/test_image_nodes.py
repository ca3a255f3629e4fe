"""Image part of data_processing: indexing, validation (each bad-input case), class counts, sample grids."""

from __future__ import annotations

import logging
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import ValidationError

from promotion_cnn.datasets import (
    DigitsImageFileListDataset,
    DigitsImagesDataset,
    ImageFolderDataset,
    ImageSet,
    index_image_folder,
    read_image_rgb,
    write_digits_folder,
)
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


def images_of(folder: Path) -> ImageSet:
    """The folder's images as the catalog loads them."""
    return ImageFolderDataset(str(folder)).load()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "images")


def test_index_lists_every_file_and_empty_class_folders(folder: Path) -> None:
    (folder / "val" / "bird").mkdir()
    index = ImageFolderDataset(str(folder)).load().files
    assert list(index.columns) == ["path", "label", "split", "folder"]
    assert len(index) == 3 * 4 * 2 + 1
    empty = index[index["path"].isna()]
    assert empty[["label", "split"]].values.tolist() == [["bird", "val"]]


def test_index_can_rename_class_folders(folder: Path) -> None:
    index = ImageFolderDataset(str(folder), label_names={"cat": "tabby cat"}).load().files
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
    manifest, issues = validate_images(images_of(folder), VALIDATION)
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
        manifest, issues = validate_images(images_of(folder), VALIDATION)
    assert str(bad) not in set(manifest["path"]) and len(manifest) == 24
    assert issues.values.tolist() == [[str(bad), issues["problem"][0], "skipped"]]
    assert expected in issues["problem"][0]
    assert str(bad) in caplog.text
    with pytest.raises(InvalidImageSetError, match=rf"(?s)1 file\(s\) cannot be used.*{bad}.*{expected}"):
        validate_images(images_of(folder), VALIDATION.model_copy(update={"on_bad_file": "error"}))


def test_unknown_on_bad_file_setting_is_rejected(folder: Path) -> None:
    with pytest.raises(ValidationError, match="on_bad_file"):
        ImageValidation.model_validate({**VALIDATION.model_dump(), "on_bad_file": "ignore"})


def test_empty_class_folder_is_an_error_naming_it(folder: Path) -> None:
    (folder / "train" / "bird").mkdir()
    (folder / "val" / "bird").mkdir()
    with pytest.raises(InvalidImageSetError, match=r"(?s)empty class folder.*train/bird.*val/bird"):
        validate_images(images_of(folder), VALIDATION)


def test_class_missing_from_val_is_an_error_naming_it(folder: Path) -> None:
    write_image(folder / "train" / "bird" / "0.png")
    with pytest.raises(InvalidImageSetError, match=r"only in 'train': \['bird'\], only in 'val': \[\]"):
        validate_images(images_of(folder), VALIDATION)


def test_class_left_without_usable_image_is_an_error(folder: Path) -> None:
    for path in (folder / "val" / "fish").iterdir():
        path.write_text("not an image")
    with pytest.raises(InvalidImageSetError, match=r"no usable image left in class\(es\) \[\('val', 'fish'\)\]"):
        validate_images(images_of(folder), VALIDATION)


@pytest.mark.parametrize(
    "mode, kind", [("L", "greyscale"), ("RGBA", "transparent"), ("CMYK", "CMYK"), ("P", "palette")]
)
def test_non_rgb_images_are_kept_listed_and_read_as_rgb(folder: Path, mode: str, kind: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    odd = write_image(folder / "val" / "cat" / f"odd.{fmt.lower()}", mode=mode, fmt=fmt)
    manifest, issues = validate_images(images_of(folder), VALIDATION)
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
    first, _ = validate_images(images_of(folder), settings)
    again, _ = validate_images(images_of(folder), settings)
    other, _ = validate_images(images_of(folder), settings.model_copy(update={"seed": 1}))
    assert len(first) == 12 and first.equals(again) and not first.equals(other)


def test_class_counts_per_split(folder: Path) -> None:
    write_image(folder / "train" / "cat" / "extra.png")
    manifest, _ = validate_images(images_of(folder), VALIDATION)
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
    manifest, _ = validate_images(images_of(folder), VALIDATION)
    train_figure, val_figure = plot_image_samples(manifest, images_of(folder), SAMPLES)
    for figure, split in ((train_figure, "train"), (val_figure, "val")):
        shown = [ax for ax in figure.axes if ax.images]
        assert len(shown) == 9
        labels = {ax.get_title() for ax in shown}
        assert labels <= set(manifest.loc[manifest["split"] == split, "label"]) and len(labels) == 3
        assert shown[0].images[0].get_array().shape == (16, 16, 3)


def test_digits_dataset_is_deterministic_real_in_memory_and_read_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, second = DigitsImagesDataset(image_size=8).load(), DigitsImagesDataset(image_size=8).load()
    files = first.files
    assert len(files) == 1797 and sorted(files["label"].unique()) == [f"digit_{d}" for d in range(10)]
    assert files.groupby("split").size().to_dict() == {"train": 1437, "val": 360}
    assert files.equals(second.files) and "digits" in files.attrs["synthetic"]
    for path in files["path"][::97]:
        assert (first.read(path, None) == second.read(path, None)).all() and first.read(path, 12).shape == (12, 12, 3)
    assert first.inspect(files["path"][0]) == (None, "RGB") and first.inspect("other.png")[0]
    with pytest.raises(Exception, match="not an image of DigitsImagesDataset"):
        first.read("digits:train/digit_0/9999.png", 8)
    assert DigitsImagesDataset().exists() and not list(tmp_path.iterdir()), "nothing is written"
    with pytest.raises(Exception, match="read-only"):
        DigitsImagesDataset().save(first)


def test_digits_in_memory_equal_the_digits_written_as_a_folder(tmp_path: Path) -> None:
    settings = {"image_size": 16, "images_per_class": 10}
    memory = DigitsImagesDataset(**settings).load()
    write_digits_folder(tmp_path / "digits", **settings)
    folder = ImageFolderDataset(str(tmp_path / "digits")).load()
    sizes = memory.files.groupby(["split", "label"]).size()
    assert len(memory.files) == 100 and set(sizes["train"]) == {8} and set(sizes["val"]) == {2}
    relative = [str(Path(p).relative_to(tmp_path / "digits")) for p in folder.files["path"]]
    assert [p.split(":", 1)[1] for p in memory.files["path"]] == relative, "same images, same order"
    for a, b in zip(memory.files["path"], folder.files["path"]):
        assert all((memory.read(a, s) == folder.read(b, s)).all() for s in (None, 16, 24))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder is left behind"
    with pytest.raises(FileExistsError):
        write_digits_folder(tmp_path / "digits", **settings)
    new = DigitsImageFileListDataset(split="val", **settings).load().files
    assert (
        list(new.columns) == ["path", "file"]
        and new["path"].tolist() == memory.files.query("split == 'val'")["path"].tolist()
    )
    assert new["file"][0] == memory.files.query("split == 'val'")["path"].iloc[0].split("/", 1)[1]


def test_decode_cache_is_bounded_least_recently_used_first() -> None:
    from promotion_cnn.images.input_pipeline import decoded_images

    images = DigitsImagesDataset(image_size=8, images_per_class=10, decode_cache_mb=0.06).load()  # 62,914 bytes
    paths, labels = images.files["path"].tolist(), [0] * 100
    small = decoded_images(images, paths, labels, 8)  # 100 x 8 x 8 x 3 = 19,200 bytes
    assert decoded_images(images, paths, labels, 8) is small, "a cached set is reused"
    decoded_images(images, paths, labels, 12)  # 43,200 bytes: both fit
    decoded_images(images, paths, labels, 8)  # the 8 px set is now the most recently used
    decoded_images(images, paths[:50], labels[:50], 12)  # 21,600 more: the 12 px set of all 100 goes
    assert [key[0] for key in images.cache] == [8, 12] and images.cache.currsize == 19_200 + 21_600
    too_large = decoded_images(images, paths, labels, 16)  # 76,800 bytes: decoded on every pass, not cached
    assert images.cache.currsize == 40_800 and len(list(too_large)) == 100
    assert DigitsImagesDataset(decode_cache_mb=None).load().cache.maxsize == float("inf")
    ForkingPickler.dumps(ImageFolderDataset("images", decode_cache_mb=100))  # ParallelRunner sends datasets to workers
    assert DigitsImagesDataset(decode_cache_mb=0).load().cache is None


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
