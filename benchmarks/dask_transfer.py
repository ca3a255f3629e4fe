"""Bytes sent to Dask workers by the tabular fits (``tabular_protocol.parallel.backend: dask``), with and without
scattering the training matrix.

Usage (from the repository root, with ``pip install -e ".[dask]"``):

    python benchmarks/dask_transfer.py                 # 2,000 generated rows, a LocalCluster of 2 worker processes
    python benchmarks/dask_transfer.py --rows 5000 --workers 2

Runs the tabular processing and modelling pipelines in-process (up to every family's test metrics) on a generated
table, three times on one ``LocalCluster`` (127.0.0.1, one thread per worker), each time with the committed
parameters and ``parallel: {backend: dask, scheduler_address: <the cluster>}``:

- ``scatter``: the project's way: ``x`` and ``y`` broadcast to every worker once per node (joblib's Dask backend,
  ``scatter=[x, y]``), each fit refers to them;
- ``joblib_auto``: no ``scatter=``: joblib's Dask backend still scatters any argument over 1 kB once per
  ``Parallel`` call (the estimator too), to one worker, and the others fetch it from that worker when they need it;
- ``inline``: that auto-scatter disabled as well, so every fit's task carries its own copy of ``x`` and ``y``
  (what "once per fit" costs).

Every byte a worker receives is counted where the frames are read (``distributed.comm.tcp.from_frames``, patched in
each worker process): task specs and scattered data from the scheduler, and data from other workers; the share
fetched from other workers is ``Worker.transfer_incoming_log``. Writes ``benchmarks/results/dask_transfer.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import cloudpickle  # noqa: E402
import distributed  # noqa: E402
import joblib._dask  # noqa: E402
from kedro.config import OmegaConfigLoader  # noqa: E402
from kedro.io import DataCatalog, MemoryDataset  # noqa: E402
from kedro.runner import SequentialRunner  # noqa: E402
from kedro.validation.parameter_validator import ParameterValidator  # noqa: E402

from promotion_cnn.datasets import generate_employees  # noqa: E402
from promotion_cnn.pipelines.data_processing import create_tabular_pipeline  # noqa: E402
from promotion_cnn.pipelines.tabular_modelling import create_pipeline, cross_validation, parallel  # noqa: E402
from promotion_cnn.pipelines.tabular_modelling.pipeline import MODEL_FAMILIES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODES = ("scatter", "joblib_auto", "inline")


def count_received_bytes() -> None:
    """In a worker: count the bytes of every message read from a TCP comm (run once per worker process)."""
    import distributed.comm.tcp as tcp
    from distributed.utils import nbytes

    if getattr(tcp, "_counting", False):
        return
    original = tcp.from_frames

    async def counted(frames, *args, **kwargs):
        tcp._received_bytes += sum(nbytes(frame) for frame in frames)
        return await original(frames, *args, **kwargs)

    tcp._received_bytes, tcp._counting, tcp.from_frames = 0, True, counted


def received(dask_worker) -> dict[str, int]:
    """A worker's counters: every byte received, and the part fetched from other workers."""
    import distributed.comm.tcp as tcp

    peers = sum(int(entry.get("total", 0)) for entry in dask_worker.transfer_incoming_log)
    return {"received": tcp._received_bytes, "from_workers": peers}


def parameters(address: str) -> dict[str, Any]:
    params = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="base")["parameters"]
    params["tabular_protocol"] = {
        **params["tabular_protocol"],
        "progress": 0,
        "parallel": {"backend": "dask", "scheduler_address": address},
    }
    return params


