"""HTML nodes of the reporting pipeline: sections and the self-contained report.

Markup lives in Jinja2 templates (``templates/*.html.j2``, package data, autoescaped); this module prepares
what they show: figures as base64 PNG data URIs, tables as rows of formatted cells, Markdown (the comparison
summary) through markdown-it-py. Styles are inline and figures embedded, so the report is one file with no external
assets. Every section returns its HTML together with the names of the inputs it lacked, and the report lists those
up front.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup
from matplotlib.figure import Figure

from promotion_cnn.datasets.figure import RenderedFigure
from promotion_cnn.params import Fairness

from .nodes import format_number
from .params import Report
from .plots import is_placeholder

ReportFigure = Figure | RenderedFigure  # drawn (tests, notebooks) or as its file holds it (a run: FigureDataset)

CAVEAT = (
    "Passing the four-fifths rule is not proof of fairness: it compares selection rates only, at one threshold, on "
    "one sample (fairlearn's user guide explains why no single metric certifies a model)."
)
MISSING_VALUE = "–"
# The wide comparison tables: each metric's sub-columns (column of the long table, header)
COMPARISON_PARTS = (("this_run", "this run"), ("study", "study"), ("difference", "Δ"))


@cache
def templates() -> jinja2.Environment:
    """The report's templates, read from the package (``reporting/templates``), every value autoescaped."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("promotion_cnn.pipelines.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name in a template fails the node, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """One template of ``templates/`` rendered with the given context."""
    return templates().get_template(template).render(**context)


@cache
def _markdown() -> MarkdownIt:
    # CommonMark with tables; raw HTML in the text is escaped, not passed through
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(text: str, heading_offset: int = 2) -> str:
    """Markdown as HTML by markdown-it-py, headings moved down ``heading_offset`` levels (``#`` in a section: h3)."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + heading_offset, 6)}"
    return md.renderer.render(tokens, md.options, {})


def image_uri(image: Any) -> str:
    """A ``data:`` URI of a figure as written (``RenderedFigure``: its PNG bytes), a matplotlib figure or a PIL
    image, as PNG."""
    if isinstance(image, RenderedFigure):
        return "data:image/png;base64," + base64.b64encode(image.png).decode("ascii")
    buffer = io.BytesIO()
    if isinstance(image, Figure):
        image.savefig(buffer, format="png", dpi=80)  # figures are laid out already
    else:
        image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def cell_text(value: Any) -> str:
    """A table cell: numbers formatted as in the Markdown tables, missing values as a dash."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return MISSING_VALUE if np.isnan(value) else format_number(float(value))
    if isinstance(value, list | tuple | np.ndarray):  # e.g. a CNN's classes: shown as pandas shows them
        return "[" + ", ".join(cell_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{cell_text(k)}: {cell_text(v)}" for k, v in value.items()) + "}"
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return MISSING_VALUE
    return str(value)


def _cell(text: str, cls: str = "", colspan: int = 1, rowspan: int = 1) -> dict[str, Any]:
    return {"text": text, "class": cls, "colspan": colspan, "rowspan": rowspan}


