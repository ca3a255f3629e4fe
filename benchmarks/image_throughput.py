"""Training throughput (images/s) per architecture: the project's tf.data input pipeline vs a plain Keras tutorial loop.

Both train the same seeded model (architecture, input size, precision and augmentation
from the project's parameters, ``--env`` included) on the same few hundred training images,
in the same process, one after the other:

- project: ``promotion_cnn.images.input_pipeline.make_dataset`` (each image
  decoded once, resized tensors cached, seeded shuffle, the model's augmentation on the fly,
  parallel map, prefetch);
- tutorial: ``keras.utils.image_dataset_from_directory`` on a folder of links to the same files,
  scaled to [0, 1], no cache and no prefetch (the first loop of the Keras/TensorFlow image tutorial).

"all epochs" counts every epoch (the first includes decoding and graph tracing for both);
"steady" leaves the first epoch out. The ratio is project / tutorial. "input only" reads the
same epochs through each pipeline without training (steady epochs): when it is far above the
training rate, the training step, not the input, is the bottleneck. Run from the project root:

    python benchmarks/image_throughput.py                       # ../shared/datasets/imagenette if present
    python benchmarks/image_throughput.py --env real --architectures resnet lenet simple_cnn alexnet
    python benchmarks/image_throughput.py --data /path/to/folder --images-per-class 30   # without Imagenette: the digits
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = PROJECT.parent / "shared" / "datasets" / "imagenette"
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data if default_data.is_dir() else None,
        help="image folder laid out <root>/train/<class>/<image> (default: Imagenette, else the digits written to a "
        "temporary folder)",
    )
    parser.add_argument("--images-per-class", type=int, default=30, help="training images per class (seeded sample)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--architectures",
        nargs="+",
        default=["lenet", "simple_cnn", "alexnet"],
        help="model names (namespaces) in the parameters",
    )
    parser.add_argument("--env", default="base", help="configuration environment for the models' parameters")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=PROJECT / "benchmarks/results/image_throughput.json")
    return parser.parse_args()


def project_parameters(env: str) -> dict:
    from kedro.config import OmegaConfigLoader

    from promotion_cnn.settings import CONFIG_LOADER_ARGS

    return OmegaConfigLoader(str(PROJECT / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env})["parameters"]


def input_only(data, epochs: int, n_images: int) -> float:
    """Images/s reading ``epochs`` epochs of ``data`` without training, after one warm-up (decoding) epoch."""
    for _ in data:
        pass
    start = time.perf_counter()
    for _ in range(epochs):
        for _ in data:
            pass
    return round(n_images * epochs / (time.perf_counter() - start), 1)


def sample_training_images(root: Path, per_class: int, seed: int) -> tuple[list[str], list[str]]:
    """Seeded sample of ``per_class`` readable training images per class: paths and labels."""
    from promotion_cnn.datasets.image_folder import index_image_folder, inspect_image

    index = index_image_folder(root, ["train"]).dropna(subset=["path"])  # the dataset's own index
    chosen = index.sample(frac=1, random_state=seed).groupby("label").head(per_class * 2)
    chosen = chosen[[inspect_image(p)[0] is None for p in chosen["path"]]].groupby("label").head(per_class)
    chosen = chosen.sort_values(["label", "path"])
    return chosen["path"].tolist(), chosen["label"].tolist()


def timed_fit(model, data, epochs: int, n_images: int) -> dict:
    import keras

    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(data, epochs=epochs, verbose=0, shuffle=False, callbacks=[EpochTimer()])  # data already shuffled
    steady = seconds[1:] or seconds
    return {
        "epoch_seconds": [round(s, 2) for s in seconds],
        "images_per_second_all_epochs": round(n_images * len(seconds) / sum(seconds), 1),
        "images_per_second_steady": round(n_images * len(steady) / sum(steady), 1),
    }


def main() -> None:
    args = parse_args()
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from promotion_cnn.datasets import ImageFolderDataset, write_digits_folder
    from promotion_cnn.images.input_pipeline import make_dataset
    from promotion_cnn.pipelines.image_modelling.architectures import build_architecture

    parameters = project_parameters(args.env)
    scratch = Path(tempfile.mkdtemp(prefix="image_throughput_"))
    links = scratch / "links"  # the tutorial's folder: links to the sampled files
    if args.data is None:
        args.data = scratch / "digits"
        write_digits_folder(args.data, image_size=32)
    paths, labels = sample_training_images(args.data, args.images_per_class, args.seed)
    classes = sorted(set(labels))
    indices = [classes.index(label) for label in labels]
    for path, label in zip(paths, labels):
        (links / label).mkdir(parents=True, exist_ok=True)
        (links / label / Path(path).name).symlink_to(Path(path).resolve())
    print(f"{len(paths)} images in {len(classes)} classes from {args.data}", flush=True)

    rows = []
    for name in args.architectures:
        size = parameters[name]["image_size"]
        run = {**parameters["image_training"], **(parameters[name].get("training") or {})}

        def fresh_model(name=name, size=size, run=run):
            keras.utils.set_random_seed(args.seed)
            model = build_architecture(
                parameters[name]["architecture"], size, len(classes), parameters[name].get("layers"), run["precision"]
            )
            model.compile(
                optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
            )
            return model

        images = ImageFolderDataset(str(args.data), splits=["train"]).load()  # a fresh decode cache per model
        project_data = make_dataset(
            images, paths, indices, size, args.batch_size, args.seed, augmentation=run["augmentation"]
        )
        project = timed_fit(fresh_model(), project_data, args.epochs, len(paths))
        tutorial_data = keras.utils.image_dataset_from_directory(  # raw 0-255 pixels: the model rescales
            links, image_size=(size, size), batch_size=args.batch_size, seed=args.seed, shuffle=True, verbose=False
        )
        tutorial = timed_fit(fresh_model(), tutorial_data, args.epochs, len(paths))
        project["input_only_images_per_second"] = input_only(project_data, args.epochs, len(paths))
        tutorial["input_only_images_per_second"] = input_only(tutorial_data, args.epochs, len(paths))
        row = {
            "architecture": name,
            "image_size": size,
            "precision": run["precision"],
            "augmentation": {k: v for k, v in run["augmentation"].items() if v},
            "n_params": fresh_model().count_params(),
            "project": project,
            "tutorial": tutorial,
            "ratio_all_epochs": round(
                project["images_per_second_all_epochs"] / tutorial["images_per_second_all_epochs"], 2
            ),
            "ratio_steady": round(project["images_per_second_steady"] / tutorial["images_per_second_steady"], 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    shutil.rmtree(scratch)

    result = {
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "data": str(args.data),
        "env": args.env,
        "n_images": len(paths),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "tensorflow_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    table = [
        "| model | input | precision | augmented | project img/s (all / steady) | tutorial img/s (all / steady) "
        "| ratio (all / steady) | input only: project / tutorial img/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, t = r["project"], r["tutorial"]
        table.append(
            f"| {r['architecture']} | {r['image_size']} px | {r['precision']} | {'yes' if r['augmentation'] else 'no'} "
            f"| {p['images_per_second_all_epochs']} / {p['images_per_second_steady']} "
            f"| {t['images_per_second_all_epochs']} / {t['images_per_second_steady']} "
            f"| {r['ratio_all_epochs']} / {r['ratio_steady']} "
            f"| {p['input_only_images_per_second']} / {t['input_only_images_per_second']} |"
        )
    args.output.with_suffix(".md").write_text(
        f"# Image training throughput\n\n`{result['command']}` at {result['when_utc']}: {len(paths)} training images "
        f"from `{args.data.name}` (parameters: `{args.env}`), {args.epochs} epochs, batch {args.batch_size}, {args.threads} TensorFlow threads on "
        f"{os.cpu_count()} CPU cores (load average at the end {result['load_average_at_end']}).\n\n"
        + "\n".join(table)
        + "\n"
    )
    print("\n".join(table))


if __name__ == "__main__":
    main()
