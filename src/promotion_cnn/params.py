"""Typed parameter blocks shared by several pipelines (and by the dataset contracts in ``validation.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Params(BaseModel):
    """Base of every parameter block: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmployeesSchema(Params):
    """The employee table's columns (``employees_raw`` and, without the target, ``employees_to_score``)."""

    required_columns: list[str] = Field(min_length=1, description="Columns the table must have.")
    numeric_columns: list[str] = Field(description="Columns that must hold numbers (empty cells allowed).")
    target: str = Field(description="The 0/1 target column (training table only).")
    unique_columns: list[str] = Field(default=[], description="Columns whose values must not repeat (the id).")
    rename_columns: dict[str, str] = Field(
        default={}, description="Your column name -> the schema's, e.g. {awards_won: 'awards_won?'}."
    )


class ColumnBounds(Params):
    """Plausible values of one numeric column, and what a value outside them does."""

    min: float | None = Field(default=None, description="Smallest plausible value (inclusive); null: no bound.")
    max: float | None = Field(default=None, description="Largest plausible value (inclusive); null: no bound.")
    allowed: list[float] | None = Field(default=None, description="The only values allowed, e.g. [0, 1] for flags.")
    not_above: str | None = Field(default=None, description="Another column this one may not exceed (per row).")
    allow_empty: bool = Field(default=False, description="Whether an empty cell is allowed.")
    severity: Literal["error", "warn"] = Field(
        default="error", description="error: stop the run; warn: log the count and a few rows, keep going."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ColumnBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class EmployeeContract(Params):
    """Value ranges checked when an employee table loads (catalog ``validator:``), per column."""

    columns: dict[str, ColumnBounds] = Field(description="Column name -> its plausible values.")


class Cleaning(Params):
    """Cleaning of the employee table (``cleaning``; ``full_features.cleaning`` for the full feature set)."""

    fill_values: dict[str, str | int | float] = Field(
        default={}, description="Column -> value for its empty cells (the study: previous_year_rating 0)."
    )
    drop_columns: list[str] = Field(default=[], description="Columns dropped (identifier, protected, weak).")
    keep_columns: list[str] | None = Field(
        default=None, description="The features, in table order; other columns are ignored. null: keep all."
    )


class Flag(Params):
    """A 0/1 flag replacing a categorical column: 1 where ``column`` equals ``equals``."""

    column: str = Field(description="The categorical column replaced by the flag.")
    equals: str = Field(description="The level flagged 1.")


class Encoding(Params):
    """Encoding of the cleaned table (``encoding``; ``full_features.encoding`` for the full feature set)."""

    ordinal: dict[str, dict[str, int]] = Field(default={}, description="Column -> level -> integer.")
    flags: dict[str, Flag] = Field(default={}, description="Flag name -> the column and level it flags.")
    categorical: list[str] = Field(default=[], description="Columns given the pandas category dtype.")
    one_hot: list[str] = Field(default=[], description="Columns one-hot encoded as 0/1 integer columns.")


class AgeBands(Params):
    """Age as a protected attribute: bands of a numeric column, each compared with a reference band."""

    column: str = Field(description="The numeric column to band (age).")
    edges: list[int] = Field(min_length=2, description="Band edges: [18, 30, ...] gives bands 18-29, 30-39, ...")
    reference_group: str = Field(description="The band others are compared with, e.g. 30-39.")

    @model_validator(mode="after")
    def _ascending(self) -> AgeBands:
        if sorted(set(self.edges)) != self.edges:
            raise ValueError(f"edges must be strictly ascending, got {self.edges}")
        return self


class Fairness(Params):
    """The fairness audit of every family on the test part (``fairness``)."""

    attribute: str = Field(description="Protected attribute, never a feature: looked up for the test rows.")
    reference_group: str = Field(description="Disparate impact = a group's selection rate / this group's.")
    disparate_impact_bounds: tuple[float, float] = Field(
        description="Outside these: flagged (the four-fifths rule, both ways); protected attributes only."
    )
    age_bands: AgeBands | None = Field(default=None, description="Age bands, audited and flagged as protected.")
    proxies: list[str] = Field(default=[], description="Possible proxies (region, department): reported, not flagged.")

    @model_validator(mode="after")
    def _bounds(self) -> Fairness:
        low, high = self.disparate_impact_bounds
        if not 0 < low <= high:
            raise ValueError(f"disparate_impact_bounds must be 0 < low <= high, got {[low, high]}")
        return self
