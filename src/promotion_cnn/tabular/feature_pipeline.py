"""The feature pipeline shared by training (data_processing) and scoring (promotion_scoring), and the names of
the feature sets: the study's (``features_train`` ...) and ``full`` (``full_features_train`` ...)."""

from kedro.pipeline import Node, Pipeline

from .features import (
    as_categories,
    drop_columns,
    encode_flags,
    encode_ordinal,
    fill_missing_values,
    keep_columns,
    one_hot_encode,
)

STUDY_FEATURES = "study"  # the study's feature set: weak columns dropped, one-hot encoded, PCA-able
FULL_FEATURES = "full"  # namespace of the second feature set: every column but the id and gender, no PCA
FEATURE_SETS = (STUDY_FEATURES, FULL_FEATURES)
SPLIT_DATASETS = ("features_train", "features_test", "target_train", "target_test")


def feature_set_dataset(feature_set: str, name: str) -> str:
    """A split dataset's name in a feature set: ``features_train`` in the study's, ``full_features_train`` in ``full``."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}, expected one of {FEATURE_SETS}")
    return name if feature_set == STUDY_FEATURES else f"{feature_set}_{name}"


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
