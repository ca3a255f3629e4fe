"""Time the tabular_modelling pipeline under Kedro (per node) and as a plain script, on the same data.

Usage (from the repository root, on a quiet machine):

    python benchmarks/tabular_benchmark.py --env real            # the study's table via conf/real
    python benchmarks/tabular_benchmark.py --env real --modes study

For each mode ("default": cross-validated selection and out-of-fold thresholds; "study": the
study-faithful protocol) it runs the study's part of ``kedro run --pipelines tabular_modelling``
(processing, random_forest, svm) in-process with a node-timing hook, then the same node functions chained by hand
with no catalog. ``--whole`` also times the whole default pipeline (every family and the recommender) under Kedro.
Writes ``benchmarks/results/tabular_<env>.json`` and ``.md``.
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

from kedro.framework.hooks import hook_impl  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("random_forest", "svm")  # the study's families; benchmarks/tabular_seeds.py covers the others
STUDY = {
    "tabular_protocol": {
        "cv_folds": 0,
        "selection_metric": "train_accuracy",
        "threshold_source": "in_sample",
        "train_accuracy_sample": 0,
    },
    "svm": {"threshold": {"method": "default"}},
}


class NodeTimer:
    """Record each node's wall time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        self.seconds[node.name] = time.perf_counter() - self._started.pop(node.name)


def _merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run_kedro(env: str, overrides: dict, whole: bool = False) -> dict[str, Any]:
    """Run the pipeline through a Kedro session; returns wall time, per-node times and test metrics.

    By default only the study's processing and its two families run (as in ``run_plain``); ``whole`` runs
    every node of ``tabular_modelling``, the modern families and the recommender included.
    """
    from kedro.framework.project import pipelines

    from promotion_cnn.model_lists import load_model_lists

    families = tuple(load_model_lists(ROOT).families) if whole else FAMILIES
    timer = NodeTimer()
    started = time.perf_counter()
    with KedroSession.create(project_path=ROOT, env=env, runtime_params=overrides) as session:
        session._hook_manager.register(timer)
        nodes = [
            n.name
            for n in pipelines["tabular_modelling"].nodes
            if whole or (n.namespace in (None, *FAMILIES) and "recommender" not in n.tags)
        ]
        session.run(pipeline_names=["tabular_modelling"], node_names=nodes)
        context = session.load_context()
        metrics = {f: context.catalog.load(f"test_metrics_{f}") for f in families}
    return {"wall_seconds": time.perf_counter() - started, "node_seconds": timer.seconds, "test_metrics": metrics}


