"""The catalog's table contracts (``promotion_cnn.validation``): what each rejects, warns about and names."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.validation.exceptions import DataValidationError, ParameterValidationError

from promotion_cnn.datasets import SyntheticEmployeesDataset, generate_employees
from promotion_cnn.validation import (
    ContractError,
    FeatureTable,
    TableContract,
    _checks_directly,
    employee_table,
    table_to_score,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

SOURCE = "data/01_raw/employees.csv"


@pytest.fixture
def employees() -> pd.DataFrame:
    return generate_employees(400, seed=7)


def _contract(params: dict, schema: str = "employee_table", **contract_columns) -> TableContract:
    """The contract as the catalog declares it, with ``employee_contract.columns`` entries overridden."""
    columns = {**params["employee_contract"]["columns"], **contract_columns}
    parameters = {**params, "employee_contract": {"columns": columns}}
    return TableContract(f"promotion_cnn.validation.{schema}", source=SOURCE, parameters=parameters)


def _error(contract: TableContract, table: pd.DataFrame) -> str:
    with pytest.raises(ContractError) as error:
        contract.validate(table)
    error.value.dataset_name, error.value.mode = "employees_raw", "load"
    return " ".join(str(error.value).split())


def test_generated_and_real_shaped_tables_pass_unchanged(employees, project_params):
    assert _contract(project_params).validate(employees) is employees
    to_score = SyntheticEmployeesDataset(n_rows=300, seed=3, include_target=False).load().drop(columns="gender")
    assert _contract(project_params, "table_to_score").validate(to_score) is to_score


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        (lambda t: t.drop(columns="avg_training_score"), r"avg_training_score: required column missing"),
        (
            lambda t: t.astype({"age": "object"}).assign(age=lambda d: d.age.where(d.index != 5, "thirty")),
            r"age: numeric — 1 case \(e\.g\. row 5: 'thirty'\)",
        ),
        (lambda t: t.iloc[0:0], r"at_least_one_row: the table is empty"),
        (lambda t: t.assign(is_promoted=t.is_promoted.replace(1, 2)), r"is_promoted: one_of\(0, 1\)"),
        (lambda t: t.assign(is_promoted=np.nan), r"is_promoted: not_empty"),
        (lambda t: t.assign(is_promoted=0), r"is_promoted: two_classes"),
        (
            lambda t: t.assign(employee_id=t.employee_id.where(t.index != 9, t.employee_id[2])),
            r"employee_id: field_uniqueness — 2 cases",
        ),
        (
            lambda t: t.assign(age=t.age.where(t.index != 3, -5)),
            r"age: between\(16, 80\) — 1 case \(e\.g\. row 3: -5\)",
        ),
        (
            lambda t: t.assign(previous_year_rating=t.previous_year_rating.where(t.index != 7, 9)),
            r"previous_year_rating: between\(1, 5\) — 1 case \(e\.g\. row 7: 9\.0\)",
        ),
        (
            lambda t: t.assign(length_of_service=t.age.where(t.index != 4, 99) * 0 + t.age + (t.index == 4)),
            r"length_of_service: length_of_service_not_above_age — 1 case \(e\.g\. row 4: ",
        ),
        (lambda t: t.assign(avg_training_score=101), r"avg_training_score: between\(0, 100\) — 400 cases"),
        (lambda t: t.assign(**{"awards_won?": 2}), r"awards_won\?: one_of\(0, 1\)"),
        (lambda t: t.assign(no_of_trainings=0), r"no_of_trainings: between\(1, 100\)"),
    ],
    ids=[
        "missing-column",
        "non-numeric",
        "empty",
        "target-not-0-1",
        "target-empty",
        "target-one-class",
        "duplicate-id",
        "age-minus-5",
        "rating-9",
        "service-above-age",
        "training-score",
        "flag",
        "trainings",
    ],
)
def test_a_broken_table_is_rejected_naming_dataset_file_column_and_rows(employees, project_params, corruption, message):
    text = _error(_contract(project_params), corruption(employees))
    assert text.startswith(f"Validation failed for dataset 'employees_raw' on load, file {SOURCE}"), text
    assert pd.Series([text]).str.contains(message).all(), text


def test_a_passing_table_is_decided_by_the_checks_alone_a_failing_one_named_by_pandera(
    employees, project_params, monkeypatch
):
    validated = []
    validate = pa.DataFrameSchema.validate
    monkeypatch.setattr(
        pa.DataFrameSchema, "validate", lambda self, *a, **k: validated.append(1) or validate(self, *a, **k)
    )
    contract = _contract(project_params, "table_to_score", age={"min": 16, "max": 80, "severity": "warn"})
    assert contract.validate(employees.head(1)) is not None and contract.validate(employees) is employees
    assert validated == []  # the same check functions, run directly: no pandera bookkeeping (~1 ms a check)
    assert "between(0, 100) — 1 case" in _error(contract, employees.head(1).assign(avg_training_score=101))
    assert validated == [1]  # pandera decided, and named the row


def test_only_schemas_of_plain_checks_are_decided_without_pandera(project_params):
    for schemas in (employee_table(project_params), table_to_score(project_params)):
        assert _checks_directly(schemas["error"]) and _checks_directly(schemas["warn"])
    assert not _checks_directly(FeatureTable)
    for unsupported in (
        pa.DataFrameSchema({"a": pa.Column(int)}),  # a dtype
        pa.DataFrameSchema({"a": pa.Column(nullable=False)}),
        pa.DataFrameSchema({"a": pa.Column(checks=pa.Check(lambda v: v > 0, element_wise=True))}),
        pa.DataFrameSchema({"a": pa.Column()}, strict=True),
        pa.DataFrameSchema({"a": pa.Column()}, coerce=True),
    ):
        assert not _checks_directly(unsupported), unsupported


def test_empty_rating_is_allowed_but_empty_age_is_not(employees, project_params):
    assert _contract(project_params).validate(employees.assign(previous_year_rating=np.nan)) is not None
    assert "age: not_empty — 1 case (e.g. row 2: nan)" in _error(
        _contract(project_params), employees.assign(age=employees.age.where(employees.index != 2))
    )


def test_warn_severity_logs_the_count_and_rows_and_keeps_the_table(employees, project_params, caplog):
    contract = _contract(project_params, age={"min": 16, "max": 80, "severity": "warn"})
    bad = employees.assign(age=employees.age.where(~employees.index.isin([3, 8]), 85))
    with caplog.at_level(logging.WARNING, logger="promotion_cnn.validation"):
        assert contract.validate(bad) is bad
    assert f"{SOURCE}: 2 row(s) fail between(16, 80) on column 'age' (severity warn, kept)" in caplog.text
    assert "row 3: 85, row 8: 85" in caplog.text


def test_the_table_to_score_needs_no_target_nor_optional_columns(project_params):
    table = SyntheticEmployeesDataset(n_rows=50, seed=3, include_target=False).load()
    contract = _contract(project_params, "table_to_score")
    assert contract.validate(table.drop(columns="gender")) is not None
    assert "region: required column missing" in _error(contract, table.drop(columns="region"))


def test_renamed_columns_are_checked_under_the_schemas_names(employees, project_params):
    params = {**project_params, "employees_schema": {**project_params["employees_schema"]}}
    params["employees_schema"]["rename_columns"] = {"awards_won": "awards_won?"}
    renamed = employees.rename(columns={"awards_won?": "awards_won"})
    assert _contract(params).validate(renamed) is renamed


def test_model_input_contracts(project_params):
    features = TableContract("promotion_cnn.validation.FeatureTable", source="features_train.parquet")
    target = TableContract("promotion_cnn.validation.TargetTable", source="target_train.parquet")
    good = pd.DataFrame({"a": [0.5, 1.0], "b": pd.Categorical(["x", "y"])})
    assert features.validate(good) is good and target.validate(pd.DataFrame({"is_promoted": [0, 1]})) is not None
    assert "no_empty_number" in _error(features, good.assign(a=[np.nan, 1.0]))
    assert "is_promoted: isin([0, 1]) — 1 case (e.g. row 1: 3)" in _error(target, pd.DataFrame({"is_promoted": [0, 3]}))


# ---------- through a Kedro session on a copy of the project: nothing runs before the checks ----------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project's conf with an empty data folder (and the same package)."""
    root = tmp_path_factory.mktemp("project") / "promotion_cnn"
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "src").mkdir()  # bootstrap_project wants one; the package is this checkout's, already imported
    (root / "data").mkdir()
    return root


