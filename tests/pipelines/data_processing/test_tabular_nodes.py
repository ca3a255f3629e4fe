"""Unit tests of the tabular data_processing nodes."""

import numpy as np
import pandas as pd
import pytest

from promotion_cnn.datasets import generate_employees
from promotion_cnn.params import Cleaning, EmployeesSchema, Encoding
from promotion_cnn.pipelines.data_processing.params import Reduction, Split
from promotion_cnn.pipelines.data_processing.tabular_nodes import (
    fit_feature_reducer,
    minimum_rows_per_class,
    split_train_test,
    summarise_feature_space,
)
from promotion_cnn.tabular.features import (
    drop_columns,
    encode_flags,
    encode_ordinal,
    fill_missing_values,
    one_hot_encode,
)
from promotion_cnn.tabular.tables import InvalidTableError, TooFewRowsError, validate_table


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


def _rows(employees: pd.DataFrame, positives: int, negatives: int) -> pd.DataFrame:
    table = pd.concat(
        [employees[employees.is_promoted == 1].head(positives), employees[employees.is_promoted == 0].head(negatives)]
    )
    table.attrs = employees.attrs
    return table


def test_ten_rows_are_too_few_for_the_protocol(employees, typed):
    features = _features(_rows(employees, 1, 9), typed)
    features.attrs = employees.attrs  # as the DataSourceHook tags each loaded table
    message = (
        r"employees\.csv\): too few rows for the tabular protocol: 10 row\(s\), 1 with is_promoted = 1 and 9 with "
        r"is_promoted = 0; the 75%/25% train/test split \(split.test_size\) and 3-fold cross-validation "
        r"\(tabular_protocol.cv_folds\) need at least 4 rows of each class"
    )
    with pytest.raises(TooFewRowsError, match=message):
        split_train_test(features, typed["schema"], typed["split"], 3)


@pytest.mark.parametrize(("cv_folds", "needed"), [(0, 4), (2, 4), (3, 4), (5, 7), (10, 14)])
def test_the_minimum_rows_per_class_split_as_needed(employees, typed, cv_folds, needed):
    assert minimum_rows_per_class(0.25, cv_folds) == needed
    features = _features(_rows(employees, needed, 3 * needed), typed)
    _, _, y_train, y_test = split_train_test(features, typed["schema"], typed["split"], cv_folds)
    assert y_test.is_promoted.sum() >= 1 and y_train.is_promoted.sum() >= max(cv_folds, 1)
    with pytest.raises(TooFewRowsError, match=f"need at least {needed} rows of each class"):
        split_train_test(_features(_rows(employees, needed - 1, 30), typed), typed["schema"], typed["split"], cv_folds)


def test_reducer_is_fitted_on_training_part_and_keeps_90_percent(employees, typed):
    features = _features(employees, typed)
    x_train, x_test, _, _ = split_train_test(features, typed["schema"], typed["split"])
    reducer = fit_feature_reducer(x_train, typed["reduction"])
    scaled = reducer.named_steps["scale"].transform(x_train)
    assert np.isclose(scaled.min(), 0) and np.isclose(scaled.max(), 1)
    summary = summarise_feature_space(x_train, reducer)
    assert summary["explained_variance"] >= 0.90
    assert summary["n_components"] == reducer.transform(x_test).shape[1] < summary["n_features"]
