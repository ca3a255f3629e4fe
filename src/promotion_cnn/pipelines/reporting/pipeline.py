"""reporting: every figure and table of the study, and one self-contained HTML report.

Per-model nodes live in the model's own namespace (``random_forest``, ``lenet``, ...),
next to the nodes that trained it, so kedro-viz groups each model's training and
reporting together. A dataset read across namespaces is mapped out of its namespace as ``<name>_<namespace>``
(``test_metrics_random_forest``, ``val_metrics_lenet``, ``report_section_lenet``), by the template that writes it
and by the reporting template of the same namespace alike. Every node is tagged ``reporting``: ``OptionalInputsHook``
(``datasets/optional.py``) uses the tag to turn inputs that no run produced into ``None``.
"""

from collections.abc import Mapping

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.model_lists import TabularFamily, exported, load_model_lists

from .html import (
    render_eda_section,
    render_image_overview,
    render_image_section,
    render_recommender_section,
    render_report,
    render_tabular_section,
)
from .nodes import (
    compare_image_models,
    compare_tabular_models,
    plot_best_cnn_confusion,
    render_markdown_report,
    summarise_comparison,
    tabulate_class_accuracy,
    tabulate_image_runs,
    tabulate_lenet_variants,
    tabulate_promotion_rates,
    tabulate_variants,
)
from .plots import (
    plot_accuracy_curves,
    plot_categorical_counts,
    plot_confusion_matrix,
    plot_numeric_pairs,
    plot_reliability,
    plot_roc_curve,
    plot_target_correlation,
    plot_target_distribution,
    plot_threshold_curve,
    plot_training_history,
    plot_variant_scores,
)

EDA = "params:reporting.eda"
SELECTION_METRIC = "params:tabular_protocol.selection_metric"  # the metric select_variant chose the variant by
LABELS = "params:reporting.report.figure_labels"


def create_eda_pipeline() -> Pipeline:
    """The study's exploratory figures and the promotion-rate table, from the validated table."""
    return Pipeline(
        [
            Node(
                plot_target_distribution,
                ["employees_validated", EDA],
                "promotion_distribution_figure",
                name="plot_target_distribution",
            ),
            Node(
                plot_target_correlation,
                ["employees_validated", EDA],
                "promotion_correlation_figure",
                name="plot_target_correlation",
            ),
            Node(plot_numeric_pairs, ["employees_validated", EDA], "numeric_pairs_figure", name="plot_numeric_pairs"),
            Node(
                plot_categorical_counts,
                ["employees_validated", EDA],
                "categorical_counts_figure",
                name="plot_categorical_counts",
            ),
            Node(
                tabulate_promotion_rates,
                ["employees_validated", EDA],
                "promotion_rates",
                name="tabulate_promotion_rates",
            ),
            Node(
                render_eda_section,
                [
                    "employees_validated",
                    "promotion_distribution_figure",
                    "promotion_correlation_figure",
                    "numeric_pairs_figure",
                    "categorical_counts_figure",
                    "promotion_rates",
                    f"{LABELS}.eda",
                ],
                "eda_section",
                name="render_eda_section",
            ),
        ]
    )


def create_tabular_template() -> Pipeline:
    """Figures, variant table and report section of one tabular model family (run in its namespace)."""
    return Pipeline(
        [
            Node(tabulate_variants, ["variant_scores", "selected_variant"], "variant_table", name="tabulate_variants"),
            Node(
                plot_variant_scores, ["variant_table", SELECTION_METRIC], "variant_figure", name="plot_variant_scores"
            ),
            Node(
                plot_threshold_curve, ["threshold_curve", "threshold"], "threshold_figure", name="plot_threshold_curve"
            ),
            Node(plot_confusion_matrix, "confusion_matrix", "confusion_figure", name="plot_confusion_matrix"),
            Node(plot_roc_curve, ["roc_curve", "test_metrics"], "roc_figure", name="plot_roc_curve"),
            Node(plot_reliability, "calibration", "calibration_figure", name="plot_reliability"),
            Node(
                render_tabular_section,
                {
                    "variant_table": "variant_table",
                    "variant_figure": "variant_figure",
                    "threshold": "threshold",
                    "test_metrics": "test_metrics",
                    "intervals": "test_metric_intervals",
                    "calibration": "calibration",
                    "threshold_figure": "threshold_figure",
                    "confusion_figure": "confusion_figure",
                    "roc_figure": "roc_figure",
                    "calibration_figure": "calibration_figure",
                },
                "report_section",
                name="render_tabular_section",
            ),
        ]
    )


def create_image_template() -> Pipeline:
    """Accuracy-per-epoch figure and report section of one CNN (run in its namespace)."""
    return Pipeline(
        [
            Node(plot_training_history, "history", "history_figure", name="plot_training_history"),
            Node(
                render_image_section,
                ["history", "val_metrics", "model_summary", "history_figure"],
                "report_section",
                name="render_image_section",
            ),
        ]
    )


