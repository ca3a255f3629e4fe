"""Nodes of the tabular part of data_processing used by this pipeline only: the seeded split, its size check,
the feature reducer (the shared feature nodes: ``promotion_cnn.tabular.features``)."""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from promotion_cnn.params import EmployeesSchema
from promotion_cnn.tabular.tables import TooFewRowsError, table_source

from .params import Reduction, Split

logger = logging.getLogger(__name__)


def minimum_rows_per_class(test_size: float, cv_folds: int) -> int:
    """Rows of each class a stratified split needs so the test part has one and the training part ``cv_folds``."""
    folds = max(int(cv_folds), 1)  # cv_folds 0: the training part still needs one row of each class
    return max(math.ceil(1 / test_size), math.ceil(folds / (1 - test_size)))


def _class_counts(labels: pd.Series) -> dict[int, int]:
    return {label: int((labels == label).sum()) for label in (1, 0)}


def check_rows_for_protocol(labels: pd.Series, source: str, target: str, split: Split, cv_folds: int) -> None:
    """Stop before any fit if the table has too few rows of a class for the split and the cross-validation."""
    test_size = float(split.test_size)
    test_size = test_size / len(labels) if test_size >= 1 else test_size
    needed = minimum_rows_per_class(test_size, cv_folds)
    counts = _class_counts(labels)
    if min(counts.values()) < needed:
        folds = f"{int(cv_folds)}-fold cross-validation" if int(cv_folds) >= 2 else "no cross-validation"
        raise TooFewRowsError(
            f"{source}: too few rows for the tabular protocol: {len(labels)} row(s), {counts[1]} with "
            f"{target} = 1 and {counts[0]} with {target} = 0; the {1 - test_size:.0%}/{test_size:.0%} train/test "
            f"split (split.test_size) and {folds} (tabular_protocol.cv_folds) need at least {needed} rows of each "
            f"class (at least 1 in the test part and {max(int(cv_folds), 1)} in the training part)"
        )


def _check_split(y_train: pd.Series, y_test: pd.Series, source: str, target: str, cv_folds: int) -> None:
    """The split itself (unstratified, or rounding) must leave each part the rows of each class it needs."""
    for part, labels, needed in (("training", y_train, max(int(cv_folds), 1)), ("test", y_test, 1)):
        counts = _class_counts(labels)
        if min(counts.values()) < needed:
            raise TooFewRowsError(
                f"{source}: too few rows for the tabular protocol: the {part} part has {counts[1]} row(s) with "
                f"{target} = 1 and {counts[0]} with {target} = 0, it needs at least {needed} of each "
                f"(tabular_protocol.cv_folds = {cv_folds}, split.test_size = {y_test.size / (y_train.size + y_test.size):.2f})"
            )


def split_train_test(
    table: pd.DataFrame, schema: EmployeesSchema, split: Split, cv_folds: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Split features and target into seeded train and test parts, stratified by default, after a size check."""
    target = schema.target
    features = table.drop(columns=target)
    labels = table[target].astype(int)
    check_rows_for_protocol(labels, table_source(table), target, split, cv_folds)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=split.test_size,
        random_state=split.random_state,
        stratify=labels if split.stratify else None,
    )
    _check_split(y_train, y_test, table_source(table), target, cv_folds)
    logger.info("Split: %d training rows, %d test rows, %d features", len(x_train), len(x_test), features.shape[1])
    return x_train, x_test, y_train.to_frame(), y_test.to_frame()


def fit_feature_reducer(features_train: pd.DataFrame, reduction: Reduction) -> BaseEstimator:
    """Fit min-max scaling and PCA to the given explained variance on the training part only."""
    reducer = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("pca", PCA(n_components=reduction.pca_variance, random_state=reduction.random_state)),
        ]
    )
    reducer.fit(features_train)
    logger.info(
        "Feature reducer: %d features -> %d principal components (%.1f%% of the variance)",
        features_train.shape[1],
        reducer.named_steps["pca"].n_components_,
        100 * reducer.named_steps["pca"].explained_variance_ratio_.sum(),
    )
    return reducer


def summarise_feature_space(features_train: pd.DataFrame, reducer: BaseEstimator) -> dict[str, Any]:
    """Record the feature count, the component count and the variance they explain."""
    pca = reducer.named_steps["pca"]
    return {
        "n_features": int(features_train.shape[1]),
        "features": list(map(str, features_train.columns)),
        "n_components": int(pca.n_components_),
        "explained_variance": float(pca.explained_variance_ratio_.sum()),
        "explained_variance_per_component": [round(float(v), 6) for v in pca.explained_variance_ratio_],
    }
