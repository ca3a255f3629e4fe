"""Unit tests of the tabular data_processing nodes."""

import numpy as np
import pandas as pd
import pytest

from promotion_cnn.datasets import generate_employees
from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding
from promotion_cnn.pipelines.data_processing.params import Reduction, Split
from promotion_cnn.pipelines.data_processing.tabular_nodes import (
    InvalidTableError,
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


@pytest.fixture(scope="module")
def typed(project_params):
    """The base parameter blocks these nodes take, as their typed models."""
    return {
        "schema": EmployeesSchema.model_validate(project_params["employees_schema"]),
        "cleaning": Cleaning.model_validate(project_params["cleaning"]),
        "encoding": Encoding.model_validate(project_params["encoding"]),
        "split": Split.model_validate(project_params["split"]),
        "reduction": Reduction.model_validate(project_params["reduction"]),
    }


@pytest.fixture
def employees() -> pd.DataFrame:
    table = generate_employees(400, seed=7)
    table.attrs["source"] = "dataset 'employees_raw' (data/01_raw/employees.csv)"
    return table


def test_validate_accepts_generated_table(employees, typed):
    assert validate_table(employees, typed["schema"]) is employees


def test_validate_converts_numeric_strings(employees, typed):
    text = employees.astype({"age": "str"})
    assert pd.api.types.is_numeric_dtype(validate_table(text, typed["schema"])["age"])


def test_validate_renames_columns_to_the_schemas(employees, typed):
    schema = typed["schema"].model_copy(update={"rename_columns": {"awards_won": "awards_won?"}})
    renamed = validate_table(employees.rename(columns={"awards_won?": "awards_won"}), schema)
    assert "awards_won?" in renamed.columns and renamed.attrs["source"] == employees.attrs["source"]


def test_fill_missing_values(employees, typed):
    filled = fill_missing_values(employees, typed["cleaning"])
    assert filled[["previous_year_rating", "education"]].notna().all().all()
    newly_rated = employees.previous_year_rating.isna()
    assert (filled.loc[newly_rated, "previous_year_rating"] == 0).all()
    assert (filled.loc[employees.education.isna(), "education"] == "other").all()


def test_drop_columns_removes_gender_and_weak_columns(employees, typed):
    kept = drop_columns(employees, typed["cleaning"])
    assert not {"employee_id", "gender", "age", "no_of_trainings", "length_of_service"} & set(kept.columns)


def test_encode_ordinal_maps_study_levels(typed):
    table = pd.DataFrame({"education": ["other", "Below Secondary", "Bachelor's", "Master's & above"]})
    encoded = encode_ordinal(table, typed["encoding"])
    assert encoded.education.tolist() == [0, 1, 2, 3]


def test_encode_ordinal_rejects_unknown_level(typed):
    table = pd.DataFrame({"education": ["PhD"]})
    with pytest.raises(InvalidTableError, match=r"'education'.*PhD"):
        encode_ordinal(table, typed["encoding"])


def test_encode_flags_builds_is_referred(typed):
    table = pd.DataFrame({"recruitment_channel": ["referred", "other", "sourcing"]})
    encoded = encode_flags(table, typed["encoding"])
    assert encoded.columns.tolist() == ["is_referred"] and encoded.is_referred.tolist() == [1, 0, 0]


def test_one_hot_encode_gives_integer_dummies():
    table = pd.DataFrame({"department": ["HR", "Legal", "HR"], "x": [1, 2, 3]})
    encoded = one_hot_encode(table, Encoding(one_hot=["department"]))
    assert encoded.columns.tolist() == ["x", "department_HR", "department_Legal"]
    assert all(pd.api.types.is_integer_dtype(encoded[c]) for c in encoded)


def _features(employees, typed):
    table = fill_missing_values(employees, typed["cleaning"])
    table = drop_columns(table, typed["cleaning"])
    table = encode_ordinal(table, typed["encoding"])
    table = encode_flags(table, typed["encoding"])
    return one_hot_encode(table, typed["encoding"])


@pytest.mark.parametrize("stratify", [True, False])
def test_split_is_seeded_and_sized(employees, typed, stratify):
    features = _features(employees, typed)
    split = typed["split"].model_copy(update={"stratify": stratify})
    first = split_train_test(features, typed["schema"], split)
    second = split_train_test(features, typed["schema"], split)
    assert len(first[1]) == 100 and len(first[0]) == 300
    assert first[0].index.equals(second[0].index)
    assert "is_promoted" not in first[0].columns and first[2].columns.tolist() == ["is_promoted"]


def test_reducer_is_fitted_on_training_part_and_keeps_90_percent(employees, typed):
    features = _features(employees, typed)
    x_train, x_test, _, _ = split_train_test(features, typed["schema"], typed["split"])
    reducer = fit_feature_reducer(x_train, typed["reduction"])
    scaled = reducer.named_steps["scale"].transform(x_train)
    assert np.isclose(scaled.min(), 0) and np.isclose(scaled.max(), 1)
    summary = summarise_feature_space(x_train, reducer)
    assert summary["explained_variance"] >= 0.90
    assert summary["n_components"] == reducer.transform(x_test).shape[1] < summary["n_features"]
