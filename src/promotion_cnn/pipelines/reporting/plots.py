"""Figure nodes of the reporting pipeline: each returns a headless ``matplotlib.figure.Figure``.

Figures are built on ``Figure`` objects directly (no pyplot state, no display), so
they render with the Agg backend anywhere. A node whose input is missing returns a
small figure that says so, since a dataset cannot save ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .params import Eda

PALETTE = {0: "#4c72b0", 1: "#dd8452"}  # not promoted / promoted; elsewhere: the rest / the one highlighted
PLACEHOLDER = "placeholder"  # the label of a figure drawn for a missing input
LINE_STYLES = ("-", "--", ":")  # after matplotlib's ten colours, the next ten lines dashed, then dotted


def missing_figure(what: str) -> Figure:
    """A placeholder figure naming the input that was missing."""
    fig = Figure(figsize=(6, 1.5))
    fig.text(0.5, 0.5, f"Not available: {what} is missing", ha="center", va="center", fontsize=11)
    fig.set_label(PLACEHOLDER)
    return fig


def is_placeholder(fig: Any) -> bool:
    """Whether a figure (drawn, or as written: ``RenderedFigure``) is ``missing_figure``'s placeholder rather than a
    plot of data."""
    return fig.get_label() == PLACEHOLDER


def matrix_frame(matrix: pd.DataFrame) -> pd.DataFrame:
    """A confusion-matrix table indexed by its row labels (the first column when it holds text)."""
    first = matrix.columns[0]
    if not pd.api.types.is_numeric_dtype(matrix[first]) or first in ("actual", "label", "true", "class"):
        matrix = matrix.set_index(first)
    return matrix.astype(float)


def plot_target_distribution(employees: pd.DataFrame | None, eda: Eda) -> Figure:
    """Histogram of the target: how rare promotions are (study Fig. 1)."""
    if employees is None:
        return missing_figure("employees_validated")
    target = eda.target
    counts = employees[target].value_counts().reindex([0, 1], fill_value=0)
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    bars = ax.bar(["not promoted (0)", "promoted (1)"], counts.to_numpy(), color=[PALETTE[0], PALETTE[1]])
    for bar, count in zip(bars, counts, strict=True):
        ax.annotate(
            f"{count:,} ({count / counts.sum():.1%})",
            (bar.get_x() + bar.get_width() / 2, count),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set(title=f"Distribution of {target}", ylabel="employees")
    return fig


def plot_target_correlation(employees: pd.DataFrame | None, eda: Eda) -> Figure:
    """Heatmap of the correlations between the numeric attributes and the target (study Fig. 2)."""
    if employees is None:
        return missing_figure("employees_validated")
    columns = [*eda.numeric_columns, eda.target]
    corr = employees[columns].corr()
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    image = ax.imshow(corr.to_numpy(), cmap="coolwarm", vmin=-1, vmax=1)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(columns)), columns)
    for i in range(len(columns)):
        for j in range(len(columns)):
            ax.text(j, i, f"{corr.iat[i, j]:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("Correlation of the numeric attributes with each other and the target")
    fig.tight_layout()
    return fig


def plot_numeric_pairs(employees: pd.DataFrame | None, eda: Eda) -> Figure:
    """Pair plot of the numeric attributes coloured by the target, on a seeded sample (Appendix A)."""
    if employees is None:
        return missing_figure("employees_validated")
    columns, target = eda.pair_plot.columns, eda.target
    sample_size = min(eda.pair_plot.sample_size, len(employees))
    sample = employees.sample(n=sample_size, random_state=eda.pair_plot.random_state)
    k = len(columns)
    fig = Figure(figsize=(2 * k, 2 * k))
    axes = fig.subplots(k, k, squeeze=False)
    for i, y_col in enumerate(columns):
        for j, x_col in enumerate(columns):
            ax = axes[i, j]
            for label, colour in PALETTE.items():
                part = sample[sample[target] == label]
                if i == j:
                    ax.hist(part[x_col].dropna(), bins=15, color=colour, alpha=0.6, density=True)
                else:
                    ax.scatter(part[x_col], part[y_col], s=4, color=colour, alpha=0.4, linewidths=0)
            ax.tick_params(labelsize=6)
            if i == k - 1:
                ax.set_xlabel(x_col, fontsize=8)
            if j == 0:
                ax.set_ylabel(y_col, fontsize=8)
    fig.suptitle(f"Numeric attributes by {target} (blue 0, orange 1; sample of {sample_size:,} rows)")
    fig.tight_layout()
    return fig


def plot_categorical_counts(employees: pd.DataFrame | None, eda: Eda) -> Figure:
    """One bar chart of level counts per categorical attribute (Appendix B)."""
    if employees is None:
        return missing_figure("employees_validated")
    counts = {c: employees[c].fillna("(missing)").value_counts().sort_values() for c in eda.categorical_columns}
    heights = [max(len(c), 2) for c in counts.values()]
    fig = Figure(figsize=(8, 0.22 * sum(heights) + 1.2 * len(heights)))
    axes = fig.subplots(len(counts), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (column, values) in zip(axes, counts.items(), strict=True):
        ax.barh(values.index.astype(str), values.to_numpy(), color=PALETTE[0])
        ax.set_title(column, fontsize=10)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("employees")
    fig.tight_layout()
    return fig


def plot_threshold_curve(threshold_curve: pd.DataFrame | None, threshold: dict[str, Any] | None) -> Figure:
    """Precision-recall curve of the training predictions with the chosen threshold marked (Appendix C)."""
    if threshold_curve is None or threshold is None:
        return missing_figure("threshold_curve or threshold")
    chosen = threshold["threshold"]
    at = threshold_curve.iloc[(threshold_curve["threshold"] - chosen).abs().argmin()]
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    left.plot(threshold_curve["recall"], threshold_curve["precision"], color=PALETTE[0])
    left.scatter(
        [at["recall"]],
        [at["precision"]],
        color="red",
        zorder=3,
        label=f"threshold {chosen:.3g}: P {at['precision']:.2f}, R {at['recall']:.2f}",
    )
    left.set(xlabel="recall", ylabel="precision", title="Precision-recall (training predictions)")
    left.legend(fontsize=8)
    for column in ("precision", "recall", "f1"):
        right.plot(threshold_curve["threshold"], threshold_curve[column], label=column)
    right.axvline(chosen, color="red", linestyle="--", label=f"chosen ({threshold.get('method', '?')})")
    right.set(xlabel=f"threshold on the {threshold.get('score', 'score')}", title="Metrics by threshold")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: pd.DataFrame | None) -> Figure:
    """Confusion matrix as a heatmap with counts, coloured by the share of each actual class."""
    if matrix is None:
        return missing_figure("confusion matrix")
    table = matrix_frame(matrix)
    shares = table.div(table.sum(axis=1).replace(0, np.nan), axis=0).fillna(0)
    n = len(table)
    fig = Figure(figsize=(max(4, 0.6 * n + 2), max(3.5, 0.5 * n + 2)))
    ax = fig.add_subplot()
    image = ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=45 if n > 2 else 0, ha="right")
    ax.set_yticks(range(n), [str(i) for i in table.index])
    for i in range(n):
        for j in range(table.shape[1]):
            ax.text(
                j,
                i,
                f"{int(table.iat[i, j])}",
                ha="center",
                va="center",
                fontsize=8 if n > 2 else 11,
                color="white" if shares.iat[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the actual class")
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix")
    fig.tight_layout()
    return fig


def plot_roc_curve(roc_curve: pd.DataFrame | None, test_metrics: dict[str, Any] | None) -> Figure:
    """ROC curve on the test set with its AUC (Appendix D and E)."""
    if roc_curve is None:
        return missing_figure("roc_curve")
    auc = test_metrics["roc_auc"] if test_metrics else float(np.trapezoid(roc_curve["tpr"], roc_curve["fpr"]))
    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    ax.plot(roc_curve["fpr"], roc_curve["tpr"], color=PALETTE[1], label=f"ROC (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (test set)")
    ax.legend(loc="lower right")
    return fig


def plot_training_history(history: pd.DataFrame | None) -> Figure:
    """Training and validation accuracy (and loss) per epoch (study Fig. 9, 10, 11, 13)."""
    if history is None:
        return missing_figure("history")
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    for ax, metric in ((left, "accuracy"), (right, "loss")):
        ax.plot(history["epoch"], history[metric], marker="o", markersize=3, label=f"training {metric}")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", markersize=3, label=f"validation {metric}")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.legend(fontsize=8)
    best = history["val_accuracy"].idxmax()
    left.set_title(f"Accuracy (best validation {history['val_accuracy'][best]:.3f} at epoch {history['epoch'][best]})")
    right.set_title("Loss")
    fig.tight_layout()
    return fig


def plot_reliability(calibration: dict[str, Any] | None) -> Figure:
    """Reliability diagram of the test scores: observed promotion rate against mean predicted probability per bin."""
    if not calibration or not calibration["reliability"]:
        return missing_figure("calibration" if not calibration else "a calibration of probabilities")
    bins = pd.DataFrame(calibration["reliability"])
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    ax.plot(bins.mean_predicted, bins.observed_rate, marker="o", color=PALETTE[1], label="this model")
    for _, row in bins.iterrows():
        ax.annotate(
            f"{row.n:,}",
            (row.mean_predicted, row.observed_rate),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability",
        ylabel="observed promotion rate",
        title=f"Brier {calibration['brier_score']:.4f}, ECE {calibration['expected_calibration_error']:.4f}",
    )
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_variant_scores(variant_table: pd.DataFrame, metric: str) -> Figure:
    """Horizontal bars of each variant's selection metric, the selected variant highlighted (study Fig. 3 and 5)."""
    if variant_table.empty:
        return missing_figure("variant_scores")
    table = variant_table.dropna(subset=[metric]) if metric in variant_table.columns else variant_table.iloc[:0]
    if table.empty:
        return missing_figure(f"the variant table's {metric}")
    selected = table["selected"].astype(str).str.lower() == "true"  # read back from CSV, the flag may be text
    fig = Figure(figsize=(7, 0.45 * len(table) + 1.4))
    ax = fig.add_subplot()
    bars = ax.barh(table["variant"].astype(str), table[metric], color=np.where(selected, PALETTE[1], PALETTE[0]))
    ax.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
    ax.invert_yaxis()  # the table's order, top to bottom
    top = float(table[metric].max())
    ax.set_xlim(0, top * 1.15 if top > 0 else 1)  # room for the labels; an all-zero metric still gets an axis
    chosen = ", ".join(table.loc[selected, "variant"].astype(str)) or "none"
    ax.set(xlabel=metric, title=f"{metric} per variant (selected: {chosen})")
    fig.tight_layout()
    return fig


def plot_accuracy_curves(**histories: pd.DataFrame | None) -> Figure:
    """Validation accuracy per epoch of every CNN with a history, one line each (models without one skipped)."""
    present = {model: history for model, history in histories.items() if history is not None}
    if not present:
        return missing_figure("every CNN's training history")
    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    for i, (model, history) in enumerate(present.items()):
        ax.plot(
            history["epoch"],
            history["val_accuracy"],
            color=f"C{i % 10}",
            linestyle=LINE_STYLES[i // 10 % len(LINE_STYLES)],
            marker="o",
            markersize=3,
            label=f"{model} (best {history['val_accuracy'].max():.3f})",
        )
    ax.set(xlabel="epoch", ylabel="validation accuracy", title=f"Validation accuracy per epoch ({len(present)} CNNs)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig
