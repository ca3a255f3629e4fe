"""Employee tables: the named errors a table that cannot be used raises, and the validation node shared by
training (data_processing) and scoring (promotion_scoring, serving)."""

from __future__ import annotations

import logging

import pandas as pd

from promotion_cnn.params import EmployeesSchema

logger = logging.getLogger(__name__)


class InvalidTableError(ValueError):
    """A table that cannot be processed; the message names the source, the column and the problem."""


class TooFewRowsError(InvalidTableError):
    """A table too small for the train/test split and the cross-validation folds of the tabular protocol."""


def table_source(table: pd.DataFrame) -> str:
    """Where the table came from (its ``source`` attribute), for error and log messages."""
    return table.attrs.get("source", "the input table")


def validate_table(table: pd.DataFrame, schema: EmployeesSchema) -> pd.DataFrame:
    """Rename columns to the schema's and make numeric columns numbers; the catalog's contract checked the rest.

    ``employees_raw`` and ``employees_to_score`` declare ``validator:`` contracts (``promotion_cnn.validation``):
    required columns, numbers, unique ids, the 0/1 target and value ranges are checked when the table loads.
    """
    source = table_source(table)
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
