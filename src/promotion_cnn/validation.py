"""Dataset contracts checked by Kedro's catalog ``validator:`` mechanism, and the hook that names their files.

A catalog entry declares its contract::

    employees_raw:
      type: pandas.CSVDataset
      filepath: ...
      validator:
        class: promotion_cnn.validation.TableContract
        options: {schema: promotion_cnn.validation.employee_table}

``schema`` is a pandera ``DataFrameModel`` (fixed contracts: ``FeatureTable``, ``TargetTable``) or a function
building pandera schemas from the parameters (``employee_table``, ``table_to_score``: columns from
``employees_schema``, value ranges and their severity from ``employee_contract``). ``ContractHook`` gives each
declared contract the parameters and the dataset's file, and checks the run's input tables before any node runs.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pandas as pd
import pandera.pandas as pa
from kedro.framework.hooks import hook_impl
from kedro.utils import load_obj
from kedro.validation.core import ValidatorSpec, resolve_validator
from kedro.validation.exceptions import CheckFailure, DataValidationError, ParameterValidationError
from pandera.errors import SchemaError, SchemaErrors
from pydantic import ValidationError

from promotion_cnn.params import ColumnBounds, EmployeeContract, EmployeesSchema

logger = logging.getLogger(__name__)

CONTRACT_CLASS = f"{__name__}.TableContract"
CONTRACT_PARAMETERS = ("employees_schema", "employee_contract", "promotion_scoring")
_EXAMPLES = 5


class ContractError(DataValidationError):
    """A table breaking its contract; the message names the dataset, its file, the columns, checks and rows."""

    def __init__(self, message: str, *, source: str | None, validator: str, failures: list[CheckFailure]) -> None:
        super().__init__(message, validator=validator, failures=failures)
        self.source = source

    def __str__(self) -> str:
        header, _, rest = super().__str__().partition("\n")
        if self.source:
            header = f"{header}, file {self.source}"
        return f"{header}\n{rest}" if rest else header


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _fmt(value: float) -> str:
    return f"{value:g}"


def _bounds_checks(column: str, bounds: ColumnBounds) -> list[pa.Check]:
    """Pandera checks of one column's plausible values (empty and non-numeric cells are left to other checks)."""
    checks = []
    if not bounds.allow_empty:
        checks.append(pa.Check(lambda s: s.notna(), name="not_empty", ignore_na=False))
    low, high = bounds.min, bounds.max
    if low is not None or high is not None:
        low_, high_ = -float("inf") if low is None else low, float("inf") if high is None else high
        name = f"between({_fmt(low)}, {_fmt(high)})" if low is not None and high is not None else None
        name = name or (f"at_least({_fmt(low)})" if low is not None else f"at_most({_fmt(high)})")
        checks.append(pa.Check(lambda s: ~_numbers(s).notna() | _numbers(s).between(low_, high_), name=name))
    if bounds.allowed is not None:
        allowed = list(bounds.allowed)
        name = f"one_of({', '.join(map(_fmt, allowed))})"
        checks.append(pa.Check(lambda s: ~_numbers(s).notna() | _numbers(s).isin(allowed), name=name))
    return checks


def _not_above(column: str, other: str) -> pa.Check:
    """Row check: ``column`` is not above ``other`` (either one empty or absent: not checked here)."""

    def check(table: pd.DataFrame) -> pd.Series:
        if column not in table or other not in table:
            return pd.Series(True, index=table.index)
        return ~(_numbers(table[column]) > _numbers(table[other]))

    return pa.Check(check, name=f"{column}_not_above_{other}")


def _employee_schemas(
    parameters: dict[str, Any], required: list[str], target: str | None
) -> dict[str, pa.DataFrameSchema]:
    """The error and warn schemas of an employee table: columns, numbers, unique ids, target, value ranges."""
    schema = EmployeesSchema.model_validate(parameters["employees_schema"])
    contract = EmployeeContract.model_validate(parameters["employee_contract"])
    checks: dict[str, dict[str, list[pa.Check]]] = {"error": {}, "warn": {}}
    for column in schema.numeric_columns:
        checks["error"].setdefault(column, []).append(
            pa.Check(lambda s: s.isna() | _numbers(s).notna(), name="numeric")
        )
    if target:
        checks["error"][target] = [
            pa.Check(lambda s: s.notna(), name="not_empty", ignore_na=False),
            pa.Check(lambda s: _numbers(s).isin([0, 1]) | s.isna(), name="one_of(0, 1)"),
            pa.Check(lambda s: s.dropna().nunique() >= 2 or s.dropna().empty, name="two_classes"),
        ]
    frame_checks: dict[str, list[pa.Check]] = {"error": [pa.Check(lambda t: len(t) > 0, name="at_least_one_row")]}
    frame_checks["warn"] = []
    for column, bounds in contract.columns.items():
        checks[bounds.severity].setdefault(column, []).extend(_bounds_checks(column, bounds))
        if bounds.not_above:
            frame_checks[bounds.severity].append(_not_above(column, bounds.not_above))
    wanted = {*required, *([target] if target else [])}
    schemas = {}
    for severity in ("error", "warn"):
        columns = {
            column: pa.Column(
                checks=column_checks,
                nullable=True,
                required=column in wanted and severity == "error",
                unique=column in schema.unique_columns and severity == "error",
            )
            for column, column_checks in checks[severity].items()
        }
        if severity == "error":
            for column in {*wanted, *schema.unique_columns} - set(columns):
                columns[column] = pa.Column(
                    nullable=True, required=column in wanted, unique=column in schema.unique_columns
                )
        schemas[severity] = pa.DataFrameSchema(columns, checks=frame_checks[severity])
    return schemas


