"""Issue 12: the quick image models train on odd and even numbers of training images without a native crash.

The reported crash (glibc heap corruption: ``corrupted double-linked list``, ``free(): invalid
pointer``, exit 134 / 139, no Python traceback) aborted the whole process in ``resnet``'s first
epoch with 51, 57 or 59 training images and passed with 54, 56, 58 or 60. A native crash kills
the interpreter, so each image count trains in its own subprocess (one epoch per model, the
quick settings otherwise). Images are generated here: RGB and greyscale JPEGs, as in Imagenette.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PROJECT = Path(__file__).resolve().parents[3]
CLASSES = ("class_a", "class_b", "class_c")
# Training images -> the namespaces trained on them (all: every quick namespace). 51, 57 and 59 crashed, 54 passed;
# every namespace on one odd count, resnet (where the crash was seen) on the others, to keep the test short.
COUNTS = {51: "all", 54: "resnet", 59: "resnet"}  # an odd and an even count for resnet, every namespace on one
N_VAL = 4  # validation images per class

TRAIN_ALL_QUICK_MODELS = """
import sys
from kedro.config import OmegaConfigLoader
from promotion_cnn.datasets.image_folder import ImageFolderDataset
from promotion_cnn.pipelines.data_processing.image_nodes import count_images_per_class, validate_images
from promotion_cnn.model_lists import load_model_lists
from promotion_cnn.pipelines.image_modelling.nodes import build_model, evaluate_model, train_model
from promotion_cnn.pipelines.data_processing.params import ImageValidation
from promotion_cnn.pipelines.image_modelling.params import ImageModel, ImageTraining
from promotion_cnn.settings import CONFIG_LOADER_ARGS

root, project, names = sys.argv[1], sys.argv[2], sys.argv[3]
loader = OmegaConfigLoader(project + "/conf", **{**CONFIG_LOADER_ARGS, "default_run_env": "quick"})
parameters = loader["parameters"]
validation = ImageValidation.model_validate(parameters["image_validation"])
images = ImageFolderDataset(root).load()
manifest = validate_images(images, validation)[0]
counts = count_images_per_class(manifest)
training = ImageTraining.model_validate({**parameters["image_training"], "epochs": 1})
for name in load_model_lists(project).image_models if names == "all" else names.split(","):
    block = parameters[name]
    model = ImageModel.model_validate({**block, "training": {**(block.get("training") or {}), "epochs": 1}})
    trained, history, timing = train_model(build_model(counts, model, training), images, manifest, model, training)
    evaluate_model(trained, images, manifest, model, training, history, timing)
    print("trained", name, "on", timing["n_train"], flush=True)
"""


def _write_image(path: Path, rng: np.random.Generator, tint: np.ndarray, greyscale: bool) -> None:
    """A 224x224 JPEG with photo-like structure: a tinted gradient, a few blobs and noise."""
    y, x = np.mgrid[0:224, 0:224] / 223.0
    angle = rng.uniform(0, 2 * np.pi)
    base = 0.5 + 0.4 * np.sin(6 * (np.cos(angle) * x + np.sin(angle) * y) + rng.uniform(0, 6))
    for _ in range(3):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        base += 0.5 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / r**2)
    pixels = base[..., None] * tint + rng.normal(0, 12, (224, 224, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    (image.convert("L") if greyscale else image).save(path, quality=90)


@pytest.fixture(scope="module")
def image_pool(tmp_path_factory) -> Path:
    """20 training and N_VAL validation JPEGs per class, every 9th greyscale."""
    root = tmp_path_factory.mktemp("pool")
    rng = np.random.default_rng(12)
    for c, label in enumerate(CLASSES):
        tint = np.full(3, 90.0)
        tint[c] = 200.0
        for split, n in (("train", 20), ("val", N_VAL)):
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                _write_image(root / split / label / f"{label}_{i:02d}.jpg", rng, tint, greyscale=i % 9 == 4)
    return root


def _folder_with(pool: Path, root: Path, n_train: int) -> Path:
    """``n_train`` training images (classes as even as possible) and all validation images, linked from the pool."""
    for c, label in enumerate(CLASSES):
        k = n_train // len(CLASSES) + (c < n_train % len(CLASSES))
        for split, n in (("train", k), ("val", N_VAL)):
            (root / split / label).mkdir(parents=True)
            for source in sorted((pool / split / label).iterdir())[:n]:
                (root / split / label / source.name).symlink_to(source)
    return root


def test_quick_models_train_on_odd_and_even_image_counts(image_pool: Path, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT / "src"), os.environ.get("PYTHONPATH", "")]),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }

    def train(n_train: int) -> subprocess.CompletedProcess:
        folder = _folder_with(image_pool, tmp_path / f"n{n_train}", n_train)
        command = [
            sys.executable,
            "-X",
            "faulthandler",
            "-c",
            TRAIN_ALL_QUICK_MODELS,
            str(folder),
            str(PROJECT),
            COUNTS[n_train],
        ]
        return subprocess.run(command, cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=900)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two counts at a time: one per core
        results = dict(zip(COUNTS, pool.map(train, COUNTS)))
    failed = {n: r for n, r in results.items() if r.returncode != 0}
    assert not failed, "\n\n".join(
        f"{n} training images: exit {r.returncode}\n{r.stdout[-1000:]}\n{r.stderr[-3000:]}" for n, r in failed.items()
    )
    for n, result in results.items():
        expected = 10 if COUNTS[n] == "all" else len(COUNTS[n].split(","))
        assert result.stdout.count(f"on {n}\n") == expected, result.stdout
