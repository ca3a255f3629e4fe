"""Nodes of the tabular part of data_processing: the study's cleaning, one step each."""

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

from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding

from .params import Reduction, Split

logger = logging.getLogger(__name__)


class InvalidTableError(ValueError):
    """A table that cannot be processed; the message names the source, the column and the problem."""


class TooFewRowsError(InvalidTableError):
    """A table too small for the train/test split and the cross-validation folds of the tabular protocol."""


def _source(table: pd.DataFrame) -> str:
    return table.attrs.get("source", "the input table")


def validate_table(table: pd.DataFrame, schema: EmployeesSchema) -> pd.DataFrame:
    """Rename columns to the schema's and make numeric columns numbers; the catalog's contract checked the rest.

    ``employees_raw`` and ``employees_to_score`` declare ``validator:`` contracts (``promotion_cnn.validation``):
    required columns, numbers, unique ids, the 0/1 target and value ranges are checked when the table loads.
    """
    source = _source(table)
    renames = {old: new for old, new in schema.rename_columns.items() if old in table.columns}
    if renames:
        logger.info("%s: renaming columns %s", source, renames)
        table = table.rename(columns=renames)
        table.attrs["source"] = source
    for column in schema.numeric_columns:
        if column in table.columns and not pd.api.types.is_numeric_dtype(table[column]):
            table = table.assign(**{column: pd.to_numeric(table[column])})
    logger.info("Validated %s: %d rows, %d columns", source, len(table), table.shape[1])
    return table


def fill_missing_values(table: pd.DataFrame, cleaning: Cleaning) -> pd.DataFrame:
    """Fill empty cells per column (the study: previous_year_rating -> 0, education -> 'other')."""
    fill_values = cleaning.fill_values
    counts = {c: int(table[c].isna().sum()) for c in fill_values if c in table.columns}
    logger.info("Filling empty values: %s", counts)
    return table.fillna({c: v for c, v in fill_values.items() if c in table.columns})


def drop_columns(table: pd.DataFrame, cleaning: Cleaning) -> pd.DataFrame:
    """Drop the listed columns (identifiers, protected and weakly correlated attributes)."""
    return table.drop(columns=[c for c in cleaning.drop_columns if c in table.columns])


def _present(table: pd.DataFrame, columns: Any, step: str) -> list[str]:
    """The configured columns the table has; an absent one (optional, not required) is logged and skipped."""
    absent = [c for c in columns if c not in table.columns]
    if absent:
        logger.warning("%s: %s skips absent column(s) %s", _source(table), step, absent)
    return [c for c in columns if c in table.columns]


def keep_columns(table: pd.DataFrame, cleaning: Cleaning, schema: EmployeesSchema) -> pd.DataFrame:
    """Keep only the configured feature columns and the target, in table order; None keeps every column."""
    if cleaning.keep_columns is None:
        return table
    wanted = {*_present(table, cleaning.keep_columns, "feature selection"), schema.target}
    kept = [c for c in table.columns if c in wanted]
    ignored = sorted(set(table.columns) - set(kept))
    if ignored:
        logger.info("%s: columns not configured as features, ignored: %s", _source(table), ignored)
    return table[kept]


def encode_ordinal(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Map ordered categories to integers, rejecting levels the mapping does not know."""
    ordinal_levels = encoding.ordinal
    encoded = table.copy()
    for column in _present(table, ordinal_levels, "ordinal encoding"):
        levels = ordinal_levels[column]
        unknown = sorted(set(encoded[column].dropna().astype(str)) - set(levels))
        if unknown:
            raise InvalidTableError(
                f"{_source(table)}: column '{column}' has level(s) {unknown} not in the ordinal map {list(levels)}"
            )
        encoded[column] = encoded[column].map(levels).astype(int)
    return encoded


def encode_flags(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Replace a categorical column by a 0/1 flag (the study: recruitment_channel -> is_referred)."""
    encoded = table.copy()
    for flag, spec in encoding.flags.items():
        if spec.column not in encoded.columns:
            logger.warning("%s: flag '%s' skipped, column '%s' is absent", _source(table), flag, spec.column)
            continue
        encoded[flag] = (encoded[spec.column] == spec.equals).astype(int)
        encoded = encoded.drop(columns=spec.column)
    return encoded


def as_categories(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Give nominal columns the pandas ``category`` dtype (for models with native categorical support)."""
    present = _present(table, encoding.categorical, "categorical encoding")
    return table.astype({c: "category" for c in present}) if present else table


def one_hot_encode(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """One-hot encode nominal columns as 0/1 integer columns named ``<column>_<level>``."""
    return pd.get_dummies(table, columns=_present(table, encoding.one_hot, "one-hot encoding"), dtype=int)


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
    check_rows_for_protocol(labels, _source(table), target, split, cv_folds)
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=split.test_size,
        random_state=split.random_state,
        stratify=labels if split.stratify else None,
    )
    _check_split(y_train, y_test, _source(table), target, cv_folds)
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
