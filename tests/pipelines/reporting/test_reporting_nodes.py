"""Reporting nodes one by one: tables, comparison, figures, HTML helpers."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from promotion_cnn.params import Fairness
from promotion_cnn.pipelines.reporting.html import (
    comparison_view,
    image_uri,
    markdown_html,
    render_image_overview,
    render_image_section,
    render_tabular_section,
    table_view,
    templates,
)
from promotion_cnn.pipelines.reporting.nodes import (
    compare_tabular_models,
    markdown_table,
    summarise_comparison,
    tabulate_class_accuracy,
    tabulate_image_runs,
    tabulate_lenet_variants,
    tabulate_promotion_rates,
    tabulate_variants,
)
from promotion_cnn.pipelines.reporting.params import Comparison, PairPlot
from promotion_cnn.pipelines.reporting.plots import (
    PALETTE,
    is_placeholder,
    missing_figure,
    plot_accuracy_curves,
    plot_confusion_matrix,
    plot_numeric_pairs,
    plot_target_distribution,
    plot_threshold_curve,
    plot_training_history,
    plot_variant_scores,
)


def figure_text(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_promotion_rates_match_a_direct_count(employees, reporting):
    table = tabulate_promotion_rates(employees, reporting["eda"])
    assert set(table["attribute"]) == set(reporting["eda"].categorical_columns)
    row = table[(table.attribute == "department") & (table.level == "Technology")].iloc[0]
    tech = employees[employees.department == "Technology"]
    assert row.employees == len(tech) and row.promoted == tech.is_promoted.sum()
    assert row.promotion_rate == pytest.approx(tech.is_promoted.mean())
    assert row.lift == pytest.approx(tech.is_promoted.mean() / employees.is_promoted.mean())
    education = table[table.attribute == "education"]
    assert "(missing)" in set(education.level)  # empty education is a level of its own
    assert education.employees.sum() == len(employees)


def test_missing_employee_table_gives_an_empty_table_and_a_placeholder_figure(reporting):
    assert tabulate_promotion_rates(None, reporting["eda"]).empty
    assert "Not available: employees_validated is missing" in figure_text(
        plot_target_distribution(None, reporting["eda"])
    )


def test_target_histogram_counts_each_class(employees, reporting):
    fig = plot_target_distribution(employees, reporting["eda"])
    heights = [patch.get_height() for patch in fig.axes[0].patches]
    assert heights == [(employees.is_promoted == 0).sum(), (employees.is_promoted == 1).sum()]


def test_pair_plot_is_a_grid_of_the_configured_columns(employees, reporting):
    pair_plot = PairPlot(columns=["age", "avg_training_score"], sample_size=50, random_state=0)
    eda = reporting["eda"].model_copy(update={"pair_plot": pair_plot})
    fig = plot_numeric_pairs(employees, eda)
    assert len(fig.axes) == 4
    assert "sample of 50 rows" in fig._suptitle.get_text()


def test_threshold_figure_marks_the_chosen_threshold(fake_tabular):
    data = fake_tabular("rf", 0)
    fig = plot_threshold_curve(data["rf.threshold_curve"], data["rf.threshold"])
    marked = fig.axes[0].collections[0].get_offsets()[0]
    curve = data["rf.threshold_curve"].set_index("threshold").loc[0.4]
    assert tuple(marked) == pytest.approx((curve.recall, curve.precision))
    assert fig.axes[1].lines[-1].get_xdata()[0] == 0.4


def test_confusion_matrix_reads_both_table_shapes(fake_tabular, fake_image):
    binary = plot_confusion_matrix(fake_tabular("rf", 0)["rf.confusion_matrix"])
    assert [t.get_text() for t in binary.axes[0].texts] == ["80", "10", "5", "5"]
    ten = plot_confusion_matrix(fake_image("m", 0.5)["val_confusion_matrix_m"])
    assert [t.get_text() for t in ten.axes[0].get_yticklabels()] == ["cat", "dog", "ship"]


def test_history_figure_plots_both_accuracies(fake_image):
    fig = plot_training_history(fake_image("m", 0.5)["history_m"])
    assert [line.get_label() for line in fig.axes[0].lines] == ["training accuracy", "validation accuracy"]
    assert "best validation 0.550 at epoch 2" in fig.axes[0].get_title()


def test_variant_table_flags_the_selected_variant(fake_tabular):
    data = fake_tabular("rf", 0)
    table = tabulate_variants(data["rf.variant_scores"], "deep")
    assert table.set_index("variant")["selected"].to_dict() == {"default": False, "deep": True}


@pytest.mark.parametrize("read_back", [False, True], ids=["in memory", "read back from its CSV"])
def test_variant_bars_show_each_variants_metric_with_the_selected_one_highlighted(fake_tabular, tmp_path, read_back):
    data = fake_tabular("rf", 0)
    table = tabulate_variants(data["rf.variant_scores"], "deep")
    if read_back:  # as the catalog hands it over in a run: the selected flag parsed back from text
        table.to_csv(tmp_path / "variant_table.csv", index=False)
        table = pd.read_csv(tmp_path / "variant_table.csv")
    fig = plot_variant_scores(table, "cv_f1_tuned")
    ax = fig.axes[0]
    assert [bar.get_width() for bar in ax.patches] == [0.3, 0.35]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["default", "deep"]
    colours = [to_hex(bar.get_facecolor()) for bar in ax.patches]
    assert colours == [PALETTE[0], PALETTE[1]]
    assert ax.get_xlabel() == "cv_f1_tuned" and "selected: deep" in ax.get_title()
    assert [text.get_text() for text in ax.texts] == ["0.300", "0.350"]  # the values at the bars' ends
    other = plot_variant_scores(table, "train_accuracy")  # the configured metric, whichever it is
    assert [bar.get_width() for bar in other.axes[0].patches] == [0.9, 0.95]
    zeros = plot_variant_scores(table.assign(cv_f1=0.0), "cv_f1")  # e.g. an SVM at its default boundary
    assert zeros.axes[0].get_xlim() == (0, 1)


def test_variant_bars_without_the_table_or_its_metric_are_placeholders(fake_tabular):
    empty = plot_variant_scores(tabulate_variants(None, None), "cv_f1_tuned")
    assert is_placeholder(empty) and "variant_scores is missing" in figure_text(empty)
    table = tabulate_variants(fake_tabular("rf", 0)["rf.variant_scores"], "deep")
    unscored = plot_variant_scores(table, "cv_roc_auc")  # a table cross-validated under another setting
    assert is_placeholder(unscored) and "the variant table's cv_roc_auc is missing" in figure_text(unscored)
    assert not is_placeholder(plot_variant_scores(table, "cv_f1_tuned"))


def test_accuracy_curves_draw_one_line_per_cnn_with_a_history(fake_image):
    histories = {m: fake_image(m, acc)[f"history_{m}"] for m, acc in (("lenet", 0.4), ("alexnet", 0.6))}
    fig = plot_accuracy_curves(lenet=histories["lenet"], resnet=None, alexnet=histories["alexnet"])
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["lenet (best 0.450)", "alexnet (best 0.650)"]
    assert [line.get_label() for line in ax.get_legend().get_lines()] == ["lenet (best 0.450)", "alexnet (best 0.650)"]
    assert ax.lines[1].get_ydata().tolist() == histories["alexnet"]["val_accuracy"].tolist()
    assert ax.lines[0].get_xdata().tolist() == [1, 2, 3]
    assert len({line.get_color() for line in ax.lines}) == 2 and "2 CNNs" in ax.get_title()
    many = plot_accuracy_curves(**{f"m{i}": histories["lenet"] for i in range(12)})
    styles = [(line.get_color(), line.get_linestyle()) for line in many.axes[0].lines]
    assert len(set(styles)) == 12  # past matplotlib's ten colours, lines stay apart by their style


def test_accuracy_curves_without_any_history_are_the_placeholder():
    fig = plot_accuracy_curves(lenet=None, alexnet=None)
    assert is_placeholder(fig) and "Not available: every CNN's training history is missing" in figure_text(fig)
    assert is_placeholder(plot_accuracy_curves())


def test_sections_show_the_new_figures_only_when_they_plot_data(fake_tabular, fake_image):
    data = fake_tabular("rf", 0)
    table = tabulate_variants(data["rf.variant_scores"], "deep")
    caption = "the selection metric per variant, the selected one highlighted"
    figures = [Figure()] * 4  # threshold, confusion, ROC, calibration: not shown without their inputs
    shown = render_tabular_section(table, plot_variant_scores(table, "cv_f1_tuned"), None, None, None, None, *figures)
    assert f"<figcaption>{caption}</figcaption>" in shown["html"]
    hidden = render_tabular_section(table, missing_figure("x"), None, None, None, None, *figures)
    assert caption not in hidden["html"] and "<h4>Variants" in hidden["html"]
    history = fake_image("lenet", 0.4)["history_lenet"]
    lenet = pd.DataFrame({"val_accuracy": [np.nan]})
    labels = {"lenet_variants": "Fig. 12", "samples_train": "Fig. 7", "samples_val": "Fig. 8"}
    overview = [None, None, None, lenet, Figure(), pd.DataFrame()]
    curves = render_image_overview(*overview, plot_accuracy_curves(lenet=history), labels)
    assert "<figcaption>validation accuracy per epoch of every CNN</figcaption>" in curves["html"]
    none = render_image_overview(*overview, plot_accuracy_curves(lenet=None), labels)
    assert "of every CNN" not in none["html"]


def test_comparison_keeps_study_only_and_run_only_models():
    published = {"a": {"recall": 0.5}, "study_only": {"recall": 0.1}}
    runs = {"a": {"recall": 0.7, "f1": 0.4}, "run_only": {"recall": 0.2, "f1": 0.3}, "absent": None}
    comparison = Comparison(
        tabular_metrics=["recall", "f1"], tabular_rank_by=["f1"], image_metrics=["x"], image_rank_by="x"
    )
    table = compare_tabular_models(published, comparison, **runs).set_index(["model", "metric"])
    assert table.loc[("a", "recall"), "difference"] == pytest.approx(0.2)
    assert np.isnan(table.loc[("a", "f1"), "study"])
    assert table.loc[("study_only", "recall"), "study"] == 0.1 and np.isnan(
        table.loc[("study_only", "recall"), "this_run"]
    )
    assert ("run_only", "f1") in table.index and "absent" not in table.index.get_level_values(0)


def test_summary_ranks_by_f1_then_recall_and_names_the_highest_recall(reporting):
    runs = {
        "a": {"f1": 0.40, "recall": 0.30, "precision": 0.6},
        "b": {"f1": 0.40, "recall": 0.50, "precision": 0.3},
        "c": {"f1": 0.20, "recall": 0.90, "precision": 0.1},
    }
    comparison = reporting["comparison"].model_copy(update={"tabular_metrics": ["precision", "recall", "f1"]})
    tabular = compare_tabular_models({}, comparison, **runs)
    empty = pd.DataFrame(columns=["model", "metric", "this_run", "study", "difference"])
    summary = summarise_comparison(tabular, empty, comparison)
    assert "best model is **b**" in summary  # tie on F1 broken by recall
    assert "Highest recall: c (0.900)" in summary
    assert "no CNN results" in summary


def test_image_tables_and_best_cnn_class_accuracy(fake_image):
    outputs = {m: fake_image(m, acc) for m, acc in (("lenet", 0.4), ("alexnet", 0.6), ("lenet_dropout", 0.3))}
    runs = tabulate_image_runs(**{m: o[f"val_metrics_{m}"] for m, o in outputs.items()}, missing_model=None)
    assert runs["model"].tolist() == ["lenet", "alexnet", "lenet_dropout"]
    variants = tabulate_lenet_variants(
        runs,
        {"lenet_batch_8": {"train_accuracy": 0.859, "val_accuracy": 0.437}},
        **{m: None for m in ("lenet", "lenet_batch_8", "lenet_dropout")},  # the rows, in order
    )
    assert variants["val_accuracy"].tolist()[0] == 0.4 and np.isnan(variants["val_accuracy"].tolist()[1])
    assert variants["study_val_accuracy"].tolist()[1] == 0.437
    accuracy = tabulate_class_accuracy(runs, **{m: o[f"val_confusion_matrix_{m}"] for m, o in outputs.items()})
    assert accuracy["model"].unique().tolist() == ["alexnet"]
    assert accuracy.set_index("label")["accuracy"].to_dict() == pytest.approx({"cat": 0.8, "dog": 0.6, "ship": 0.9})


def test_markdown_helpers():
    table = pd.DataFrame({"model": ["a|b"], "f1": [0.12345], "n": [3]})
    assert markdown_table(table).splitlines() == ["| model | f1 | n |", "| --- | --- | --- |", "| a\\|b | 0.123 | 3 |"]
    # markdown-it-py (CommonMark): headings move down two levels, a paragraph after a list needs a blank line
    expected = "<h3>T</h3>\n<ul>\n<li>one <strong>x</strong></li>\n<li>two</li>\n</ul>\n<p>text</p>\n"
    assert markdown_html("# T\n- one **x**\n- two\n\ntext") == expected
    assert markdown_html("<b>x</b> a_b_c") == "<p>&lt;b&gt;x&lt;/b&gt; a_b_c</p>\n"  # raw HTML escaped
    assert "<td>0.123</td>" in markdown_html(markdown_table(table))  # GFM tables


def test_table_cells_read_as_in_the_markdown_tables():
    row = [0.12345, 8.0, np.nan, None, 3, True, ["digit_0", "digit_1"], {"a": 0.5}, "x<y"]
    view = table_view(pd.DataFrame([row], columns=list("abcdefghi")))
    assert [cell["text"] for cell in view["rows"][0]] == [
        "0.123",
        "8",
        "–",
        "–",
        "3",
        "True",
        "[digit_0, digit_1]",
        "{a: 0.500}",
        "x<y",  # escaped by the template, not here
    ]


def test_figures_embed_as_png_data_uris():
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    uri = image_uri(fig)
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")


def test_image_section_lists_its_missing_inputs():
    section = render_image_section(None, None, "summary", Figure())
    assert section == {"task": "image", "html": section["html"], "missing": ["history", "val_metrics"]}
    assert "<pre>summary</pre>" in section["html"]


def test_recommender_section_shows_the_audit_flags_and_importance() -> None:
    from promotion_cnn.pipelines.reporting.html import render_recommender_section

    audit = pd.DataFrame(
        {
            "family": ["svm", "svm"],
            "attribute": ["gender", "gender"],
            "group": ["f", "m"],
            "selection_rate": [0.1, 0.08],
            "disparate_impact": [1.2505, 1.0],
            "flagged": [True, False],
        }
    )
    importance = pd.DataFrame({"feature": ["avg_training_score"], "importance_mean": [0.2], "importance_std": [0.01]})
    fairness = Fairness(attribute="gender", reference_group="m", disparate_impact_bounds=(0.8, 1.25))
    summary = pd.DataFrame({"family": ["svm"], "attribute": ["gender"], "demographic_parity_ratio": [0.8]})
    section = render_recommender_section(
        {"family": "svm", "version": "2026-01-01T00.00.00.000Z"},
        pd.DataFrame({"family": ["svm"]}),
        audit,
        summary,
        importance,
        fairness,
    )
    assert section["task"] == "tabular" and section["missing"] == []
    assert "Flagged: svm gender f: disparate impact 1.2505" in section["html"]
    assert "demographic_parity_ratio" in section["html"] and "not proof of fairness" in section["html"]
    assert "version 2026-01-01T00.00.00.000Z" in section["html"]
    assert "avg_training_score" in section["html"]
    empty = render_recommender_section(None, None, None, None, None, fairness)
    assert (
        empty["missing"]
        == [
            "best_tabular_model",
            "tabular_model_comparison",
            "fairness_audit",
            "fairness_summary",
            "permutation_importance",
        ]
        and empty["html"] == ""
    )


def test_comparison_tables_are_wide_with_the_best_per_column_highlighted(reporting):
    runs = {"a": {"threshold": 0.2, "f1": 0.4, "recall": 0.9}, "b": {"threshold": 0.7, "f1": 0.5, "recall": 0.3}}
    published = {"a": {"threshold": 0.5, "f1": 0.3}, "study_only": {"f1": 0.35}}
    comparison = Comparison(
        tabular_metrics=["threshold", "f1", "recall"],
        tabular_rank_by=["f1"],
        image_metrics=["x"],
        image_rank_by="x",
        no_difference=["threshold"],
    )
    view = comparison_view(compare_tabular_models(published, comparison, **runs), reporting["report"])
    top, sub = ([cell["text"] for cell in row] for row in view["head"])
    assert top == ["model", "threshold", "f1", "recall"]
    # no difference for the threshold; the study has no recall: no difference there either
    assert sub == ["this run", "study", "this run", "study", "Δ", "this run", "study"]
    assert [cell["colspan"] for cell in view["head"][0]] == [1, 2, 3, 2]
    rows = {row[0]["text"]: [(cell["text"], "best" in cell["class"]) for cell in row[1:]] for row in view["rows"]}
    assert list(rows) == ["a", "b", "study_only"]
    assert rows["a"] == [
        ("0.200", False),  # thresholds are not ranked
        ("0.500", False),
        ("0.400", False),
        ("0.300", False),  # the study's lowest F1
        ("0.100", False),
        ("0.900", True),
        ("–", False),
    ]
    assert rows["b"][2] == ("0.500", True) and rows["study_only"][3] == ("0.350", True)
    html = str(templates().get_template("_macros.html.j2").module.table(view))
    assert '<th colspan="3" class="group">f1</th>' in html and '<td class="this_run best">0.900</td>' in html
