"""tabular_modelling: one train -> select -> tune threshold -> evaluate template per model family."""

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.tabular.feature_pipeline import FULL_FEATURES, SPLIT_DATASETS, STUDY_FEATURES, feature_set_dataset

from .assessment_nodes import assess_calibration, audit_fairness, bootstrap_test_metrics
from .nodes import evaluate_model, evaluate_variants, fit_selected_model, select_variant, tune_threshold
from .recommender_nodes import (
    combine_family_tables,
    describe_candidate,
    explain_recommender,
    select_recommender,
)

# family -> the feature set it is trained on: STUDY_FEATURES for the study's (one-hot, PCA-able), FULL_FEATURES for the
# un-reduced one. Families on the full feature set are the recommender's candidates (promotion_scoring builds
# exactly those features for new employees).
MODEL_FAMILIES = {
    "random_forest": STUDY_FEATURES,
    "svm": STUDY_FEATURES,
    "hist_gradient_boosting": FULL_FEATURES,
    "logistic_regression": FULL_FEATURES,
}
RECOMMENDER_CANDIDATES = tuple(f for f, features in MODEL_FAMILIES.items() if features == FULL_FEATURES)
CROSS_FAMILY_OUTPUTS = (
    "fairness_audit",
    "fairness_summary",
    "candidate",
)  # leave the namespace as <name>_<family>: read across families


def create_template() -> Pipeline:
    """The generic template; ``params:family`` holds the estimator and its variants."""
    return Pipeline(
        [
            Node(
                evaluate_variants,
                ["features_train", "target_train", "feature_reducer", "params:family", "params:tabular_protocol"],
                ["variant_scores", "oof_scores", "fitted_variants"],
                name="evaluate_variants",
            ),
            Node(
                select_variant, ["variant_scores", "params:tabular_protocol"], "selected_variant", name="select_variant"
            ),
            Node(
                fit_selected_model,
                [
                    "features_train",
                    "target_train",
                    "feature_reducer",
                    "params:family",
                    "selected_variant",
                    "fitted_variants",
                    "oof_scores",
                    "params:tabular_protocol",
                ],
                ["model", "selected_oof_scores"],
                name="fit_selected_model",
            ),
            Node(
                tune_threshold,
                [
                    "model",
                    "features_train",
                    "target_train",
                    "selected_oof_scores",
                    "params:tabular_protocol",
                    "params:family",
                ],
                ["threshold", "threshold_curve"],
                name="tune_threshold",
            ),
            Node(
                evaluate_model,
                ["model", "threshold", "features_test", "target_test", "selected_variant"],
                ["test_metrics", "confusion_matrix", "roc_curve", "pr_curve", "test_scores"],
                name="evaluate_model",
            ),
            Node(
                audit_fairness,
                ["test_scores", "target_test", "employees_validated", "params:fairness", "params:assessment.bootstrap"],
                ["fairness_audit", "fairness_summary"],
                name="audit_fairness",
            ),
            Node(
                bootstrap_test_metrics,
                ["test_scores", "target_test", "params:assessment.bootstrap"],
                "test_metric_intervals",
                name="bootstrap_test_metrics",
            ),
            Node(
                assess_calibration,
                ["test_scores", "target_test", "params:assessment.calibration"],
                "calibration",
                name="assess_calibration",
            ),
            Node(
                describe_candidate,
                ["model", "threshold", "selected_variant", "variant_scores", "test_metrics", "features_train"],
                "candidate",
                name="describe_candidate",
            ),
        ]
    )


def _family_pipeline(template: Pipeline, family: str, features: str) -> Pipeline:
    """The template in the family's namespace, on its feature set; candidates also describe themselves."""
    candidate = family in RECOMMENDER_CANDIDATES
    if not candidate:
        template = template - Pipeline([n for n in template.nodes if n.name == "describe_candidate"])
    return pipeline(
        template,
        namespace=family,
        inputs={name: feature_set_dataset(features, name) for name in SPLIT_DATASETS}
        | {"feature_reducer": "feature_reducer", "employees_validated": "employees_validated"},
        parameters={
            "params:tabular_protocol": "params:tabular_protocol",
            "params:family": f"params:{family}",
            "params:fairness": "params:fairness",
            "params:assessment.bootstrap": "params:assessment.bootstrap",
            "params:assessment.calibration": "params:assessment.calibration",
        },
        outputs={name: f"{name}_{family}" for name in CROSS_FAMILY_OUTPUTS if candidate or name != "candidate"},
        tags=["tabular", family],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The template per model family (own namespace), then the fairness table, the recommender and its explanation."""
    template = create_template()
    families = sum((_family_pipeline(template, f, features) for f, features in MODEL_FAMILIES.items()), Pipeline([]))
    recommender = Pipeline(
        [
            Node(
                combine_family_tables,
                {f: f"fairness_audit_{f}" for f in MODEL_FAMILIES},
                "fairness_audit",
                name="combine_fairness_audits",
            ),
            Node(
                combine_family_tables,
                {f: f"fairness_summary_{f}" for f in MODEL_FAMILIES},
                "fairness_summary",
                name="combine_fairness_summaries",
            ),
            Node(
                select_recommender,
                {"protocol": "params:tabular_protocol", **{f: f"candidate_{f}" for f in RECOMMENDER_CANDIDATES}},
                ["recommender", "best_tabular_model", "tabular_model_comparison"],
                name="select_recommender",
            ),
            Node(
                explain_recommender,
                [
                    "recommender",
                    feature_set_dataset(FULL_FEATURES, "features_test"),
                    feature_set_dataset(FULL_FEATURES, "target_test"),
                    "params:permutation_importance",
                ],
                "permutation_importance",
                name="explain_recommender",
            ),
        ],
        tags=["tabular", "recommender"],
    )
    return families + recommender
