"""Tabular part of data_processing: validate, clean, encode, split, fit the feature reducer."""

from kedro.pipeline import Node, Pipeline, pipeline

from .source_nodes import describe_source
from .tabular_nodes import (
    as_categories,
    drop_columns,
    encode_flags,
    encode_ordinal,
    fill_missing_values,
    fit_feature_reducer,
    keep_columns,
    one_hot_encode,
    split_train_test,
    summarise_feature_space,
    validate_table,
)

FULL_FEATURES = "full"  # namespace of the second feature set: every column but the id and gender, no PCA
SPLIT_DATASETS = ("features_train", "features_test", "target_train", "target_test")


def feature_set_dataset(feature_set: str, name: str) -> str:
    """A split dataset's name in a feature set: ``features_train`` in the study's, ``full_features_train`` in ``full``."""
    return f"{feature_set}_{name}" if feature_set else name


def create_feature_pipeline() -> Pipeline:
    """Validated employees to encoded features: fill, drop, keep, encode (ordinal, flags, categories, one-hot)."""
    return Pipeline(
        [
            Node(
                fill_missing_values,
                ["employees_validated", "params:cleaning"],
                "employees_filled",
                name="fill_missing_values",
            ),
            Node(
                drop_columns,
                ["employees_filled", "params:cleaning"],
                "employees_dropped",
                name="drop_columns",
            ),
            Node(
                keep_columns,
                ["employees_dropped", "params:cleaning", "params:employees_schema"],
                "employees_selected",
                name="keep_columns",
            ),
            Node(
                encode_ordinal,
                ["employees_selected", "params:encoding"],
                "employees_ordinal",
                name="encode_education",
            ),
            Node(
                encode_flags,
                ["employees_ordinal", "params:encoding"],
                "employees_flagged",
                name="encode_recruitment_channel",
            ),
            Node(
                as_categories,
                ["employees_flagged", "params:encoding"],
                "employees_categorised",
                name="encode_categories",
            ),
            Node(
                one_hot_encode,
                ["employees_categorised", "params:encoding"],
                "employees_features",
                name="one_hot_encode",
            ),
        ]
    )


def feature_set_parameters(feature_pipeline: Pipeline, feature_set: str) -> dict[str, str]:
    """Map the feature nodes' ``cleaning``/``encoding`` parameters to the feature set's own block."""
    return {
        name: name.replace("params:", f"params:{feature_set}_features.", 1)
        if name.startswith(("params:cleaning", "params:encoding"))
        else name
        for name in feature_pipeline.inputs()
        if name.startswith("params:")
    }


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
