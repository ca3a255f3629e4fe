"""HTML nodes of the reporting pipeline: sections and the self-contained report.

Figures are embedded as base64 PNG data URIs and styles are inline, so the report
is one file with no external assets. Every section returns its HTML together with
the names of the inputs it lacked, and the report lists those up front.
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from promotion_cnn.params import Fairness

from .nodes import format_number
from .params import Report

CAVEAT = (
    "Passing the four-fifths rule is not proof of fairness: it compares selection rates only, at one threshold, on "
    "one sample (fairlearn's user guide explains why no single metric certifies a model)."
)

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #4c72b0}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#eef}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}
figcaption{font-size:.85em;color:#555}img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.75em}
.missing{background:#fff3cd;border:1px solid #e0c36c;padding:.5em 1em}
""".strip()


def image_uri(image: Any) -> str:
    """A ``data:`` URI of a matplotlib figure or a PIL image, as PNG."""
    buffer = io.BytesIO()
    if isinstance(image, Figure):
        image.savefig(buffer, format="png", dpi=80)  # figures are laid out already
    else:
        image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(image: Any, caption: str) -> str:
    """An embedded figure with its caption."""
    caption = html.escape(caption)
    return f'<figure><img src="{image_uri(image)}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'


def table_html(table: pd.DataFrame) -> str:
    """A DataFrame as a plain HTML table, numbers formatted as in the Markdown tables."""
    return table.to_html(index=False, border=0, na_rep="–", float_format=format_number)


def markdown_html(text: str) -> str:
    """The small Markdown subset the comparison uses: headings, bullets, bold, paragraphs."""
    out, in_list = [], False
    for line in text.splitlines():
        body = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(line.lstrip("#- ").strip()))
        if line.startswith("- "):
            out.append(("" if in_list else "<ul>") + f"<li>{body}</li>")
            in_list = True
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            out.append(f"<h3>{body}</h3>")
        elif line.strip():
            out.append(f"<p>{body}</p>")
    return "\n".join(out + (["</ul>"] if in_list else []))


def _show(value: Any) -> str:
    return format_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _section(task: str, parts: list[str], missing: list[str]) -> dict[str, Any]:
    return {"task": task, "html": "\n".join(parts), "missing": missing}


def render_eda_section(
    employees: pd.DataFrame | None,
    target_figure: Figure,
    correlation_figure: Figure,
    pairs_figure: Figure,
    categorical_figure: Figure,
    promotion_rates: pd.DataFrame,
    labels: dict[str, str],
) -> dict[str, Any]:
    """Exploratory analysis of the employee table (study Fig. 1-2, Appendix A-B, table of insights)."""
    if employees is None:
        return _section("eda", [], ["employees_validated"])
    parts = [
        f"<p>{len(employees):,} employees, {employees.shape[1]} columns.</p>",
        figure_html(target_figure, f"{labels['target_distribution']}: distribution of the target"),
        figure_html(correlation_figure, f"{labels['target_correlation']}: correlations with the target"),
        f"<h3>Promotion rate by level ({labels['promotion_rates']})</h3>",
        table_html(promotion_rates),
        figure_html(pairs_figure, f"{labels['numeric_pairs']}: numeric attributes by the target"),
        figure_html(categorical_figure, f"{labels['categorical_counts']}: categorical attributes"),
    ]
    return _section("eda", parts, [])