def create_comparison_pipeline(families: list[str], image_models: list[str], lenet_models: list[str]) -> Pipeline:
    """Cross-model tables beside the study's numbers, the best CNN, the comparison and the report.

    ``lenet_models``: the rows of the LeNet variant table (study Fig. 12): the image models built by ``lenet``.
    """
    published = "params:reporting.published"
    comparison = "params:reporting.comparison"
    val_metrics = {model: exported("val_metrics", model) for model in image_models}
    confusion = {model: exported("val_confusion_matrix", model) for model in image_models}
    histories = {model: exported("history", model) for model in image_models}
    sections = {name: exported("report_section", name) for name in families}
    sections |= {"recommender": "recommender_section"} | {
        name: exported("report_section", name) for name in image_models
    }
    return Pipeline(
        [
            Node(
                compare_tabular_models,
                {
                    "published": f"{published}.tabular",
                    "comparison": comparison,
                    **{family: exported("test_metrics", family) for family in families},
                },
                "tabular_comparison",
                name="compare_tabular_models",
            ),
            Node(tabulate_image_runs, val_metrics, "image_runs", name="tabulate_image_runs"),
            Node(
                compare_image_models,
                {"published": f"{published}.image", "comparison": comparison, **val_metrics},
                "image_comparison",
                name="compare_image_models",
            ),
            Node(
                tabulate_lenet_variants,
                {
                    "image_runs": "image_runs",
                    "published": f"{published}.image",
                    **{model: val_metrics[model] for model in lenet_models},
                },
                "lenet_variant_table",
                name="tabulate_lenet_variants",
            ),
            Node(
                plot_best_cnn_confusion,
                {"image_runs": "image_runs", **confusion},
                "best_cnn_confusion_figure",
                name="plot_best_cnn_confusion",
            ),
            Node(
                tabulate_class_accuracy,
                {"image_runs": "image_runs", **confusion},
                "best_cnn_class_accuracy",
                name="tabulate_class_accuracy",
            ),
            Node(plot_accuracy_curves, histories, "cnn_accuracy_curves_figure", name="plot_accuracy_curves"),
            Node(
                render_image_overview,
                [
                    "image_class_counts",
                    "image_samples_train@image",
                    "image_samples_val@image",
                    "lenet_variant_table",
                    "best_cnn_confusion_figure",
                    "best_cnn_class_accuracy",
                    "cnn_accuracy_curves_figure",
                    f"{LABELS}.image",
                ],
                "image_overview_section",
                name="render_image_overview",
            ),
            Node(
                render_recommender_section,
                [
                    "best_tabular_model",
                    "tabular_model_comparison",
                    "fairness_audit",
                    "fairness_summary",
                    "permutation_importance",
                    "params:fairness",
                ],
                "recommender_section",
                name="render_recommender_section",
            ),
            Node(
                summarise_comparison,
                ["tabular_comparison", "image_comparison", comparison],
                "model_comparison",
                name="summarise_comparison",
            ),
            Node(
                render_markdown_report,
                ["model_comparison", "tabular_comparison", "image_comparison", "lenet_variant_table"],
                "study_report_markdown",
                name="render_markdown_report",
            ),
            Node(
                render_report,
                {
                    "report": "params:reporting.report",
                    "summary": "model_comparison",
                    "tabular_comparison": "tabular_comparison",
                    "image_comparison": "image_comparison",
                    "eda": "eda_section",
                    "image_overview": "image_overview_section",
                    "employees_source": "employees_source",
                    "images_source": "images_source",
                    **sections,
                },
                "study_report",
                name="render_report",
            ),
        ]
    )


def create_pipeline(
    families: Mapping[str, TabularFamily] | None = None, image_models: Mapping[str, str] | None = None, **kwargs
) -> Pipeline:
    """The reporting pipeline: EDA, one template per model namespace, then the comparison and the report.

    ``families`` and ``image_models`` (name -> architecture): the models of the parameters
    (``promotion_cnn.model_lists``; ``pipeline_registry`` passes them); by default those of ``conf/base``.
    """
    if families is None or image_models is None:
        lists = load_model_lists()
        families = lists.families if families is None else families
        image_models = lists.image_models if image_models is None else image_models
    tabular = [
        pipeline(
            create_tabular_template(),
            namespace=family,
            inputs={"test_metrics": exported("test_metrics", family)},
            outputs={"report_section": exported("report_section", family)},
            parameters={SELECTION_METRIC: SELECTION_METRIC},
            tags=["tabular", family],
        )
        for family in families
    ]
    image = [
        pipeline(
            create_image_template(),
            namespace=model,
            inputs={name: exported(name, model) for name in ("val_metrics", "history")},
            outputs={"report_section": exported("report_section", model)},
            tags=["image", model],
        )
        for model in image_models
    ]
    lenet = [model for model, architecture in image_models.items() if architecture == "lenet"]
    parts = [
        create_eda_pipeline(),
        *tabular,
        *image,
        create_comparison_pipeline(list(families), list(image_models), lenet),
    ]
    return pipeline(sum(parts, Pipeline([])), tags="reporting")