def _run(project: Path, runtime_params: dict | None = None, table: pd.DataFrame | None = None, **run) -> None:
    """``kedro run`` in-process: optional ``--params`` and a CSV in place of ``employees_raw``."""
    local = project / "conf" / "local" / "catalog.yml"
    local.unlink(missing_ok=True)
    if table is not None:
        table.to_csv(project / "employees.csv", index=False)
        local.write_text(f"employees_raw:\n  type: pandas.CSVDataset\n  filepath: {project / 'employees.csv'}\n")
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=runtime_params) as session:
        session.run(pipeline_names=["tabular_modelling"], **run)


def _written(project: Path) -> list[Path]:
    return sorted(p for p in (project / "data").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"tabular_protocol": {"cv_fold": 2}},
            r"Parameter 'tabular_protocol'.*\ncv_fold\n  Extra inputs are not permitted",
        ),
        (
            {"tabular_protocol": {"parallel_fits": "two"}},
            r"Parameter 'tabular_protocol'.*\nparallel_fits\n  Input should be a valid integer",
        ),
        (
            {"tabular_protocol": {"cv_folds": -1}},
            r"Parameter 'tabular_protocol'.*\ncv_folds\n  Input should be greater than or equal to 0",
        ),
        ({"svm": {"threshold": {"method": "bogus"}}}, r"Parameter 'svm'.*\nthreshold\.method\n  Input should be 'f1'"),
        ({"full_features": {"cleaning": {"fill_value": 0}}}, r"Parameter 'full_features\.cleaning'.*\nfill_value\n"),
        ({"employee_contract": {"columns": {"age": {"min": 90}}}}, r"Parameter 'employee_contract'.*above max"),
    ],
    ids=["misspelt-key", "wrong-type", "impossible-value", "unknown-choice", "namespaced-block", "contract-bounds"],
)
def test_a_bad_parameter_stops_the_run_before_any_node_naming_the_key(project, override, message):
    with pytest.raises(ParameterValidationError) as error:
        _run(project, override)
    assert re.search(message, str(error.value), re.S), str(error.value)
    assert _written(project) == []


