"""Table and comparison nodes of the reporting pipeline (pure functions of catalog data)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .params import Comparison, Eda
from .plots import matrix_frame, missing_figure, plot_confusion_matrix

logger = logging.getLogger(__name__)

PROMOTION_RATE_COLUMNS = ["attribute", "level", "employees", "promoted", "promotion_rate", "lift"]
COMPARISON_COLUMNS = ["model", "metric", "this_run", "study", "difference"]
IMAGE_RUN_COLUMNS = [
    "model",
    "epochs",
    "batch_size",
    "image_size",
    "n_params",
    "train_accuracy",
    "val_accuracy",
    "best_val_accuracy",
    "val_loss",
    "train_seconds",
    "images_per_second",
    "model_version",
]
CLASS_ACCURACY_COLUMNS = ["model", "label", "images", "correct", "accuracy"]


def format_number(value: float, digits: int = 3) -> str:
    """A float for a table: whole numbers (counts, hyperparameters) without decimals, others rounded."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.{digits}f}"


def markdown_table(table: pd.DataFrame) -> str:
    """Render a table as GitHub-flavoured Markdown (no third-party formatter needed)."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else format_number(value)
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def tabulate_promotion_rates(employees: pd.DataFrame | None, eda: Eda) -> pd.DataFrame:
    """Promotion rate at each level of each categorical attribute, with its lift over the overall rate."""
    if employees is None:
        return pd.DataFrame(columns=PROMOTION_RATE_COLUMNS)
    target = eda.target
    overall = employees[target].mean()
    parts = []
    for column in eda.categorical_columns:
        grouped = employees.assign(level=employees[column].fillna("(missing)")).groupby("level")[target]
        part = grouped.agg(employees="size", promoted="sum").reset_index()
        part["promotion_rate"] = part["promoted"] / part["employees"]
        part["lift"] = part["promotion_rate"] / overall
        parts.append(part.assign(attribute=column).sort_values("promotion_rate", ascending=False))
    return pd.concat(parts, ignore_index=True)[PROMOTION_RATE_COLUMNS]


def tabulate_variants(variant_scores: pd.DataFrame | None, selected_variant: str | None) -> pd.DataFrame:
    """The family's variant table with the selected variant flagged (study Fig. 3 and 5)."""
    if variant_scores is None:
        return pd.DataFrame(columns=["variant", "selected"])
    table = variant_scores.copy()
    table.insert(1, "selected", table["variant"] == selected_variant)
    return table


def _long_comparison(
    runs: dict[str, dict[str, Any] | None], published: dict[str, dict], metrics: list[str], no_difference: list[str]
) -> pd.DataFrame:
    """One row per model and metric: this run's value, the study's, and the difference where it means something."""
    rows = []
    for model in dict.fromkeys([*runs, *published]):
        run, study = runs.get(model) or {}, published.get(model, {})
        for metric in metrics:
            if metric not in run and metric not in study:
                continue
            mine, theirs = run.get(metric, np.nan), study.get(metric, np.nan)
            difference = np.nan if metric in no_difference else mine - theirs
            rows.append({"model": model, "metric": metric, "this_run": mine, "study": theirs, "difference": difference})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).astype(
        {"this_run": float, "study": float, "difference": float}
    )


def compare_tabular_models(
    published: dict[str, dict], comparison: Comparison, **test_metrics: dict[str, Any] | None
) -> pd.DataFrame:
    """Each family's test metrics beside the study's published numbers."""
    return _long_comparison(test_metrics, published, comparison.tabular_metrics, comparison.no_difference)


def tabulate_image_runs(**val_metrics: dict[str, Any] | None) -> pd.DataFrame:
    """One row per CNN with its validation metrics, size, and training cost."""
    rows = [
        {"model": model, **{k: v for k, v in metrics.items() if k in IMAGE_RUN_COLUMNS}}
        for model, metrics in val_metrics.items()
        if metrics is not None
    ]
    return pd.DataFrame(rows, columns=IMAGE_RUN_COLUMNS)


def compare_image_models(
    published: dict[str, dict], comparison: Comparison, **val_metrics: dict[str, Any] | None
) -> pd.DataFrame:
    """Each CNN's training and validation accuracy beside the study's published numbers."""
    return _long_comparison(val_metrics, published, comparison.image_metrics, comparison.no_difference)


def tabulate_lenet_variants(
    image_runs: pd.DataFrame, published: dict[str, dict], **lenet_val_metrics: dict[str, Any] | None
) -> pd.DataFrame:
    """The LeNet variants' training and validation accuracy, this run and the study's (study Fig. 12).

    One row per LeNet model (every image model whose architecture is ``lenet``), in the order of its
    ``val_metrics`` inputs; the numbers come from ``image_runs`` (a model never trained: empty cells).
    """
    models = list(lenet_val_metrics)
    table = pd.DataFrame({"model": models}).merge(image_runs, on="model", how="left")
    table["study_train_accuracy"] = [published.get(m, {}).get("train_accuracy", np.nan) for m in models]
    table["study_val_accuracy"] = [published.get(m, {}).get("val_accuracy", np.nan) for m in models]
    columns = [
        "model",
        "batch_size",
        "image_size",
        "epochs",
        "train_accuracy",
        "val_accuracy",
        "study_train_accuracy",
        "study_val_accuracy",
    ]
    return table[columns]


