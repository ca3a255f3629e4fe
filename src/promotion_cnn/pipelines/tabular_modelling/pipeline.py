"""tabular_modelling: one train -> select -> tune threshold -> evaluate template per model family."""

from collections.abc import Mapping
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.model_lists import TabularFamily, exported, load_model_lists
from promotion_cnn.tabular.feature_pipeline import FULL_FEATURES, SPLIT_DATASETS, feature_set_dataset

from .assessment_nodes import assess_calibration, audit_fairness, bootstrap_test_metrics
from .nodes import (
    evaluate_model,
    evaluate_variants,
    fit_selected_model,
    select_variant,
    tune_threshold,
)
from .recommender_nodes import (
    combine_family_tables,
    describe_candidate,
    explain_recommender,
    select_recommender,
)

# leave a family's namespace as <name>_<family> (model_lists.exported): read by other namespaces and pipelines
CROSS_FAMILY_OUTPUTS = ("test_metrics", "fairness_audit", "fairness_summary", "candidate")


class NamedPartial(partial):
    """A ``functools.partial`` that keeps ``update_wrapper``'s name when pickled to ParallelRunner's workers
    (multiprocessing's pickler rebuilds a plain partial without its attributes, and Kedro warns on every run)."""


def _reducer_input(func, use_reducer: bool) -> tuple:
    """The node function and its reducer input: ``feature_reducer`` only for families that use it (no false edge);
    the others get ``reducer=None`` bound, so the node has no such input."""
    return (
        (func, {"reducer": "feature_reducer"})
        if use_reducer
        else (update_wrapper(NamedPartial(func, reducer=None), func), {})
    )


def create_template(use_reducer: bool = True) -> Pipeline:
    """The generic template; ``params:family`` holds the estimator and its variants.

    ``use_reducer``: ``feature_reducer`` is an input of ``evaluate_variants`` and ``fit_selected_model`` (families
    whose block sets ``use_reducer: true``); otherwise the nodes get no reducer and kedro-viz draws no edge.
    """
    evaluate, evaluate_reducer = _reducer_input(evaluate_variants, use_reducer)
    fit, fit_reducer = _reducer_input(fit_selected_model, use_reducer)
    return Pipeline(
        [
            Node(
                evaluate,
                {
                    "features": "features_train",
                    "target": "target_train",
                    **evaluate_reducer,
                    "family": "params:family",
                    "protocol": "params:tabular_protocol",
                },
                ["variant_scores", "oof_scores", "fitted_variants"],
                name="evaluate_variants",
            ),
            Node(
                select_variant, ["variant_scores", "params:tabular_protocol"], "selected_variant", name="select_variant"
            ),
            Node(
                fit,
                {
                    "features": "features_train",
                    "target": "target_train",
                    **fit_reducer,
                    "family": "params:family",
                    "selected": "selected_variant",
                    "fitted_variants": "fitted_variants",
                    "oof_scores": "oof_scores",
                    "protocol": "params:tabular_protocol",
                },
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


def _family_pipeline(family: TabularFamily) -> Pipeline:
    """The template in the family's namespace, on its feature set; candidates also describe themselves."""
    template = create_template(family.use_reducer)
    if not family.recommender_candidate:
        template = template - Pipeline([n for n in template.nodes if n.name == "describe_candidate"])
    shared = {"employees_validated"} | ({"feature_reducer"} if family.use_reducer else set())
    return pipeline(
        template,
        namespace=family.name,
        inputs={name: feature_set_dataset(family.feature_set, name) for name in SPLIT_DATASETS}
        | {name: name for name in shared},
        parameters={
            "params:tabular_protocol": "params:tabular_protocol",
            "params:family": f"params:{family.name}",
            "params:fairness": "params:fairness",
            "params:assessment.bootstrap": "params:assessment.bootstrap",
            "params:assessment.calibration": "params:assessment.calibration",
        },
        outputs={
            name: exported(name, family.name)
            for name in CROSS_FAMILY_OUTPUTS
            if family.recommender_candidate or name != "candidate"
        },
        tags=["tabular", family.name],
    )


def create_pipeline(families: Mapping[str, TabularFamily] | None = None, **kwargs) -> Pipeline:
    """The template per model family (own namespace), then the fairness table, the recommender and its explanation.

    ``families``: the tabular families of the parameters (``promotion_cnn.model_lists``; ``pipeline_registry``
    passes them); by default those of the project's ``conf/base``.
    """
    families = load_model_lists().families if families is None else families
    candidates = [name for name, family in families.items() if family.recommender_candidate]
    recommender = Pipeline(
        [
            Node(
                combine_family_tables,
                {f: exported("fairness_audit", f) for f in families},
                "fairness_audit",
                name="combine_fairness_audits",
            ),
            Node(
                combine_family_tables,
                {f: exported("fairness_summary", f) for f in families},
                "fairness_summary",
                name="combine_fairness_summaries",
            ),
            Node(
                select_recommender,
                {"protocol": "params:tabular_protocol", **{f: exported("candidate", f) for f in candidates}},
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
    return sum((_family_pipeline(family) for family in families.values()), Pipeline([])) + recommender