def employee_table(parameters: dict[str, Any]) -> dict[str, pa.DataFrameSchema]:
    """Contract of the training table (``employees_raw``): every required column and the 0/1 target."""
    schema = parameters["employees_schema"]
    return _employee_schemas(parameters, list(schema["required_columns"]), schema["target"])


def table_to_score(parameters: dict[str, Any]) -> dict[str, pa.DataFrameSchema]:
    """Contract of the table to score (``employees_to_score``): no target, ``optional_columns`` not required."""
    optional = set(parameters["promotion_scoring"].get("optional_columns") or [])
    required = [c for c in parameters["employees_schema"]["required_columns"] if c not in optional]
    return _employee_schemas(parameters, required, None)


class FeatureTable(pa.DataFrameModel):
    """Model input features: at least one row, every column a number (no empty cell) or a category."""

    @pa.dataframe_check(name="at_least_one_row")
    def _rows(cls, table: pd.DataFrame) -> bool:
        return len(table) > 0

    @pa.dataframe_check(name="numeric_or_category")
    def _types(cls, table: pd.DataFrame) -> pd.Series:
        kinds = table.dtypes.map(lambda d: isinstance(d, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(d))
        return pd.DataFrame({c: [bool(kinds[c])] * len(table) for c in table.columns}, index=table.index)

    @pa.dataframe_check(name="no_empty_number", ignore_na=False)
    def _filled(cls, table: pd.DataFrame) -> pd.DataFrame:
        numbers = table.select_dtypes("number")
        return numbers.notna().reindex(columns=table.columns, fill_value=True)


class TargetTable(pa.DataFrameModel):
    """Model input target: one column of 0/1 integer labels, at least one row."""

    labels: pa.typing.Series[int] = pa.Field(isin=[0, 1], alias=".+", regex=True)

    @pa.dataframe_check(name="one_column")
    def _one_column(cls, table: pd.DataFrame) -> bool:
        return table.shape[1] == 1

    @pa.dataframe_check(name="at_least_one_row")
    def _rows(cls, table: pd.DataFrame) -> bool:
        return len(table) > 0


def _frame_check_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """A table-level check reports every column of a failing row: keep the column the check is about, once a row."""
    subject = cases["check"].astype(str).str.split("_not_above_").str[0]
    about = cases[cases["column"] == subject]
    if not about.empty:
        return about
    return cases.drop_duplicates(subset=["check", "index"]).assign(column=None)


def _failures(error: SchemaErrors | SchemaError) -> list[CheckFailure]:
    """One failure per (column, check), with the count and a few ``row <label>: <value>`` examples."""
    cases = getattr(error, "failure_cases", None)
    if not isinstance(cases, pd.DataFrame) or cases.empty:
        return [CheckFailure(message=str(error))]
    cases = cases.astype({"column": "object", "check": "str"})
    frame = (cases["schema_context"] == "DataFrameSchema") & (cases["check"] != "column_in_dataframe")
    cases = pd.concat([cases[~frame], *(_frame_check_cases(g) for _, g in cases[frame].groupby("check"))])
    failures = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        if check == "column_in_dataframe":
            missing = group["failure_case"].astype(str).tolist()
            failures.append(
                CheckFailure(message="required column missing", column=", ".join(missing), failure_count=len(missing))
            )
            continue
        if check == "at_least_one_row":
            failures.append(CheckFailure(message="no rows", check="at_least_one_row: the table is empty"))
            continue
        examples = [
            f"row {index}: {value!r}" if pd.notna(index) else repr(value)
            for index, value in zip(group["index"], group["failure_case"], strict=True)
        ][:_EXAMPLES]
        failures.append(
            CheckFailure(
                message=f"check {check} failed",
                check=check,
                column=None if column is None or pd.isna(column) else str(column),
                failure_count=len(group),
                failure_examples=examples,
            )
        )
    return failures


def _run(schema: pa.DataFrameSchema | type[pa.DataFrameModel], table: pd.DataFrame) -> list[CheckFailure]:
    try:
        schema.validate(table, lazy=True)
    except (SchemaErrors, SchemaError) as error:
        return _failures(error)
    return []


class TableContract:
    """Kedro validator checking a table against a pandera contract; failures name the file, column, check, rows."""

    def __init__(self, schema: str, source: str | None = None, parameters: dict[str, Any] | None = None) -> None:
        self.schema_path, self.source, self.parameters = schema, source, parameters
        self._schemas: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"TableContract({self.schema_path})"

    def _resolve(self) -> dict[str, Any]:
        if self._schemas is None:
            schema = load_obj(self.schema_path)
            if isinstance(schema, type) and issubclass(schema, pa.DataFrameModel):
                self._schemas = {"error": schema, "warn": None}
            elif self.parameters is None:
                raise ValueError(f"contract {self.schema_path} needs the parameters {list(CONTRACT_PARAMETERS)}")
            else:
                self._schemas = schema(self.parameters)
        return self._schemas

    def validate(self, data: pd.DataFrame) -> pd.DataFrame:
        """Raise ``ContractError`` on an error-level failure, log warn-level ones; return ``data`` unchanged."""
        schemas = self._resolve()
        table = data
        renames = (self.parameters or {}).get("employees_schema", {}).get("rename_columns") or {}
        renames = {old: new for old, new in renames.items() if old in table.columns}
        if renames:
            table = table.rename(columns=renames)
        failures = _run(schemas["error"], table)
        if failures:
            raise ContractError(
                f"Validation failed against {self.schema_path}",
                source=self.source,
                validator=self.schema_path,
                failures=failures,
            )
        if schemas["warn"] is not None:
            for failure in _run(schemas["warn"], table):
                logger.warning(
                    "%s: %d row(s) fail %s on column '%s' (severity warn, kept), e.g. %s",
                    self.source or "table",
                    failure.failure_count,
                    failure.check,
                    failure.column,
                    ", ".join(map(str, failure.failure_examples)),
                )
        return data


def _plain(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def _describe_source(catalog: Any, name: str) -> str:
    description = catalog.get(name)._describe()
    where = description.get("filepath") or description.get("path")
    return f"{where}" if where else f"(no file: {description.get('type', type(catalog.get(name)).__name__)})"


class ContractHook:
    """Give declared ``TableContract`` validators the parameters and the file; check the run's inputs first."""

    def __init__(self, defaults: dict[str, str] | None = None) -> None:
        self._defaults = defaults or {}  # dataset -> contract, for an entry overridden without `validator:`
        self._parameters: dict[str, Any] = {}

    @hook_impl
    def after_catalog_created(self, catalog: Any, parameters: dict[str, Any]) -> None:
        self._parameters = {
            name: _plain(parameters[f"params:{name}"]) for name in CONTRACT_PARAMETERS if f"params:{name}" in parameters
        }
        try:  # a bad bound stops the run here, as a bad node parameter does
            EmployeeContract.model_validate(self._parameters.get("employee_contract"))
        except ValidationError as error:
            raise ParameterValidationError(
                f"Parameter validation failed:\n- Parameter 'employee_contract': {error}"
            ) from error
        self._configure(catalog, [*catalog.validator_specs, *self._defaults])  # catalog.load works outside runs too

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        names = [n for n in sorted(pipeline.datasets()) if not n.startswith("params:") and n != "parameters"]
        specs = self._configure(catalog, names)
        inputs = set(pipeline.inputs())
        for name, spec in specs.items():
            if name in inputs and "load" in spec.on and spec.enabled and catalog._is_validation_enabled():
                self._check_input(catalog, name, spec)

    def _configure(self, catalog: Any, names: list[str]) -> dict[str, ValidatorSpec]:
        """Add the parameters and the file to the contracts of ``names`` (a default contract if none declared)."""
        specs = {}
        for name in names:
            if name not in catalog:
                continue
            catalog.get(name)  # a factory entry records its validator when it is materialised
            spec = catalog.validator_specs.get(name)
            if spec is None and name in self._defaults:
                logger.info("Dataset '%s' declares no validator: checking it against %s", name, self._defaults[name])
                spec = ValidatorSpec(CONTRACT_CLASS, on=("load",), options={"schema": self._defaults[name]})
            if spec is None or spec.class_path != CONTRACT_CLASS:
                continue
            options = {**spec.options, "source": _describe_source(catalog, name), "parameters": self._parameters}
            specs[name] = dataclasses.replace(spec, options=options)
            catalog._validator_specs[name] = specs[name]  # no public setter; workers rebuild validators from specs
            catalog._validators.pop(name, None)
        return specs

    @staticmethod
    def _check_input(catalog: Any, name: str, spec: Any) -> None:
        """Validate an input table before any node runs; its load then skips the second, identical check."""
        try:
            resolve_validator(spec).validate(catalog.get(name).load())
        except DataValidationError as error:
            error.dataset_name, error.mode = name, "load"
            if spec.severity == "error":
                raise
            logger.warning(str(error))
        catalog._validator_specs[name] = dataclasses.replace(spec, on=tuple(m for m in spec.on if m != "load"))
