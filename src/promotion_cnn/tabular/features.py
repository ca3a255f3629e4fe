"""The feature-building nodes: the study's cleaning and encoding, one step each (training and scoring)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding

from .tables import InvalidTableError, table_source

logger = logging.getLogger(__name__)


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
        logger.warning("%s: %s skips absent column(s) %s", table_source(table), step, absent)
    return [c for c in columns if c in table.columns]


def keep_columns(table: pd.DataFrame, cleaning: Cleaning, schema: EmployeesSchema) -> pd.DataFrame:
    """Keep only the configured feature columns and the target, in table order; None keeps every column."""
    if cleaning.keep_columns is None:
        return table
    wanted = {*_present(table, cleaning.keep_columns, "feature selection"), schema.target}
    kept = [c for c in table.columns if c in wanted]
    ignored = sorted(set(table.columns) - set(kept))
    if ignored:
        logger.info("%s: columns not configured as features, ignored: %s", table_source(table), ignored)
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
                f"{table_source(table)}: column '{column}' has level(s) {unknown} not in the ordinal map {list(levels)}"
            )
        encoded[column] = encoded[column].map(levels).astype(int)
    return encoded


def encode_flags(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Replace a categorical column by a 0/1 flag (the study: recruitment_channel -> is_referred)."""
    encoded = table.copy()
    for flag, spec in encoding.flags.items():
        if spec.column not in encoded.columns:
            logger.warning("%s: flag '%s' skipped, column '%s' is absent", table_source(table), flag, spec.column)
            continue
        encoded[flag] = (encoded[spec.column] == spec.equals).astype(int)
        encoded = encoded.drop(columns=spec.column)
    return encoded


def as_categories(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Give nominal columns the pandas ``category`` dtype (for models with native categorical support)."""
    present = _present(table, encoding.categorical, "categorical encoding")
    if not present:
        return table
    return table.assign(**{c: table[c].astype("category") for c in present})  # astype({...}): same, 2-3x slower


def one_hot_encode(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """One-hot encode nominal columns as 0/1 integer columns named ``<column>_<level>``."""
    present = _present(table, encoding.one_hot, "one-hot encoding")
    if not present:  # get_dummies would return an equal copy (~1 ms on a small table)
        return table
    return pd.get_dummies(table, columns=present, dtype=int)
