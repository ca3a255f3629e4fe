"""Stability of the modern tabular families and of the recommender over several random stratified splits.

Usage (from the repository root):

    python benchmarks/tabular_seeds.py --env real                      # the study's table via conf/real
    python benchmarks/tabular_seeds.py --env real --seeds 1 2 3 4 5 --families hist_gradient_boosting

For each seed the table is split anew (``split.random_state`` and the cross-validation folds'
``tabular_protocol.random_state`` set to the seed), every family runs the project's own node functions with
the committed parameters (variants scored by CV on the training part, threshold from out-of-fold scores,
the test part touched once), and the recommender is the family with the best cross-validated selection
metric, as in ``tabular_modelling``. For scale it also reports the F1 at the threshold that is best on each
test part's own labels (a ceiling for the honest threshold, never a result). Writes
``benchmarks/results/tabular_seeds_<env>.json`` and ``.md`` with the per-seed numbers and their mean and
standard deviation. The study families (random forest, SVM on PCA components) are slow and not re-run
here; their numbers are in ``docs/tabular_results.md``.
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

import pandas as pd  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("f1", "roc_auc", "average_precision", "precision", "recall", "f1_test_optimal")
FAIRNESS_COLUMNS = ("group", "n", "n_promoted", "selection_rate", "recall", "disparate_impact", "flagged")
# f1_test_optimal: F1 at the threshold that is best *on the test part* -- not a result (that threshold would be
# chosen on the test labels, which the project never does), only the ceiling the honest threshold is measured against.


def typed(params: dict[str, Any], families: list[str]) -> dict[str, Any]:
    """The parameter blocks used here as the nodes' typed models (from raw dicts or a session's typed params)."""
    from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding, Fairness
    from promotion_cnn.pipelines.data_processing.params import Split
    from promotion_cnn.pipelines.tabular_modelling.params import Bootstrap, ModelFamily, TabularProtocol

    def plain(value: Any) -> Any:
        return value.model_dump() if hasattr(value, "model_dump") else value

    full = params["full_features"]
    return {
        "employees_schema": EmployeesSchema.model_validate(plain(params["employees_schema"])),
        "cleaning": Cleaning.model_validate(plain(full["cleaning"])),
        "encoding": Encoding.model_validate(plain(full["encoding"])),
        "split": Split.model_validate(plain(params["split"])),
        "tabular_protocol": TabularProtocol.model_validate(plain(params["tabular_protocol"])),
        "fairness": Fairness.model_validate(plain(params["fairness"])),
        "bootstrap": Bootstrap.model_validate(plain(params["assessment"]["bootstrap"])),
        **{family: ModelFamily.model_validate(plain(params[family])) for family in families},
    }


def full_features(raw: pd.DataFrame, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated table and its `full` feature table, through the project's processing nodes."""
    from promotion_cnn.tabular import features as dp
    from promotion_cnn.tabular.tables import validate_table

    schema, cleaning, encoding = params["employees_schema"], params["cleaning"], params["encoding"]
    validated = validate_table(raw, schema)
    table = dp.fill_missing_values(validated, cleaning)
    table = dp.drop_columns(table, cleaning)
    table = dp.keep_columns(table, cleaning, schema)
    table = dp.encode_ordinal(table, encoding)
    table = dp.encode_flags(table, encoding)
    table = dp.as_categories(table, encoding)
    return validated, dp.one_hot_encode(table, encoding)


def run_seed(validated: pd.DataFrame, features: pd.DataFrame, params: dict, families: list[str], seed: int) -> dict:
    """One split: every family through the template's nodes, then the recommender choice, fairness and timing."""
    from promotion_cnn.pipelines.data_processing.tabular_nodes import split_train_test
    from promotion_cnn.pipelines.tabular_modelling import nodes as tm
    from promotion_cnn.pipelines.tabular_modelling.assessment_nodes import audit_fairness
    from promotion_cnn.pipelines.tabular_modelling.recommender_nodes import describe_candidate, select_recommender
    from promotion_cnn.pipelines.tabular_modelling.thresholds import best_f1

    protocol = params["tabular_protocol"].model_copy(update={"random_state": seed, "progress": 0})
    split = params["split"].model_copy(update={"random_state": seed})
    x_train, x_test, y_train, y_test = split_train_test(features, params["employees_schema"], split)
    out: dict[str, Any] = {"seed": seed, "families": {}}
    candidates = {}
    for family in families:
        started = time.perf_counter()
        spec = params[family]
        scores, oof, fitted = tm.evaluate_variants(x_train, y_train, None, spec, protocol)
        selected = tm.select_variant(scores, protocol)
        model, selected_oof = tm.fit_selected_model(x_train, y_train, None, spec, selected, fitted, oof, protocol)
        threshold, _ = tm.tune_threshold(model, x_train, y_train, selected_oof, protocol, spec)
        metrics, *_, test_scores = tm.evaluate_model(model, threshold, x_test, y_test, selected)
        metrics = {**metrics, "f1_test_optimal": best_f1(y_test.iloc[:, 0], test_scores["score"])}
        audit, _ = audit_fairness(test_scores, y_test, validated, params["fairness"], params["bootstrap"])
        audit = audit[audit.attribute == params["fairness"].attribute][list(FAIRNESS_COLUMNS)]
        candidates[family] = describe_candidate(model, threshold, selected, scores, metrics, x_train)
        out["families"][family] = {
            "variant": selected,
            "threshold": threshold["threshold"],
            "cv": candidates[family]["cv"],
            "test": {k: metrics[k] for k in METRICS},
            "fairness": audit.to_dict(orient="records"),
            "seconds": time.perf_counter() - started,
        }
        print(
            f"seed {seed} {family}: {selected}, test F1 {metrics['f1']:.3f}, ROC AUC {metrics['roc_auc']:.3f} "
            f"({out['families'][family]['seconds']:.0f} s)",
            flush=True,
        )
    summary = select_recommender(protocol, **candidates)[1]
    out["recommender"] = {
        "family": summary["family"],
        "variant": summary["variant"],
        **{k: summary["test_metrics"][k] for k in METRICS},
    }
    return out


