"""Typed parameters of reporting: the EDA figures, how models are ranked, and the report's titles and labels.

``reporting.published`` (the study's numbers) is data, passed as it is. The rows of the LeNet variant table are the
image models whose architecture is ``lenet`` (``promotion_cnn.model_lists``), not a parameter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promotion_cnn.params import Params


class PairPlot(Params):
    """The numeric pair plot of the study's Appendix A."""

    columns: list[str] = Field(min_length=1, description="Numeric columns plotted against each other.")
    sample_size: int = Field(gt=0, description="Seeded sample: a pair plot of every row is slow and unreadable.")
    random_state: int = Field(description="Seed of the sample.")


class Eda(Params):
    """The exploratory figures and tables of the employee table (``reporting.eda``)."""

    target: str = Field(description="The 0/1 target column.")
    numeric_columns: list[str] = Field(description="Columns of the correlation figure.")
    categorical_columns: list[str] = Field(description="Columns of the count figures and promotion-rate table.")
    pair_plot: PairPlot = Field(description="The pair plot's columns and sample.")


class Comparison(Params):
    """Which metrics are compared and how models are ranked (``reporting.comparison``)."""

    tabular_metrics: list[str] = Field(min_length=1, description="Test metrics compared with the study's.")
    tabular_rank_by: list[str] = Field(min_length=1, description="Ranking of tabular models: first key, then ties.")
    image_metrics: list[str] = Field(min_length=1, description="Validation metrics compared with the study's.")
    image_rank_by: str = Field(description="The metric the best image model is chosen by.")
    no_difference: list[str] = Field(default=[], description="Metrics shown without a difference to the study.")


class Task(Params):
    """A report section: its title and the command producing its inputs."""

    title: str = Field(min_length=1, description="Section title.")
    run: str = Field(min_length=1, description="The command that produces the section's inputs.")


class Report(Params):
    """The HTML and markdown report (``reporting.report``)."""

    title: str = Field(min_length=1, description="The report's title.")
    tasks: dict[Literal["eda", "tabular", "image"], Task] = Field(description="Section titles and commands.")
    figure_labels: dict[str, dict[str, str]] = Field(
        description="Per section or model: figure -> where it stands in the study (e.g. Fig. 3)."
    )
    not_ranked: list[str] = Field(
        default=["threshold"],
        description="Comparison-table metrics that are not scores: their best value is not highlighted.",
    )
    lower_is_better: list[str] = Field(
        default=[], description="Comparison-table metrics whose best value is the lowest (losses, errors)."
    )
