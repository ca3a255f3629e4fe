"""Let the report say what is missing instead of failing on it.

The reporting nodes read the other pipelines' outputs under their real names, so
``kedro run`` orders them after the models and kedro-viz draws the lineage. When a
run includes reporting nodes but not the nodes that produce some of their inputs
(``kedro run --pipeline reporting`` after only the tabular half has run), this hook
wraps each such input in ``OptionalDataset``: a file that does not exist, or a name
no catalog defines yet, loads as ``None`` and the report lists it as missing.

Register it in ``settings.py``::

    from promotion_cnn.pipelines.reporting.hooks import MissingReportInputsHook
    HOOKS = (DataSourceHook(), MissingReportInputsHook())
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from promotion_cnn.datasets.optional import OptionalDataset

logger = logging.getLogger(__name__)


def optional_report_inputs(pipeline: Pipeline, tag: str = "reporting") -> set[str]:
    """Inputs of the tagged nodes that no node of ``pipeline`` produces (parameters excluded)."""
    consumed = {name for node in pipeline.nodes if tag in node.tags for name in node.inputs}
    return {name for name in consumed & pipeline.inputs() if not name.startswith("params:") and name != "parameters"}


def wrap_missing_inputs(catalog: DataCatalog, names: set[str]) -> list[str]:
    """Wrap each named dataset whose data is absent in ``OptionalDataset``; returns those names."""
    absent = []
    for name in sorted(names):
        dataset = catalog.get(name) if name in catalog else None
        if dataset is not None and dataset.exists():
            continue
        if not isinstance(dataset, OptionalDataset):
            catalog[name] = OptionalDataset(dataset, missing_reason=f"'{name}' is not in the catalog")
        absent.append(name)
    return absent


class MissingReportInputsHook:
    """Before a run with reporting nodes, make their absent inputs load as ``None``."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog) -> None:
        absent = wrap_missing_inputs(catalog, optional_report_inputs(pipeline))
        if absent:
            logger.warning("Reporting inputs not found, their report parts will be marked missing: %s",
                           ", ".join(absent))  # fmt: skip