def best_image_model(image_runs: pd.DataFrame) -> str | None:
    """The CNN with the highest validation accuracy, or None when no CNN has results."""
    runs = image_runs.dropna(subset=["val_accuracy"])
    return None if runs.empty else str(runs.loc[runs["val_accuracy"].idxmax(), "model"])


def plot_best_cnn_confusion(image_runs: pd.DataFrame, **confusion_matrices: pd.DataFrame | None) -> Figure:
    """Validation confusion matrix of the CNN with the best validation accuracy."""
    best = best_image_model(image_runs)
    if best is None or confusion_matrices.get(best) is None:
        return missing_figure("a validation confusion matrix of the best CNN")
    fig = plot_confusion_matrix(confusion_matrices[best])
    fig.axes[0].set_title(f"Validation confusion matrix: {best}")
    return fig


def tabulate_class_accuracy(image_runs: pd.DataFrame, **confusion_matrices: pd.DataFrame | None) -> pd.DataFrame:
    """Per-class validation accuracy of the CNN with the best validation accuracy."""
    best = best_image_model(image_runs)
    if best is None or confusion_matrices.get(best) is None:
        return pd.DataFrame(columns=CLASS_ACCURACY_COLUMNS)
    matrix = matrix_frame(confusion_matrices[best])
    images = matrix.sum(axis=1).to_numpy()
    correct = np.diag(matrix.to_numpy())
    accuracy = correct / np.where(images > 0, images, np.nan)
    return pd.DataFrame(
        {
            "model": best,
            "label": [str(i) for i in matrix.index],
            "images": images.astype(int),
            "correct": correct.astype(int),
            "accuracy": accuracy,
        }
    )


def _best(table: pd.DataFrame, order: list[str]) -> pd.Series | None:
    """The row that sorts first by the given metrics (descending), or None for an empty table."""
    table = table.dropna(subset=order[:1])
    return None if table.empty else table.sort_values(order, ascending=False).iloc[0]


def summarise_comparison(
    tabular_comparison: pd.DataFrame, image_comparison: pd.DataFrame, comparison: Comparison
) -> str:
    """A short Markdown comparison: the best model per task by the metrics that matter for the use."""
    lines = ["# Model comparison", ""]
    order = comparison.tabular_rank_by
    run = tabular_comparison.pivot_table(index="model", columns="metric", values="this_run").reset_index()
    study = tabular_comparison.pivot_table(index="model", columns="metric", values="study").reset_index()
    best = _best(run, order) if set(order) <= set(run.columns) else None
    if best is None:
        lines.append("- Task 1 (promotion): no tabular results in this run.")
    else:
        lines.append(
            f"- Task 1 (promotion), ranked by {' then '.join(order)}: best model is **{best['model']}** with "
            f"F1 {best['f1']:.3f}, recall {best['recall']:.3f}, precision {best['precision']:.3f}."
        )
        top_recall = run.sort_values("recall", ascending=False).iloc[0]
        if top_recall["model"] != best["model"]:
            lines.append(
                f"- Highest recall: {top_recall['model']} ({top_recall['recall']:.3f}), at F1 {top_recall['f1']:.3f}."
            )
        study_best = _best(study, order) if set(order) <= set(study.columns) else None
        if study_best is not None:
            verdict = "agrees" if study_best["model"] == best["model"] else "differs"
            lines.append(
                f"- The study's best by the same ranking was {study_best['model']} "
                f"(F1 {study_best['f1']:.3f}, recall {study_best['recall']:.3f}): this run {verdict}."
            )
    metric = comparison.image_rank_by
    image_run = image_comparison.pivot_table(index="model", columns="metric", values="this_run").reset_index()
    best_cnn = _best(image_run, [metric]) if metric in image_run.columns else None
    if best_cnn is None:
        lines.append("- Task 2 (images): no CNN results in this run.")
    else:
        line = f"- Task 2 (images), ranked by {metric}: best CNN is **{best_cnn['model']}** ({best_cnn[metric]:.3f}"
        if "train_accuracy" in image_run.columns and not np.isnan(best_cnn["train_accuracy"]):
            line += f"; training accuracy {best_cnn['train_accuracy']:.3f}, "
            line += f"gap {best_cnn['train_accuracy'] - best_cnn[metric]:.3f}"
        lines.append(line + ").")
        image_study = image_comparison.pivot_table(index="model", columns="metric", values="study").reset_index()
        study_cnn = _best(image_study, [metric]) if metric in image_study.columns else None
        if study_cnn is not None:
            lines.append(f"- The study's best CNN by {metric} was {study_cnn['model']} ({study_cnn[metric]:.3f}).")
    logger.info("Comparison: %s", " ".join(lines[2:]))
    return "\n".join(lines) + "\n"


def render_markdown_report(
    summary: str, tabular_comparison: pd.DataFrame, image_comparison: pd.DataFrame, lenet_variants: pd.DataFrame
) -> str:
    """The comparison and the metric tables (this run beside the study) as one Markdown document."""
    return "\n".join(
        [
            summary,
            "## Task 1: this run beside the study",
            "",
            markdown_table(tabular_comparison),
            "## Task 2: this run beside the study",
            "",
            markdown_table(image_comparison),
            "## LeNet variants (study Fig. 12)",
            "",
            markdown_table(lenet_variants),
        ]
    )