def test_age_minus_5_and_rating_9_stop_the_run_before_any_node(project):
    table = generate_employees(200, seed=4)
    table.loc[3, "age"], table.loc[7, "previous_year_rating"] = -5, 9
    with pytest.raises(DataValidationError) as error:
        _run(project, table=table)
    text = str(error.value)
    assert f"Validation failed for dataset 'employees_raw' on load, file {project / 'employees.csv'}" in text
    assert "age: between(16, 80) — 1 case (e.g. row 3: -5)" in text
    assert "previous_year_rating: between(1, 5) — 1 case (e.g. row 7: 9.0)" in text
    assert _written(project) == []


def test_warn_mode_logs_the_rows_and_the_run_goes_on(project, caplog):
    table = generate_employees(200, seed=4)
    table.loc[[3, 8], "age"] = 85
    with caplog.at_level(logging.WARNING, logger="promotion_cnn.validation"):
        _run(
            project,
            {"employee_contract": {"columns": {"age": {"max": 80, "severity": "warn"}}}},
            table,
            node_names=["validate_employees"],
        )
    assert (
        "2 row(s) fail between(16, 80) on column 'age' (severity warn, kept), e.g. row 3: 85, row 8: 85" in caplog.text
    )
    assert caplog.text.count("severity warn") == 1  # checked once, before the nodes, not again on load
    assert pd.read_parquet(project / "data/02_intermediate/employees_validated.parquet").age.max() == 85