def render_tabular_section(
    variant_table: pd.DataFrame,
    threshold: dict[str, Any] | None,
    test_metrics: dict[str, Any] | None,
    intervals: pd.DataFrame | None,
    calibration: dict[str, Any] | None,
    threshold_figure: Figure,
    confusion_figure: Figure,
    roc_figure: Figure,
    calibration_figure: Figure,
) -> dict[str, Any]:
    """One tabular family: variant table, threshold, test metrics with intervals, calibration and their figures."""
    inputs = {"variant_scores": not variant_table.empty, "threshold": threshold, "test_metrics": test_metrics}
    missing = [name for name, value in inputs.items() if not value]
    parts = []
    if not variant_table.empty:
        parts += ["<h4>Variants (cross-validated on the training part)</h4>", table_html(variant_table)]
    if threshold:
        parts.append(
            f"<p>Decision threshold {threshold['threshold']:.4g} ({threshold['method']} on "
            f"{threshold['source']} {threshold['score']} scores).</p>"
        )
        parts.append(figure_html(threshold_figure, "precision-recall with the chosen threshold"))
    if test_metrics:
        shown = {k: v for k, v in test_metrics.items() if k != "variant"}
        parts += [
            f"<h4>Test metrics: variant {html.escape(str(test_metrics['variant']))}</h4>",
            table_html(pd.DataFrame([shown])),
            figure_html(confusion_figure, "confusion matrix on the test set"),
            figure_html(roc_figure, "ROC curve on the test set"),
        ]
    if intervals is not None:
        parts += ["<h4>Test metrics with 95 % bootstrap intervals</h4>", table_html(intervals)]
    if calibration and calibration["brier_score"] is None:
        parts.append("<p>Calibration: not assessed, the scores are not probabilities.</p>")
    elif calibration:
        verdict = "within" if calibration["well_calibrated"] else "above"
        parts += [
            f"<h4>Calibration on the test part</h4><p>Brier score {calibration['brier_score']:.4f}, expected "
            f"calibration error {calibration['expected_calibration_error']:.4f} ({verdict} the limit "
            f"{calibration['ece_limit']}; {calibration['n_bins']} equal-width bins).</p>",
            figure_html(calibration_figure, "reliability diagram: observed promotion rate per score bin"),
        ]
    return _section("tabular", parts, missing)


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
    parts = []
    if best_model is not None:
        shown = ", ".join(f"{k} {_show(v)}" for k, v in best_model.items() if not isinstance(v, dict | list))
        parts.append(f"<p>Selected by cross-validation on the training part: {html.escape(shown)}.</p>")
    if model_comparison is not None:
        parts += ["<h4>Families compared</h4>", table_html(model_comparison)]
    if fairness_audit is not None:
        low, high = fairness.disparate_impact_bounds
        flagged = fairness_audit[fairness_audit["flagged"].astype(str).str.lower() == "true"]
        family = best_model.get("family") if best_model else None
        shown = fairness_audit if family is None else fairness_audit[fairness_audit["family"] == family]
        parts += [
            f"<h4>Fairness of the recommender{f' ({html.escape(family)})' if family else ''} on the test part "
            "(fairlearn)</h4>",
            f"<p>{html.escape(fairness.attribute)} is not a feature; it is kept aside for this audit. Protected: "
            f"{html.escape(fairness.attribute)} and age band; region and department are reported as possible "
            "proxies. Disparate impact is a group's selection rate over the reference group's; a protected group "
            f"outside [{low}, {high}] is flagged (the four-fifths rule). Intervals: 95 % bootstrap over test rows. "
            f"{html.escape(CAVEAT)}</p>",
            table_html(shown),
        ]
        if fairness_summary is not None:
            parts += ["<h4>Between-group differences and ratios, every family</h4>", table_html(fairness_summary)]
        if not flagged.empty:
            found = [
                f"{f} {a} {g}: disparate impact {d:.4f}"
                for f, a, g, d in zip(
                    flagged["family"], flagged["attribute"], flagged["group"], flagged["disparate_impact"]
                )
            ]
            parts.append(f'<p class="missing">Flagged: {html.escape("; ".join(found))}</p>')
    if importance is not None:
        parts += [
            "<h4>Permutation importance of the recommender (original columns, test part)</h4>",
            table_html(importance),
        ]
    return _section("tabular", parts, missing)


def render_image_section(
    history: pd.DataFrame | None,
    val_metrics: dict[str, Any] | None,
    model_summary: str | None,
    history_figure: Figure,
) -> dict[str, Any]:
    """One CNN: accuracy per epoch, validation metrics and the model summary."""
    inputs = {"history": history, "val_metrics": val_metrics, "model_summary": model_summary}
    missing = [name for name, value in inputs.items() if value is None]
    parts = []
    if val_metrics is not None:
        parts.append(table_html(pd.DataFrame([val_metrics])))
    if history is not None:
        parts.append(figure_html(history_figure, "training and validation accuracy and loss per epoch"))
    if model_summary is not None:
        parts.append(f"<details><summary>Model summary</summary><pre>{html.escape(model_summary)}</pre></details>")
    return _section("image", parts, missing)