def run_plain(env: str, overrides: dict) -> dict[str, Any]:
    """The same computation as a plain script: the node functions chained by hand, no catalog."""
    from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding
    from promotion_cnn.pipelines.data_processing import tabular_nodes as dp
    from promotion_cnn.pipelines.data_processing.params import Reduction, Split
    from promotion_cnn.pipelines.tabular_modelling import nodes as tm
    from promotion_cnn.pipelines.tabular_modelling.params import ModelFamily, TabularProtocol
    from promotion_cnn.tabular import features as ft
    from promotion_cnn.tabular.tables import validate_table

    with KedroSession.create(project_path=ROOT, env=env) as session:
        context = session.load_context()
        params = _merge(context.config_loader["parameters"], overrides)  # raw blocks, typed below
        raw = context.catalog.load("employees_raw")
    started = time.perf_counter()
    schema, cleaning = EmployeesSchema(**params["employees_schema"]), Cleaning(**params["cleaning"])
    encoding = Encoding(**params["encoding"])
    table = validate_table(raw, schema)
    table = ft.fill_missing_values(table, cleaning)
    table = ft.drop_columns(table, cleaning)
    table = ft.keep_columns(table, cleaning, schema)
    table = ft.encode_ordinal(table, encoding)
    table = ft.encode_flags(table, encoding)
    table = ft.as_categories(table, encoding)
    table = ft.one_hot_encode(table, encoding)
    x_train, x_test, y_train, y_test = dp.split_train_test(table, schema, Split(**params["split"]))
    reducer = dp.fit_feature_reducer(x_train, Reduction(**params["reduction"]))
    metrics = {}
    for family in FAMILIES:
        protocol, spec = TabularProtocol(**params["tabular_protocol"]), ModelFamily(**params[family])
        scores, oof, fitted = tm.evaluate_variants(x_train, y_train, reducer, spec, protocol)
        selected = tm.select_variant(scores, protocol)
        model, selected_oof = tm.fit_selected_model(x_train, y_train, reducer, spec, selected, fitted, oof, protocol)
        threshold, _ = tm.tune_threshold(model, x_train, y_train, selected_oof, protocol, spec)
        metrics[family] = tm.evaluate_model(model, threshold, x_test, y_test, selected)[0]
    return {"wall_seconds": time.perf_counter() - started, "test_metrics": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="base", help="Kedro environment holding the table (e.g. real)")
    parser.add_argument("--modes", nargs="+", default=["default", "study"], choices=["default", "study"])
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also time the whole default pipeline (every family and the recommender) under Kedro",
    )
    args = parser.parse_args()
    bootstrap_project(ROOT)
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": f"python benchmarks/tabular_benchmark.py --env {args.env} --modes {' '.join(args.modes)}"
        + (" --whole" if args.whole else ""),
        "env": args.env,
    }
    for mode in args.modes:
        overrides = STUDY if mode == "study" else {}
        kedro = run_kedro(args.env, overrides)
        plain = run_plain(args.env, overrides)
        same = all(
            abs(kedro["test_metrics"][f][k] - plain["test_metrics"][f][k]) < 1e-9
            for f in kedro["test_metrics"]
            for k in ("accuracy", "f1", "roc_auc")
        )
        results[mode] = {
            "kedro": kedro,
            "plain": plain,
            "kedro_overhead": kedro["wall_seconds"] / plain["wall_seconds"] - 1,
            "same_metrics": same,
        }
        print(f"{mode}: kedro {kedro['wall_seconds']:.1f}s, plain {plain['wall_seconds']:.1f}s, same metrics: {same}")
    if args.whole:
        results["whole"] = run_kedro(args.env, {}, whole=True)
        print(f"whole tabular_modelling: kedro {results['whole']['wall_seconds']:.1f}s")
    out = ROOT / "benchmarks" / "results" / f"tabular_{args.env}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=float))
    out.with_suffix(".md").write_text(render_markdown(results, args.modes))
    print(f"Wrote {out}.json and .md")


def render_markdown(results: dict[str, Any], modes: list[str]) -> str:
    """A Markdown summary: wall times, Kedro's overhead and the slowest nodes."""
    lines = [
        f"# Tabular benchmark ({results['env']})",
        "",
        f"- Machine: {results['machine']}",
        f"- Command: `{results['command']}`",
        "",
    ]
    for mode in modes:
        r = results[mode]
        lines += [
            f"## {mode} mode",
            "",
            f"- `kedro run --pipelines tabular_modelling`: **{r['kedro']['wall_seconds']:.1f} s**",
            f"- plain script, same node functions: **{r['plain']['wall_seconds']:.1f} s**",
            f"- Kedro overhead: **{100 * r['kedro_overhead']:+.1f}%**; identical test metrics: {r['same_metrics']}",
            "",
            "| node | seconds |",
            "|---|---:|",
        ]
        nodes = sorted(r["kedro"]["node_seconds"].items(), key=lambda kv: -kv[1])
        lines += [f"| {name} | {seconds:.1f} |" for name, seconds in nodes]
        lines.append("")
    if "whole" in results:
        whole = results["whole"]
        slowest = sorted(whole["node_seconds"].items(), key=lambda kv: -kv[1])[:8]
        lines += [
            "## whole default pipeline (every family and the recommender)",
            "",
            f"- `kedro run --pipelines tabular_modelling`: **{whole['wall_seconds']:.1f} s**",
            "",
            "| slowest nodes | seconds |",
            "|---|---:|",
            *(f"| {n} | {t:.1f} |" for n, t in slowest),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