def table_view(table: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as the ``table`` macro of ``_macros.html.j2`` takes it: one header row, one row per record."""
    return {
        "class": "",
        "head": [[_cell(str(column)) for column in table.columns]],
        "rows": [[_cell(cell_text(value)) for value in row] for row in table.itertuples(index=False)],
    }


def _best(values: pd.Series, lower_is_better: bool) -> float | None:
    """The best value of a column, or None when fewer than two models have one (nothing to compare)."""
    values = values.dropna()
    if len(values) < 2:
        return None
    return values.min() if lower_is_better else values.max()


def comparison_view(comparison: pd.DataFrame, report: Report) -> dict[str, Any]:
    """A long comparison table (model, metric, this_run, study, difference) made wide for reading.

    One row per model and, per metric, this run's value, the study's beside it and their difference (the Δ column
    is left out for a metric without any, like the threshold). The best value of each "this run" and "study"
    column is highlighted, except for the metrics in ``report.not_ranked``.
    """
    if comparison.empty:
        return table_view(comparison)
    models = list(dict.fromkeys(comparison["model"]))
    metrics = list(dict.fromkeys(comparison["metric"]))
    wide = {
        part: comparison.pivot(index="model", columns="metric", values=part).reindex(index=models, columns=metrics)
        for part, _ in COMPARISON_PARTS
    }
    columns = [
        (metric, part, header)
        for metric in metrics
        for part, header in COMPARISON_PARTS
        if part != "difference" or wide[part][metric].notna().any()
    ]
    best = {
        (metric, part): None
        if metric in report.not_ranked or part == "difference"
        else _best(wide[part][metric], metric in report.lower_is_better)
        for metric, part, _ in columns
    }
    top = [_cell("model", rowspan=2)]
    for metric in metrics:
        span = sum(1 for m, _, _ in columns if m == metric)
        top.append(_cell(metric, "group", colspan=span))
    rows = []
    for model in models:
        row = [_cell(str(model))]
        for metric, part, _ in columns:
            value = wide[part].at[model, metric]
            highlight = best[(metric, part)] is not None and value == best[(metric, part)]
            row.append(_cell(cell_text(value), " ".join([part, "best"] if highlight else [part])))
        rows.append(row)
    return {"class": "comparison", "head": [top, [_cell(header) for _, _, header in columns]], "rows": rows}


def _section(task: str, html: str, missing: list[str]) -> dict[str, Any]:
    return {"task": task, "html": html, "missing": missing}


def _show(value: Any) -> str:
    return format_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def render_eda_section(
    employees: pd.DataFrame | None,
    target_figure: ReportFigure,
    correlation_figure: ReportFigure,
    pairs_figure: ReportFigure,
    categorical_figure: ReportFigure,
    promotion_rates: pd.DataFrame,
    labels: dict[str, str],
) -> dict[str, Any]:
    """Exploratory analysis of the employee table (study Fig. 1-2, Appendix A-B, table of insights)."""
    if employees is None:
        return _section("eda", "", ["employees_validated"])
    figures = {
        "target": image_uri(target_figure),
        "correlation": image_uri(correlation_figure),
        "pairs": image_uri(pairs_figure),
        "categorical": image_uri(categorical_figure),
    }
    html = render(
        "eda.html.j2",
        rows=len(employees),
        columns=employees.shape[1],
        figures=figures,
        labels=labels,
        promotion_rates=table_view(promotion_rates),
    )
    return _section("eda", html, [])


def render_tabular_section(
    variant_table: pd.DataFrame,
    variant_figure: ReportFigure,
    threshold: dict[str, Any] | None,
    test_metrics: dict[str, Any] | None,
    intervals: pd.DataFrame | None,
    calibration: dict[str, Any] | None,
    threshold_figure: ReportFigure,
    confusion_figure: ReportFigure,
    roc_figure: ReportFigure,
    calibration_figure: ReportFigure,
) -> dict[str, Any]:
    """One tabular family: variants, threshold, test metrics with intervals, calibration and their figures."""
    inputs = {"variant_scores": not variant_table.empty, "threshold": threshold, "test_metrics": test_metrics}
    missing = [name for name, value in inputs.items() if not value]
    assessed = bool(calibration) and calibration["brier_score"] is not None
    figures = {
        "variants": None if is_placeholder(variant_figure) else image_uri(variant_figure),
        "threshold": image_uri(threshold_figure) if threshold else None,
        "confusion": image_uri(confusion_figure) if test_metrics else None,
        "roc": image_uri(roc_figure) if test_metrics else None,
        "calibration": image_uri(calibration_figure) if assessed else None,
    }
    shown = {k: v for k, v in (test_metrics or {}).items() if k != "variant"}
    html = render(
        "tabular.html.j2",
        variants=None if variant_table.empty else table_view(variant_table),
        threshold=threshold or None,
        test_metrics=table_view(pd.DataFrame([shown])) if test_metrics else None,
        variant=str(test_metrics["variant"]) if test_metrics else None,
        intervals=None if intervals is None else table_view(intervals),
        calibration=calibration or None,
        figures=figures,
    )
    return _section("tabular", html, missing)


def render_recommender_section(
    best_model: dict[str, Any] | None,
    model_comparison: pd.DataFrame | None,
    fairness_audit: pd.DataFrame | None,
    fairness_summary: pd.DataFrame | None,
    importance: pd.DataFrame | None,
    fairness: Fairness,
) -> dict[str, Any]:
    """The recommender beyond the study: the choice among families, the fairness audit and permutation importance."""
    inputs = {
        "best_tabular_model": best_model,
        "tabular_model_comparison": model_comparison,
        "fairness_audit": fairness_audit,
        "fairness_summary": fairness_summary,
        "permutation_importance": importance,
    }
    missing = [name for name, value in inputs.items() if value is None]
    if all(value is None for value in inputs.values()):
        return _section("tabular", "", missing)
    family = best_model.get("family") if best_model else None
    audit = flagged = None
    if fairness_audit is not None:
        audit = table_view(fairness_audit if family is None else fairness_audit[fairness_audit["family"] == family])
        marked = fairness_audit[fairness_audit["flagged"].astype(str).str.lower() == "true"]
        flagged = [
            f"{f} {a} {g}: disparate impact {d:.4f}"
            for f, a, g, d in zip(marked["family"], marked["attribute"], marked["group"], marked["disparate_impact"])
        ]
    html = render(
        "recommender.html.j2",
        best_model=None
        if best_model is None
        else ", ".join(f"{k} {_show(v)}" for k, v in best_model.items() if not isinstance(v, dict | list)),
        model_comparison=None if model_comparison is None else table_view(model_comparison),
        family=family,
        fairness=fairness,
        bounds=fairness.disparate_impact_bounds,
        caveat=CAVEAT,
        audit=audit,
        summary=None if fairness_summary is None else table_view(fairness_summary),
        flagged=flagged,
        importance=None if importance is None else table_view(importance),
    )
    return _section("tabular", html, missing)


def render_image_section(
    history: pd.DataFrame | None,
    val_metrics: dict[str, Any] | None,
    model_summary: str | None,
    history_figure: ReportFigure,
) -> dict[str, Any]:
    """One CNN: accuracy per epoch, validation metrics and the model summary."""
    inputs = {"history": history, "val_metrics": val_metrics, "model_summary": model_summary}
    missing = [name for name, value in inputs.items() if value is None]
    html = render(
        "image.html.j2",
        val_metrics=None if val_metrics is None else table_view(pd.DataFrame([val_metrics])),
        history_figure=None if history is None else image_uri(history_figure),
        model_summary=model_summary,
    )
    return _section("image", html, missing)


def render_image_overview(
    class_counts: pd.DataFrame | None,
    sample_grid_train: Any,
    sample_grid_val: Any,
    lenet_variants: pd.DataFrame,
    best_confusion_figure: ReportFigure,
    class_accuracy: pd.DataFrame,
    accuracy_curves_figure: ReportFigure,
    labels: dict[str, str],
) -> dict[str, Any]:
    """The image data (class counts, sample grids), the CNNs' accuracy curves, the LeNet variants and the best CNN."""
    inputs = {
        "image_class_counts": class_counts,
        "image_samples_train@image": sample_grid_train,
        "image_samples_val@image": sample_grid_val,
    }
    missing = [name for name, value in inputs.items() if value is None]
    counts = None
    if class_counts is not None:
        pivot = class_counts.pivot_table(index="label", columns="split", values="count", aggfunc="sum").reset_index()
        counts = table_view(pivot)
    grids = [
        {"uri": image_uri(grid), "caption": f"{labels[f'samples_{split}']}: sample images ({split})"}
        for grid, split in ((sample_grid_train, "train"), (sample_grid_val, "val"))
        if grid is not None
    ]
    best = None
    if not class_accuracy.empty:
        best = {
            "model": str(class_accuracy["model"].iloc[0]),
            "confusion": image_uri(best_confusion_figure),
            "class_accuracy": table_view(class_accuracy.drop(columns="model")),
        }
    html = render(
        "image_overview.html.j2",
        class_counts=counts,
        grids=grids,
        accuracy_curves=None if is_placeholder(accuracy_curves_figure) else image_uri(accuracy_curves_figure),
        lenet_variants=table_view(lenet_variants) if lenet_variants["val_accuracy"].notna().any() else None,
        labels=labels,
        best=best,
    )
    return _section("image", html, missing)


def _source(title: str, source: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the report's "Data shown" list: where the input came from, its size and content hash."""
    if not source:
        return {"title": title, "known": False}
    return {
        "title": title,
        "known": True,
        "origin": source["synthetic"] or source["source"],
        "synthetic": bool(source["synthetic"]),
        "rows": f"{source['rows']:,}",
        "sha256": source["sha256"][:16],
    }


def render_report(
    report: Report,
    summary: str,
    tabular_comparison: pd.DataFrame,
    image_comparison: pd.DataFrame,
    eda: dict[str, Any],
    image_overview: dict[str, Any],
    employees_source: dict[str, Any] | None,
    images_source: dict[str, Any] | None,
    **sections: dict[str, Any],
) -> str:
    """Assemble the self-contained HTML report: the data it shows, what is missing, the comparison, every section."""
    tasks, labels = report.tasks, report.figure_labels
    everything = {"eda": eda, "image data": image_overview, **sections}
    missing = [
        {"name": name, "inputs": part["missing"], "run": tasks[part["task"]].run}
        for name, part in everything.items()
        if part["missing"]
    ]
    sources = {"tabular": employees_source, "image": images_source}
    comparisons = [
        {
            "title": tasks[task].title,
            "synthetic": bool(sources[task] and sources[task].get("synthetic")),
            "table": comparison_view(table, report),
        }
        for task, table in (("tabular", tabular_comparison), ("image", image_comparison))
    ]
    # the sections' HTML comes from the section templates (values escaped there): passed on as markup
    parts = {"eda": [{"name": None, "html": Markup(eda["html"])}], "tabular": [], "image": []}
    parts["image"].append({"name": None, "html": Markup(image_overview["html"])})
    for name, section in sections.items():
        label = "; ".join(f"{k}: {v}" for k, v in labels.get(name, {}).items())
        parts[section["task"]].append({"name": name, "label": label, "html": Markup(section["html"])})
    return render(
        "report.html.j2",
        title=report.title,
        generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        sources=[_source(tasks[task].title, source) for task, source in sources.items()],
        missing=missing,
        summary=Markup(markdown_html(summary)),
        comparisons=comparisons,
        not_ranked=report.not_ranked,
        tasks=[{"title": tasks[task].title, "parts": parts[task]} for task in ("eda", "tabular", "image")],
    )
