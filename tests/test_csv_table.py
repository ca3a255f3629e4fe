"""The project's CSV input dataset: pandas.CSVDataset, with an empty file named."""

import pandas as pd
import pytest
from kedro.io import DatasetError

from promotion_cnn.datasets import CSVTableDataset


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_an_empty_file_is_named(tmp_path, content):
    path = tmp_path / "employees.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=rf"{path}: the file is empty \(no header row, no data\)"):
        CSVTableDataset(filepath=str(path)).load()


def test_a_table_loads_as_with_pandas(tmp_path):
    path = tmp_path / "employees.csv"
    pd.DataFrame({"employee_id": [1, 2], "age": [30, 40]}).to_csv(path, index=False)
    assert CSVTableDataset(filepath=str(path)).load().equals(pd.read_csv(path))