def aggregate(runs: list[dict], families: list[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each family's and the recommender's test metrics."""
    rows = []
    for name in [*families, "recommender"]:
        values = pd.DataFrame(
            [r["recommender"] if name == "recommender" else r["families"][name]["test"] for r in runs]
        )
        row: dict[str, Any] = {"model": name}
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_std"] = (
                float(values[metric].mean()),
                float(values[metric].std(ddof=1)),
            )
        if name == "recommender":
            row["chosen"] = ", ".join(f"{r['recommender']['family']}/{r['recommender']['variant']}" for r in runs)
        else:
            row["chosen"] = ", ".join(r["families"][name]["variant"] for r in runs)
            di = [g["disparate_impact"] for r in runs for g in r["families"][name]["fairness"] if g["group"] != "m"]
            row["disparate_impact_f_min"], row["disparate_impact_f_max"] = (min(di), max(di)) if di else (None, None)
        rows.append(row)
    return pd.DataFrame(rows)


def render_markdown(results: dict[str, Any], table: pd.DataFrame) -> str:
    """A Markdown summary: mean ± std per model and the per-seed numbers."""
    lines = [
        f"# Tabular families over {len(results['seeds'])} stratified splits ({results['env']})",
        "",
        f"- Machine: {results['machine']}",
        f"- Command: `{results['command']}`",
        f"- Wall time: {results['wall_seconds']:.0f} s; seeds {results['seeds']}; held-out part "
        f"{results['test_size']:.0%} of the rows",
        "",
        "| model | F1 | ROC AUC | average precision | precision | recall | F1 at the test-optimal threshold* "
        "| chosen per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        cells = [f"{r[f'{m}_mean']:.3f} ± {r[f'{m}_std']:.3f}" for m in METRICS]
        lines.append(f"| {r['model']} | {' | '.join(cells)} | {r['chosen']} |")
    lines += [
        "",
        "\\* the threshold that maximises F1 on the test part's own labels: not a result, the ceiling for "
        "the honest (out-of-fold) threshold.",
        "",
        "Per seed (test part):",
        "",
        "| seed | model | variant | threshold | F1 | ROC AUC | DI (f/m) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        for family, f in run["families"].items():
            di = next((g["disparate_impact"] for g in f["fairness"] if g["group"] == "f"), float("nan"))
            lines.append(
                f"| {run['seed']} | {family} | {f['variant']} | {f['threshold']:.3f} | {f['test']['f1']:.3f} | "
                f"{f['test']['roc_auc']:.3f} | {di:.2f} |"
            )
        lines.append(
            f"| {run['seed']} | **recommender** | {run['recommender']['family']}/{run['recommender']['variant']} "
            f"| | {run['recommender']['f1']:.3f} | {run['recommender']['roc_auc']:.3f} | |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="base", help="Kedro environment holding the table (e.g. real)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--families", nargs="+", default=["hist_gradient_boosting", "logistic_regression"])
    args = parser.parse_args()
    bootstrap_project(ROOT)
    started = time.perf_counter()
    with KedroSession.create(project_path=ROOT, env=args.env) as session:
        context = session.load_context()
        params = typed(context.params, args.families)
        raw = context.catalog.load("employees_raw")
    validated, features = full_features(raw, params)
    runs = [run_seed(validated, features, params, args.families, seed) for seed in args.seeds]
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": f"python benchmarks/tabular_seeds.py --env {args.env} --seeds {' '.join(map(str, args.seeds))} "
        f"--families {' '.join(args.families)}",
        "env": args.env,
        "seeds": args.seeds,
        "test_size": params["split"].test_size,
        "runs": runs,
        "wall_seconds": time.perf_counter() - started,
    }
    table = aggregate(runs, args.families)
    results["summary"] = table.to_dict(orient="records")
    out = ROOT / "benchmarks" / "results" / f"tabular_seeds_{args.env}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=float))
    out.with_suffix(".md").write_text(render_markdown(results, table))
    print(render_markdown(results, table))
    print(f"Wrote {out}.json and .md")


if __name__ == "__main__":
    main()
