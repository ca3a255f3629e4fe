"""Peak memory of the full image study on Imagenette: every CNN of `image_modelling`, with and without the decode cache bound.

    python benchmarks/image_memory.py                             # bounds 3072 MB and none: benchmarks/results/image_memory.*
    python benchmarks/image_memory.py --cache-mb 3072 --epochs 1
    python benchmarks/image_memory.py --input-only                # the input pipelines alone (minutes, not an hour)

``--input-only``: per bound, one process reads every model's training and validation sets through the project's
input pipeline (``make_dataset`` over ``images_raw`` of ``conf/real`` with the bound, in the order SequentialRunner
trains the models), one full pass each, as ``train_model`` and ``evaluate_model`` do, without building or training a
network: the decode cache's part of the study's memory, measured as the process's peak RSS and its RSS after each
model. The full mode below adds the networks' training.

Each run is a ``git clone`` of this repository at ``--ref`` in a temporary folder (``../shared`` linked beside it),
with an environment ``conf/bench`` = ``conf/real`` whose ``images_raw`` has ``decode_cache_mb`` set to the run's
bound (``none``: no bound, the cache as it was before it had one). It runs ``kedro run --env bench --pipelines
data_processing --tags image`` (the manifest), then ``kedro run --env bench --pipelines image_modelling`` with every
model's epochs set to ``--epochs`` (default 1): the decoded sets are all built and cached in the first epoch, so
the memory is the full study's, at a fraction of its hours. Measured: the peak RSS of the kedro process
(``getrusage`` in a wrapper, like ``benchmarks/scaling.py``), its RSS every 0.5 s and the peak per model (from the
run log's node timings), the run's wall and CPU seconds, and the decoded bytes the cache would hold without a bound
(images x size^2 x 3 per input size and split, from the manifest). The clone is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "image_memory"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_run import machine  # noqa: E402
from scaling import load_and_others, log_lines, node_seconds, run_wrapped  # noqa: E402


def kedro(clone: Path, args: list[str], env: dict[str, str], tmp: Path, label: str) -> dict[str, Any]:
    """Run ``kedro <args>`` in ``clone`` under scaling's wrapper; wall, CPU, peak RSS and the tree's RSS series."""
    console = tmp / f"{label}_console.txt"
    returncode, wall, usage, sampler = run_wrapped(args, clone, env, console, tmp / f"{label}_usage.json")
    if returncode != 0:
        print(console.read_text(errors="replace")[-4000:], flush=True)
    return {
        "command": "kedro " + " ".join(args),
        "returncode": returncode,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.get("user", 0) + usage.get("system", 0), 1),
        "peak_rss_mib": round(usage.get("maxrss_kib", 0) / 1024, 1),
        "samples": sampler.series,
    }


def per_model_peaks(samples: list[tuple[float, int]], lines: list[tuple[float, str, str]]) -> dict[str, float]:
    """Peak sampled RSS (MiB) while each model trained (its ``train_model`` node, from the log's timing lines)."""
    spans: dict[str, list[float]] = {}
    for stamp, _, message in lines:
        if message.startswith("node ") and message.endswith(" s") and ": " in message:
            name, seconds = message[5:].rsplit(": ", 1)
            if not name.endswith(".train_model"):  # SequentialRunner builds every model first, evaluates them last
                continue
            model = name.split(".")[0]
            start = stamp - float(seconds[:-2])
            span = spans.setdefault(model, [start, stamp])
            span[0], span[1] = min(span[0], start), max(span[1], stamp)
    return {
        model: round(max((rss for t, rss in samples if start - 0.5 <= t <= end + 0.5), default=0) / 2**20, 1)
        for model, (start, end) in spans.items()
    }


def decoded_bytes(clone: Path, parameters: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """What every decoded set of the study weighs (uint8, 3 bytes a pixel), per (split, size): the unbounded cache."""
    import pandas as pd

    manifest = pd.read_parquet(clone / "data/03_primary/image_manifest.parquet")
    counts = manifest.groupby("split").size().to_dict()
    sets = set()
    for name in models:
        block = parameters[name]
        run = {**parameters["image_training"], **(block.get("training") or {})}
        source = (
            (run.get("augmentation") or {}).get("source_size")
            if any((run.get("augmentation") or {}).values())
            else None
        )
        sets.add(("train", int(source or block["image_size"])))
        sets.add(("val", int(block.get("eval_image_size") or block["image_size"])))
    sizes = {f"{split} {size}px": counts[split] * size * size * 3 for split, size in sorted(sets)}
    return {
        "sets_mib": {k: round(v / 2**20, 1) for k, v in sizes.items()},
        "total_mib": round(sum(sizes.values()) / 2**20, 1),
    }


def run_bound(bound: str, args: argparse.Namespace) -> dict[str, Any]:
    import yaml
    from kedro.config import OmegaConfigLoader

    tmp = Path(tempfile.mkdtemp(prefix="image_memory_"))
    try:
        clone = tmp / "promotion_cnn"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", args.ref], check=True)
        commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True)
        (tmp / "shared").symlink_to(REPO.parent / "shared", target_is_directory=True)
        shutil.copytree(clone / "conf" / "real", clone / "conf" / "bench")
        catalog_file = clone / "conf" / "bench" / "catalog_image.yml"
        catalog = yaml.safe_load(catalog_file.read_text())
        catalog["images_raw"]["decode_cache_mb"] = None if bound == "none" else float(bound)
        catalog_file.write_text(yaml.safe_dump(catalog, sort_keys=False))
        sys.path.insert(0, str(clone / "src"))
        from promotion_cnn.settings import CONFIG_LOADER_ARGS

        loader = OmegaConfigLoader(str(clone / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "bench"})
        parameters = loader["parameters"]
        from promotion_cnn.model_lists import load_model_lists

        models = list(load_model_lists(clone).image_models)
        epochs = [f"image_training.epochs={args.epochs}"] + [
            f"{m}.training.epochs={args.epochs}" for m in models if "epochs" in (parameters[m].get("training") or {})
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(clone / "src"),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "MPLBACKEND": "Agg",
        }
        env.pop("KEDRO_LOGGING_CONFIG", None)
        before = load_and_others({os.getpid()})
        print(f"[{time.strftime('%H:%M:%S')}] bound {bound}: manifest (load {before['load_average']})", flush=True)
        manifest = kedro(
            clone, ["run", "--env", "bench", "--pipelines", "data_processing", "--tags", "image"], env, tmp, "manifest"
        )
        first_training_line = len(log_lines(clone))
        print(f"[{time.strftime('%H:%M:%S')}] bound {bound}: image_modelling, {len(models)} models", flush=True)
        study = kedro(
            clone,
            ["run", "--env", "bench", "--pipelines", "image_modelling", "--params", ",".join(epochs)],
            env,
            tmp,
            "study",
        )
        lines = log_lines(clone)[first_training_line:]
        samples = study.pop("samples")
        manifest.pop("samples")
        result = {
            "decode_cache_mb": bound,
            "commit": commit.stdout.strip(),
            "models": models,
            "epochs": args.epochs,
            "manifest_run": manifest,
            "study_run": study,
            "peak_rss_mib_per_model": per_model_peaks(samples, lines),
            "node_seconds": node_seconds(lines),
            "rss_mib_every_10_s": [round(rss / 2**20) for _, rss in samples[::20]],
            "unbounded_cache_would_hold": decoded_bytes(clone, parameters, models),
            "load_before": before,
            "load_after": load_and_others({os.getpid()}),
        }
        print(
            f"[{time.strftime('%H:%M:%S')}] bound {bound}: exit {study['returncode']}, {study['wall_seconds']} s, "
            f"peak RSS {study['peak_rss_mib']} MiB",
            flush=True,
        )
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def input_only_child(bound: str) -> dict[str, Any]:
    """In this process: every model's sets through the input pipeline, in run order (see ``--input-only``)."""
    import resource

    import psutil
    import yaml
    from kedro.config import OmegaConfigLoader

    from promotion_cnn.datasets import ImageFolderDataset
    from promotion_cnn.images.input_pipeline import make_dataset
    from promotion_cnn.model_lists import load_model_lists
    from promotion_cnn.pipelines.data_processing.image_nodes import validate_images
    from promotion_cnn.pipelines.data_processing.params import ImageValidation
    from promotion_cnn.pipelines.image_modelling.nodes import _split, class_names, eval_size, settings
    from promotion_cnn.pipelines.image_modelling.params import ImageModel, ImageTraining
    from promotion_cnn.pipelines.image_modelling.pipeline import create_pipeline
    from promotion_cnn.settings import CONFIG_LOADER_ARGS

    os.chdir(REPO)  # conf/real's images_raw path is relative to the project root
    parameters = OmegaConfigLoader(str(REPO / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": "real"})[
        "parameters"
    ]
    entry = yaml.safe_load((REPO / "conf/real/catalog_image.yml").read_text())["images_raw"]
    entry = {k: v for k, v in entry.items() if k not in ("type", "metadata")}
    images = ImageFolderDataset(**{**entry, "decode_cache_mb": None if bound == "none" else float(bound)}).load()
    manifest, _ = validate_images(images, ImageValidation.model_validate(parameters["image_validation"]))
    training = ImageTraining.model_validate(parameters["image_training"])
    models = load_model_lists(REPO).image_models
    order = [n.namespace for n in create_pipeline(models).nodes if n.name.endswith(".train_model")]
    process, after, started = psutil.Process(), {}, time.monotonic()
    for name in order:
        model = ImageModel.model_validate(parameters[name])
        run = settings(model, training)
        classes = class_names(manifest)
        train_paths, train_labels = _split(manifest, "train", classes)
        val_paths, val_labels = _split(manifest, "val", classes)
        size, batch = model.image_size, run["batch_size"]
        augmentation = run.get("augmentation")
        train = make_dataset(
            images, train_paths, train_labels, size, batch, run["seed"], run["shuffle_buffer"], augmentation
        )
        for _ in train:  # train_model's first epoch: decodes (and caches) the training set
            pass
        for _ in range(2):  # train_model's validation, then evaluate_model's predictions
            for _ in make_dataset(images, val_paths, val_labels, eval_size(model), batch):
                pass
        after[name] = round(process.memory_info().rss / 2**20, 1)
        print(f"[{time.strftime('%H:%M:%S')}] {name}: RSS {after[name]:,.0f} MiB", flush=True)
    return {
        "decode_cache_mb": bound,
        "order": order,
        "rss_mib_after_model": after,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cached_mib_at_end": round(images.cache.currsize / 2**20, 1) if images.cache is not None else 0,
        "seconds": round(time.monotonic() - started, 1),
    }


def markdown_input_only(result: dict[str, Any]) -> str:
    runs = result["runs"]
    order = next(iter(runs.values()))["order"]
    lines = [
        "# Memory of the image study's input pipelines (Imagenette, every CNN's sets, no training)",
        "",
        f"`{result['command']}` on {result['when_utc']}; machine: {result['machine']}.",
        "One process per bound reads each model's training set once and its validation set twice through",
        "`make_dataset` over `images_raw` (conf/real), in SequentialRunner's order, as a run does; no network is built.",
        "",
        "| decode_cache_mb | peak RSS (MiB) | cached at the end (MiB) | seconds | load before |",
        "|---|---|---|---|---|",
    ]
    for bound, run in runs.items():
        lines.append(
            f"| {bound} | {run['peak_rss_mib']:,.0f} | {run['cached_mib_at_end']:,.0f} | {run['seconds']:,.0f} | "
            f"{run['load_before']['load_average']} |"
        )
    lines += ["", "RSS (MiB) after each model's sets:", ""]
    lines += ["| model | " + " | ".join(f"bound {b}" for b in runs) + " |", "|---|" + "---|" * len(runs)]
    for name in order:
        lines.append(
            f"| {name} | " + " | ".join(f"{r['rss_mib_after_model'][name]:,.0f}" for r in runs.values()) + " |"
        )
    return "\n".join(lines) + "\n"


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        "# Peak memory of the full image study (Imagenette, every CNN of image_modelling)",
        "",
        f"`{result['command']}` on {result['when_utc']}; machine: {result['machine']}.",
        f"Each model trained for {next(iter(runs.values()))['epochs']} epoch(s): every decoded set is built and cached "
        "in the first epoch, so the memory is the full study's.",
        "",
        "| decode_cache_mb | peak RSS (MiB) | study wall s | study CPU s | load before | exit |",
        "|---|---|---|---|---|---|",
    ]
    for bound, run in runs.items():
        study = run["study_run"]
        lines.append(
            f"| {bound} | {study['peak_rss_mib']:,.0f} | {study['wall_seconds']:,.0f} | {study['cpu_seconds']:,.0f} | "
            f"{run['load_before']['load_average']} | {study['returncode']} |"
        )
    models = [
        m for m in next(iter(runs.values()))["models"] if all("peak_rss_mib_per_model" in r for r in runs.values())
    ]
    lines += ["", "Peak sampled RSS (MiB) while each model trained:", ""] if models else []
    if models:
        lines += ["| model | " + " | ".join(f"bound {b}" for b in runs) + " |", "|---|" + "---|" * len(runs)]
    for model in models:
        lines.append(
            f"| {model} | "
            + " | ".join(f"{r['peak_rss_mib_per_model'].get(model, 0):,.0f}" for r in runs.values())
            + " |"
        )
    held = next(iter(runs.values()))["unbounded_cache_would_hold"]
    lines += ["", f"Decoded sets of the study (uint8): {held['total_mib']:,.0f} MiB in all: "]
    lines += [", ".join(f"{k} {v:,.0f}" for k, v in held["sets_mib"].items()) + " MiB.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cache-mb", nargs="+", default=["3072", "none"], help="decode_cache_mb bounds (none: no bound)"
    )
    parser.add_argument("--epochs", type=int, default=1, help="epochs of every model")
    parser.add_argument("--ref", default="HEAD", help="commit to run (default HEAD: uncommitted changes do not run)")
    parser.add_argument("--output", type=Path, default=None, help="results path without suffix (.json, .md)")
    parser.add_argument("--input-only", action="store_true", help="the input pipelines alone, no training")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # --input-only's per-bound process
    parser.add_argument("--from-json", type=Path, help="re-render the markdown of a results JSON, no run")
    args = parser.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        render = markdown_input_only if "order" in next(iter(result["runs"].values())) else markdown
        args.from_json.with_suffix(".md").write_text(render(result))
        return 0
    if args.child:
        print("RESULT " + json.dumps(input_only_child(args.child)), flush=True)
        return 0
    args.output = args.output or (RESULTS.with_name("image_memory_input") if args.input_only else RESULTS)
    if not (REPO.parent / "shared" / "datasets" / "imagenette").is_dir():
        parser.error("needs ../shared/datasets/imagenette beside the project")
    result = {
        "command": " ".join(["python", "benchmarks/image_memory.py", *sys.argv[1:]]),
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": {},
    }
    for bound in args.cache_mb:
        if args.input_only:
            before = load_and_others({os.getpid()})
            child = subprocess.run(
                [sys.executable, __file__, "--child", bound],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            )
            print(child.stdout, child.stderr[-3000:] if child.returncode else "", flush=True)
            if child.returncode:
                return child.returncode
            line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
            result["runs"][bound] = {**json.loads(line[7:]), "load_before": before}
        else:
            result["runs"][bound] = run_bound(bound, args)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        args.output.with_suffix(".md").write_text((markdown_input_only if args.input_only else markdown)(result))
    return 0 if args.input_only else max(r["study_run"]["returncode"] for r in result["runs"].values())


if __name__ == "__main__":
    sys.exit(main())