def run(rows: int, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The pipelines up to every family's test metrics; the metrics, and the fits' nodes that sent data."""
    outputs = [f"{family}.test_metrics" for family in MODEL_FAMILIES]
    pipeline = (create_tabular_pipeline() + create_pipeline()).to_outputs(*outputs)
    typed = ParameterValidator({"pipeline": pipeline}).validate_raw_params(params)
    catalog = DataCatalog({"employees_raw": MemoryDataset(generate_employees(rows, 7))})
    for name in pipeline.datasets():
        if name.startswith("params:"):
            value = typed
            for key in name.removeprefix("params:").split("."):
                value = value[key] if isinstance(value, dict) else getattr(value, key)
            catalog[name] = MemoryDataset(value)
        elif name in outputs:
            catalog[name] = MemoryDataset(copy_mode="assign")
    nodes_with_fits = []
    original = cross_validation.run_fits

    def run_fits(calls, *args, scatter=(), **kwargs):
        calls = list(calls)
        if calls:
            payload = len(cloudpickle.dumps(tuple(scatter)))
            nodes_with_fits.append({"fits": len(calls), "x_y_pickled_bytes": payload})
        return original(calls, *args, scatter=scatter, **kwargs)

    cross_validation.run_fits = run_fits
    try:
        SequentialRunner().run(pipeline, catalog)
    finally:
        cross_validation.run_fits = original
    return {name: catalog[name].load() for name in outputs}, nodes_with_fits


def measure(rows: int, workers: int) -> dict[str, Any]:
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    results: dict[str, Any] = {}
    original_backend = parallel.fits_backend
    original_weakrefable = joblib._dask.is_weakrefable
    try:
        client.run(count_received_bytes)
        params = parameters(cluster.scheduler_address)
        for mode in MODES:
            if mode != "scatter":
                parallel.fits_backend = lambda parallel, scatter=(): original_backend(parallel, ())
            if mode == "inline":
                joblib._dask.is_weakrefable = lambda obj: False
            client.run(lambda dask_worker: dask_worker.transfer_incoming_log.clear())
            before = client.run(received)
            started = time.perf_counter()
            metrics, fit_nodes = run(rows, params)
            seconds = time.perf_counter() - started
            after = client.run(received)
            parallel.fits_backend, joblib._dask.is_weakrefable = original_backend, original_weakrefable
            results[mode] = {
                "bytes_to_workers": sum(after[w]["received"] - before[w]["received"] for w in after),
                "bytes_between_workers": sum(after[w]["from_workers"] for w in after),
                "seconds": round(seconds, 1),
                "nodes_with_fits": len(fit_nodes),
                "fits": sum(node["fits"] for node in fit_nodes),
                "x_y_pickled_bytes_per_node": sorted({node["x_y_pickled_bytes"] for node in fit_nodes}),
                "metrics": metrics,
            }
            print(mode, {k: v for k, v in results[mode].items() if k != "metrics"}, flush=True)
    finally:
        parallel.fits_backend, joblib._dask.is_weakrefable = original_backend, original_weakrefable
        client.close()
        cluster.close()
    same = all(results[mode]["metrics"] == results["scatter"]["metrics"] for mode in MODES)
    for mode in MODES:
        results[mode].pop("metrics")
    return {
        "rows": rows,
        "workers": workers,
        "same_test_metrics_in_every_mode": same,
        "modes": results,
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.python_version()}, "
        f"distributed {distributed.__version__}, joblib {joblib.__version__}",
        "command": f"python benchmarks/dask_transfer.py --rows {rows} --workers {workers}",
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Bytes sent to Dask workers by the tabular fits ({report['rows']:,} generated rows, "
        f"{report['workers']} workers)",
        "",
        f"`{report['command']}` on {report['machine']}, {report['date']}. Same test metrics in every mode: "
        f"{report['same_test_metrics_in_every_mode']}.",
        "",
        "| mode | bytes to workers | of which between workers | fits | nodes with fits | x, y pickled per node | s |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for mode, row in report["modes"].items():
        sizes = ", ".join(f"{size:,}" for size in row["x_y_pickled_bytes_per_node"])
        lines.append(
            f"| {mode} | {row['bytes_to_workers']:,} | {row['bytes_between_workers']:,} | {row['fits']} | "
            f"{row['nodes_with_fits']} | {sizes} | {row['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    report = measure(args.rows, args.workers)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dask_transfer.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "dask_transfer.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
