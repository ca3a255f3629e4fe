"""tabular_modelling: one train -> select -> tune threshold -> evaluate template per model family."""

from kedro.pipeline import Node, Pipeline, pipeline

from .nodes import evaluate_model, evaluate_variants, fit_selected_model, select_variant, tune_threshold

MODEL_FAMILIES = ("random_forest", "svm")
SHARED_INPUTS = {"features_train", "features_test", "target_train", "target_test", "feature_reducer"}


def create_template() -> Pipeline:
    """The generic template; ``params:family`` holds the estimator and its variants."""
    return Pipeline(
        [
            Node(evaluate_variants,
                 ["features_train", "target_train", "feature_reducer", "params:family", "params:tabular_protocol"],
                 ["variant_scores", "oof_scores", "fitted_variants"], name="evaluate_variants"),
            Node(select_variant, ["variant_scores", "params:tabular_protocol"], "selected_variant",
                 name="select_variant"),
            Node(fit_selected_model,
                 ["features_train", "target_train", "feature_reducer", "params:family", "selected_variant",
                  "fitted_variants", "oof_scores", "params:tabular_protocol"],
                 ["model", "selected_oof_scores"], name="fit_selected_model"),
            Node(tune_threshold,
                 ["model", "features_train", "target_train", "selected_oof_scores", "params:tabular_protocol",
                  "params:family.threshold"],
                 ["threshold", "threshold_curve"], name="tune_threshold"),
            Node(evaluate_model, ["model", "threshold", "features_test", "target_test", "selected_variant"],
                 ["test_metrics", "confusion_matrix", "roc_curve", "pr_curve"], name="evaluate_model"),
        ]
    )  # fmt: skip


def create_pipeline(**kwargs) -> Pipeline:
    """The template instantiated once per model family, each in its own namespace."""
    template = create_template()
    return sum(
        (
            pipeline(
                template,
                namespace=family,
                inputs=SHARED_INPUTS,
                parameters={"params:tabular_protocol": "params:tabular_protocol", "params:family": f"params:{family}",
                            "params:family.threshold": f"params:{family}.threshold"},
                tags=["tabular", family],
            )
            for family in MODEL_FAMILIES
        ),
        Pipeline([]),
    )  # fmt: skip
