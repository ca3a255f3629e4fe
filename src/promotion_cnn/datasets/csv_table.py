"""A pandas CSV dataset whose empty (0-byte or blank) file is an error naming the file."""

from __future__ import annotations

import pandas as pd
from kedro.io import DatasetError
from kedro_datasets.pandas import CSVDataset


class EmptyFileError(ValueError):
    """A CSV file with nothing in it: no header row, no data."""


class CSVTableDataset(CSVDataset):
    """``pandas.CSVDataset`` for input tables: an empty file stops the run with the file's path, not pandas' message."""

    def load(self) -> pd.DataFrame:
        """Read the CSV file; an empty one raises ``EmptyFileError`` naming it."""
        try:
            return super().load()  # Kedro wraps pandas' error in a DatasetError
        except DatasetError as error:
            if not isinstance(error.__cause__, pd.errors.EmptyDataError):
                raise
            raise EmptyFileError(
                f"{self._get_load_path()}: the file is empty (no header row, no data); "
                "expected a CSV table with a header row"
            ) from None