def render_image_overview(
    class_counts: pd.DataFrame | None,
    sample_grid_train: Any,
    sample_grid_val: Any,
    lenet_variants: pd.DataFrame,
    best_confusion_figure: Figure,
    class_accuracy: pd.DataFrame,
    labels: dict[str, str],
) -> dict[str, Any]:
    """The image data (class counts, sample grids) and the cross-model results (LeNet variants, best CNN)."""
    inputs = {
        "image_class_counts": class_counts,
        "image_samples_train@image": sample_grid_train,
        "image_samples_val@image": sample_grid_val,
    }
    missing = [name for name, value in inputs.items() if value is None]
    parts = []
    if class_counts is not None:
        counts = class_counts.pivot_table(index="label", columns="split", values="count", aggfunc="sum").reset_index()
        parts += ["<h3>Images per class and split</h3>", table_html(counts)]
    for grid, split in ((sample_grid_train, "train"), (sample_grid_val, "val")):
        if grid is not None:
            parts.append(figure_html(grid, f"{labels[f'samples_{split}']}: sample images ({split})"))
    if lenet_variants["val_accuracy"].notna().any():
        parts += [f"<h3>LeNet variants ({labels['lenet_variants']})</h3>", table_html(lenet_variants)]
    if not class_accuracy.empty:
        best = class_accuracy["model"].iloc[0]
        parts += [
            f"<h3>Best CNN: {html.escape(best)}</h3>",
            figure_html(best_confusion_figure, "validation confusion matrix"),
            table_html(class_accuracy.drop(columns="model")),
        ]
    return _section("image", parts, missing)


def _source_item(title: str, source: dict[str, Any] | None) -> str:
    """One line of the report's "Data shown" list: where the input came from, its size and content hash."""
    if not source:
        return f"<li>{html.escape(title)}: unknown (its data_processing run predates source fingerprints)</li>"
    origin = source["synthetic"] or source["source"]
    warning = (
        " <strong class=\"missing\">Generated data, not the study's: numbers beside the study's are not comparable."
        "</strong>"
        if source["synthetic"]
        else ""
    )
    return (
        f"<li>{html.escape(title)}: {html.escape(origin)}; {source['rows']:,} rows, SHA-256 "
        f"<code>{source['sha256'][:16]}</code>.{warning}</li>"
    )


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
        f"<li><code>{html.escape(name)}</code>: {html.escape(', '.join(part['missing']))} "
        f"(run <code>{html.escape(tasks[part['task']].run)}</code> first)</li>"
        for name, part in everything.items()
        if part["missing"]
    ]
    body = [
        f"<h1>{html.escape(report.title)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by the <code>reporting</code> pipeline.</p>",
        "<h2>Data shown</h2><ul>",
        *(
            _source_item(tasks[task].title, source)
            for task, source in (("tabular", employees_source), ("image", images_source))
        ),
        "</ul>",
    ]
    caveat = {
        task: '<p class="missing">Generated data: the study column is not comparable with this run.</p>'
        if source and source.get("synthetic")
        else ""
        for task, source in (("tabular", employees_source), ("image", images_source))
    }
    if missing:
        body += [
            '<div class="missing"><h2>Missing parts</h2><p>These inputs were not found, so their parts '
            "of the report are left out:</p><ul>",
            *missing,
            "</ul></div>",
        ]
    body += [
        "<h2>Comparison</h2>",
        markdown_html(summary),
        f"<h3>{html.escape(tasks['tabular'].title)}: this run beside the study</h3>",
        caveat["tabular"],
        table_html(tabular_comparison),
        f"<h3>{html.escape(tasks['image'].title)}: this run beside the study</h3>",
        caveat["image"],
        table_html(image_comparison),
        f"<h2>{html.escape(tasks['eda'].title)}</h2>",
        eda["html"],
    ]
    for task in ("tabular", "image"):
        body.append(f"<h2>{html.escape(tasks[task].title)}</h2>")
        if task == "image":
            body.append(image_overview["html"])
        for name, section in sections.items():
            if section["task"] == task:
                label = "; ".join(f"{k}: {v}" for k, v in labels.get(name, {}).items())
                body += [
                    f"<h3>{html.escape(name)}</h3>",
                    f"<p><em>Study {html.escape(label)}</em></p>" if label else "",
                    section["html"],
                ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
