"""The `full` feature set and the schema options: extra, renamed and missing columns, unique ids."""

import logging

import pandas as pd
import pytest

from promotion_cnn.datasets import generate_employees
from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding
from promotion_cnn.pipelines.data_processing import create_tabular_pipeline
from promotion_cnn.tabular.features import as_categories, keep_columns, one_hot_encode

OUTPUTS = [
    "features_train",
    "features_test",
    "target_test",
    "full_features_train",
    "full_features_test",
    "full_target_test",
    "employees_validated",
]


@pytest.fixture(scope="module")
def processed(project_params, run_pipeline):
    return run_pipeline(
        create_tabular_pipeline(), project_params, {"employees_raw": generate_employees(800, seed=5)}, OUTPUTS
    )


def test_full_features_keep_every_column_but_id_and_gender(processed, project_params):
    full = processed["full_features_train"]
    assert list(full.columns) == project_params["full_features"]["cleaning"]["keep_columns"]
    assert not {"employee_id", "gender", "is_promoted"} & set(full.columns)
    for column in project_params["full_features"]["encoding"]["categorical"]:
        assert isinstance(full[column].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_integer_dtype(full["education"])


def test_both_feature_sets_hold_the_same_rows(processed):
    assert processed["full_features_train"].index.equals(processed["features_train"].index)
    assert processed["full_features_test"].index.equals(processed["features_test"].index)
    assert processed["full_target_test"].equals(processed["target_test"])
    genders = processed["employees_validated"].loc[processed["full_features_test"].index, "gender"]
    assert set(genders) == {"m", "f"}


def test_another_table_runs_by_configuration_only(project_params, run_pipeline, caplog):
    """Extra column ignored, renamed column mapped, optional column (region) absent: config changes only."""
    raw = generate_employees(600, seed=6).drop(columns="region").rename(columns={"awards_won?": "awards"})
    raw["badge_colour"] = "blue"
    schema = dict(project_params["employees_schema"])
    schema["rename_columns"] = {"awards": "awards_won?"}
    schema["required_columns"] = [c for c in schema["required_columns"] if c != "region"]
    params = {**project_params, "employees_schema": schema}
    with caplog.at_level(logging.INFO):
        out = run_pipeline(create_tabular_pipeline(), params, {"employees_raw": raw}, OUTPUTS)
    assert "awards_won?" in out["full_features_train"] and "badge_colour" not in out["full_features_train"]
    assert not any(c.startswith("region") for c in out["features_train"].columns)
    assert "skips absent column(s) ['region']" in caplog.text and "badge_colour" in caplog.text


def test_keep_columns_none_keeps_everything_and_list_keeps_target():
    table = pd.DataFrame({"a": [1], "b": [2], "y": [0]})
    schema = EmployeesSchema(required_columns=["a"], numeric_columns=[], target="y")
    assert keep_columns(table, Cleaning(keep_columns=None), schema) is table
    assert list(keep_columns(table, Cleaning(keep_columns=["b"]), schema).columns) == ["b", "y"]


def test_as_categories_and_one_hot_skip_absent_columns():
    table = pd.DataFrame({"department": ["HR", "Legal"]})
    categorical = Encoding(categorical=["department", "region"])
    assert isinstance(as_categories(table, categorical).department.dtype, pd.CategoricalDtype)
    one_hot = Encoding(one_hot=["department", "region"])
    assert list(one_hot_encode(table, one_hot).columns) == ["department_HR", "department_Legal"]
