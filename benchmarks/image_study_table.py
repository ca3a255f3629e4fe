"""Tabulate an image-study run's outputs beside the study's published accuracies.

Reads the latest version of every ``<namespace>/val_metrics.json`` and ``history.csv``
under one or more Kedro ``data/`` folders (the latest run of each model across them) and
writes ``<output>.json``, ``<output>.md`` and every model's per-epoch curve as
``<output>_curves.csv``. Where the 10-epoch AlexNet was not run on its own, the first 10
epochs of ``alexnet_25_epochs`` stand in for it (same settings and seed; the row says so).
The project's own ``resnet`` is listed after the study's models. Run from the project root:

    python benchmarks/image_study_table.py --data data --output benchmarks/results/image_study
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

# The study's final-epoch accuracies (train, validation) and, where given, its peak validation accuracy.
STUDY = {
    "simple_cnn": {"train": 0.700, "val": 0.192, "epochs": 10},
    "lenet": {"train": 0.825, "val": 0.457, "epochs": 10},
    "alexnet": {"train": 0.598, "val": 0.495, "epochs": 10},
    "alexnet_25_epochs": {"train": 0.829, "val": 0.542, "peak_val": 0.693, "epochs": 25},
    "lenet_batch_128": {"train": 0.744, "val": 0.439, "epochs": 10},
    "lenet_batch_8": {"train": 0.859, "val": 0.437, "epochs": 10},
    "lenet_size_128": {"train": 0.988, "val": 0.454, "epochs": 10},
    "lenet_kernel_2": {"train": 0.746, "val": 0.500, "epochs": 10},
    "lenet_dropout": {"train": 0.979, "val": 0.433, "epochs": 10},
}
BEYOND_THE_STUDY = ("resnet",)


def read_run(folders: list[Path], name: str) -> tuple[dict, pd.DataFrame] | None:
    """Metrics and history of a namespace's latest run (both saved under the same Kedro version), if any."""
    runs = []
    for data in folders:
        metrics_folder = data / "08_reporting" / name / "val_metrics.json"
        for version in sorted(p.name for p in metrics_folder.iterdir()) if metrics_folder.is_dir() else []:
            history = data / "07_model_output" / name / "history.csv" / version / "history.csv"
            if history.exists():
                runs.append((version, metrics_folder / version / "val_metrics.json", history))
    if not runs:
        return None
    _, metrics, history = max(runs)
    return json.loads(metrics.read_text()), pd.read_csv(history)


def row(name: str, metrics: dict, history: pd.DataFrame, note: str = "") -> dict:
    study = STUDY.get(name, {"train": None, "val": None, "epochs": None})
    return {
        "model": name,
        "epochs": int(len(history)),
        "study_epochs": study["epochs"],
        "train_accuracy": round(float(history["accuracy"].iloc[-1]), 3),
        "val_accuracy": round(float(history["val_accuracy"].iloc[-1]), 3),
        "best_val_accuracy": round(float(history["val_accuracy"].max()), 3),
        "study_train_accuracy": study["train"],
        "study_val_accuracy": study["val"],
        "study_peak_val_accuracy": study.get("peak_val"),
        "n_params": metrics["n_params"],
        "image_size": metrics["image_size"],
        "batch_size": metrics["batch_size"],
        "precision": metrics.get("precision", "not recorded"),  # recorded since the parameter exists
        "train_minutes": round(float(history["seconds"].sum()) / 60, 1),
        "images_per_second": round(metrics["n_train"] * len(history) / float(history["seconds"].sum()), 1),
        "note": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=[Path("data")])
    parser.add_argument("--note", action="append", default=[], metavar="MODEL=TEXT", help="a note for a model's row")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/image_study"))
    args = parser.parse_args()
    rows = []
    curves = []
    for name in (*STUDY, *BEYOND_THE_STUDY):
        run = read_run(args.data, name)
        if run is not None:
            metrics, history = run
            stopped = metrics.get("stopped_by_time_budget")
            note = (
                f"stopped by the time budget after {len(history)} of {metrics['epochs_planned']} epochs"
                if stopped
                else ""
            )
            note = "; ".join(filter(None, [note, *(n.split("=", 1)[1] for n in args.note if n.startswith(f"{name}="))]))
            rows.append(row(name, metrics, history, note))
            curves.append(history.assign(model=name))
        elif name == "alexnet" and (long := read_run(args.data, "alexnet_25_epochs")) and len(long[1]) >= 10:
            rows.append(row(name, long[0], long[1].head(10), "first 10 epochs of the alexnet_25_epochs run"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    if curves:
        curve_columns = ["model", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
        pd.concat(curves)[curve_columns].to_csv(f"{args.output}_curves.csv", index=False)
    lines = [
        "| model | input | batch | precision | epochs (study) | train acc. (study) | val acc. (study) | best val acc. | "
        "parameters | fit minutes | images/s | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def study(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    for r in rows:
        peak = f" (study peak {r['study_peak_val_accuracy']:.3f})" if r["study_peak_val_accuracy"] else ""
        lines.append(
            f"| {r['model']} | {r['image_size']} px | {r['batch_size']} | {r['precision']} | {r['epochs']} "
            f"({r['study_epochs'] or '–'}) | {r['train_accuracy']:.3f} ({study(r['study_train_accuracy'])}) | "
            f"{r['val_accuracy']:.3f} ({study(r['study_val_accuracy'])}) | {r['best_val_accuracy']:.3f}{peak} | "
            f"{r['n_params']:,} | {r['train_minutes']} | {r['images_per_second']} | {r['note']} |"
        )
    args.output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
