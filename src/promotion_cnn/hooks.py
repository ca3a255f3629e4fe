"""Project hooks: name the source of bad input, and never keep a failed run's versioned outputs."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog

logger = logging.getLogger(__name__)


class DataSourceHook:
    """Tag each loaded table with where it came from (once: pandas carries ``attrs`` through), so errors name the file."""

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        if not isinstance(data, pd.DataFrame) or self._catalog is None:
            return
        if "source" in data.attrs:  # derived tables keep naming the input they came from
            return
        description = self._catalog.get(dataset_name)._describe()
        where = description.get("filepath") or description.get("path")
        data.attrs["source"] = f"dataset '{dataset_name}'" + (f" ({where})" if where else "")


class RollbackVersionsHook:
    """When a run fails, delete the versions it saved, so the latest versions stay the last good run's."""

    def __init__(self) -> None:
        self._saved: list[AbstractVersionedDataset] = []
        self._catalog: DataCatalog | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: DataCatalog) -> None:
        self._saved, self._catalog = [], catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        if isinstance(dataset, AbstractVersionedDataset) and dataset.resolve_save_version():
            self._saved.append(dataset)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        for dataset in self._saved:
            version_dir = str(dataset._get_versioned_path(dataset.resolve_save_version()).parent)
            dataset._fs.rm(version_dir, recursive=True)
            logger.warning("Run failed: removed its partial output version %s", version_dir)
        self._saved = []
