"""promotion_scoring: current employees -> ranked recommendations, with the recommender from tabular_modelling."""

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.tabular.feature_pipeline import (
    FULL_FEATURES,
    create_feature_pipeline,
    feature_set_parameters,
)

from .nodes import score_employees, summarise_recommendations, validate_employees_to_score


def create_pipeline(**kwargs) -> Pipeline:
    """Validate, build the recommender's (``full``) features with the training nodes and parameters, score, summarise.

    Needs ``recommender`` (the latest version saved by ``tabular_modelling``); swap the input table through the
    ``employees_to_score`` catalog entry.
    """
    features = create_feature_pipeline()
    scoring_features = pipeline(
        features,
        namespace="scoring",
        inputs={"employees_validated": "employees_to_score_validated"},
        outputs={"employees_features": "employees_to_score_features"},
        parameters=feature_set_parameters(features, FULL_FEATURES),
    )
    return pipeline(
        Pipeline(
            [
                Node(
                    validate_employees_to_score,
                    ["employees_to_score", "params:employees_schema"],
                    "employees_to_score_validated",
                    name="validate_employees_to_score",
                ),
                Node(
                    score_employees,
                    [
                        "recommender",
                        "employees_to_score_features",
                        "employees_to_score_validated",
                        "params:promotion_scoring",
                    ],
                    "promotion_recommendations",
                    name="score_employees",
                ),
                Node(
                    summarise_recommendations,
                    ["promotion_recommendations", "employees_to_score_validated", "params:promotion_scoring"],
                    "promotion_recommendation_summary",
                    name="summarise_recommendations",
                ),
            ]
        )
        + scoring_features,
        tags="promotion_scoring",
    )
