"""OptionalDataset and the hook that lets the report say what is missing."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import CSVDataset

from promotion_cnn.datasets import OptionalDataset
from promotion_cnn.datasets.optional import OptionalInputsHook, optional_inputs


def test_optional_dataset_loads_none_until_the_file_exists(tmp_path):
    dataset = OptionalDataset({"type": "pandas.CSVDataset", "filepath": str(tmp_path / "t.csv")})
    assert dataset.load() is None and not dataset.exists()
    dataset.save(pd.DataFrame({"a": [1]}))
    assert dataset.exists() and dataset.load()["a"].tolist() == [1]


def test_optional_dataset_without_a_wrapped_dataset():
    dataset = OptionalDataset(None, missing_reason="'x' is not in the catalog")
    assert dataset.load() is None and not dataset.exists()
    with pytest.raises(DatasetError, match="not in the catalog"):
        dataset.save(1)


def describe(*parts):
    return " ".join("none" if p is None else "some" for p in parts)


def test_hook_wraps_only_absent_free_inputs_of_reporting_nodes(tmp_path):
    present = CSVDataset(filepath=str(tmp_path / "present.csv"))
    present.save(pd.DataFrame({"a": [1]}))
    catalog = DataCatalog(
        {
            "present": present,
            "absent_file": CSVDataset(filepath=str(tmp_path / "absent.csv")),
            "model_input": MemoryDataset(1),
        }
    )
    pipeline = Pipeline(
        [
            Node(lambda x: x, "model_input", "produced", name="model"),
            Node(
                describe,
                ["present", "absent_file", "unregistered", "produced"],
                "report",
                name="report",
                tags="reporting",
            ),
            Node(lambda x: x, "absent_elsewhere", "other", name="other"),
        ]
    )
    assert optional_inputs(pipeline, "reporting") == {"present", "absent_file", "unregistered"}
    OptionalInputsHook("reporting").before_pipeline_run(
        run_params={}, pipeline=pipeline.only_nodes("model", "report"), catalog=catalog
    )
    assert isinstance(catalog.get("absent_file"), OptionalDataset)
    assert not isinstance(catalog.get("present"), OptionalDataset)  # present data is read as usual
    assert "absent_elsewhere" not in catalog  # only reporting nodes' inputs are made optional


def test_with_the_hook_absent_inputs_load_as_none(tmp_path):
    catalog = DataCatalog({"absent_file": CSVDataset(filepath=str(tmp_path / "absent.csv"))})
    pipeline = Pipeline([Node(describe, ["absent_file", "unregistered"], "seen", tags="reporting")])
    OptionalInputsHook("reporting").before_pipeline_run(run_params={}, pipeline=pipeline, catalog=catalog)
    assert SequentialRunner().run(pipeline, catalog)["seen"].load() == "none none"


def test_without_the_hook_absent_inputs_fail(tmp_path):
    catalog = DataCatalog({"absent_file": CSVDataset(filepath=str(tmp_path / "absent.csv"))})
    pipeline = Pipeline([Node(describe, ["absent_file"], "seen", tags="reporting")])
    with pytest.raises(DatasetError, match="absent.csv"):
        SequentialRunner().run(pipeline, catalog)
