"""Tabular part of data_processing: validate, clean, encode, split, fit the feature reducer."""

from kedro.pipeline import Node, Pipeline

from .tabular_nodes import (
    drop_columns,
    encode_flags,
    encode_ordinal,
    fill_missing_values,
    fit_feature_reducer,
    one_hot_encode,
    split_train_test,
    summarise_feature_space,
    validate_table,
)


def create_tabular_pipeline(**kwargs) -> Pipeline:
    """Employees table from raw rows to model input and a fitted scaler + PCA."""
    return Pipeline(
        [
            Node(validate_table, ["employees_raw", "params:employees_schema"], "employees_validated",
                 name="validate_employees"),
            Node(fill_missing_values, ["employees_validated", "params:cleaning.fill_values"], "employees_filled",
                 name="fill_missing_values"),
            Node(drop_columns, ["employees_filled", "params:cleaning.drop_columns"], "employees_selected",
                 name="drop_columns"),
            Node(encode_ordinal, ["employees_selected", "params:encoding.ordinal"], "employees_ordinal",
                 name="encode_education"),
            Node(encode_flags, ["employees_ordinal", "params:encoding.flags"], "employees_flagged",
                 name="encode_recruitment_channel"),
            Node(one_hot_encode, ["employees_flagged", "params:encoding.one_hot"], "employees_features",
                 name="one_hot_encode"),
            Node(split_train_test, ["employees_features", "params:employees_schema.target", "params:split"],
                 ["features_train", "features_test", "target_train", "target_test"], name="split_train_test"),
            Node(fit_feature_reducer, ["features_train", "params:reduction"], "feature_reducer",
                 name="fit_feature_reducer"),
            Node(summarise_feature_space, ["features_train", "feature_reducer"], "feature_space_summary",
                 name="summarise_feature_space"),
        ]
    )  # fmt: skip
