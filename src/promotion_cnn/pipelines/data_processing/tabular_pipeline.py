"""Tabular part of data_processing: validate, clean, encode, split, fit the feature reducer."""

from kedro.pipeline import Node, Pipeline, pipeline

from promotion_cnn.tabular.feature_pipeline import (
    FULL_FEATURES,
    SPLIT_DATASETS,
    create_feature_pipeline,
    feature_set_dataset,
    feature_set_parameters,
)
from promotion_cnn.tabular.tables import validate_table

from .source_nodes import describe_source
from .tabular_nodes import fit_feature_reducer, split_train_test, summarise_feature_space


def create_tabular_pipeline(**kwargs) -> Pipeline:
    """Employees table from raw rows to model input and a fitted scaler + PCA, plus the full feature set.

    The study's feature set (``features_train`` ...) drops weak columns and one-hot encodes; the
    ``full`` namespace reuses the same nodes with ``full_features`` parameters and the same ``split``,
    so both sets hold exactly the same training and test rows (``full_features_train`` ...).
    """
    split = Pipeline(
        [
            Node(
                split_train_test,
                ["employees_features", "params:employees_schema", "params:split", "params:tabular_protocol.cv_folds"],
                list(SPLIT_DATASETS),
                name="split_train_test",
            ),
        ]
    )
    features = create_feature_pipeline() + split
    full = pipeline(
        features,
        namespace=FULL_FEATURES,
        inputs={"employees_validated"},
        outputs={name: feature_set_dataset(FULL_FEATURES, name) for name in SPLIT_DATASETS},  # read by other namespaces
        parameters=feature_set_parameters(features, FULL_FEATURES),
    )
    return (
        Pipeline(
            [
                Node(describe_source, "employees_raw", "employees_source", name="describe_employees_source"),
                Node(
                    validate_table,
                    ["employees_raw", "params:employees_schema"],
                    "employees_validated",
                    name="validate_employees",
                ),
                Node(
                    fit_feature_reducer,
                    ["features_train", "params:reduction"],
                    "feature_reducer",
                    name="fit_feature_reducer",
                ),
                Node(
                    summarise_feature_space,
                    ["features_train", "feature_reducer"],
                    "feature_space_summary",
                    name="summarise_feature_space",
                ),
            ]
        )
        + features
        + full
    )
