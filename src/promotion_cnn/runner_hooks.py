"""Make the catalog's declared MemoryDatasets and CachedDatasets work under ParallelRunner (Kedro shares only its own)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, CachedDataset, MemoryDataset, SharedMemoryDataset
from kedro.io.data_catalog import SharedMemoryDataCatalog

logger = logging.getLogger(__name__)


class SharedCachedDataset(SharedMemoryDataset):
    """``CachedDataset`` for ParallelRunner: saves to the wrapped dataset and to memory shared between processes."""

    def __init__(self, dataset: AbstractDataset):
        super().__init__()
        self._wrapped = dataset

    def save(self, data: Any) -> None:
        """Save to the wrapped dataset (the file) and to shared memory."""
        self._wrapped.save(data)
        super().save(data)

    def load(self) -> Any:
        """The shared copy if this run saved one, else the wrapped dataset's data."""
        return super().load() if super()._exists() else self._wrapped.load()

    def _exists(self) -> bool:
        return super()._exists() or self._wrapped.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._wrapped._describe()}


def share_memory_datasets(catalog: SharedMemoryDataCatalog, names: set[str]) -> list[str]:
    """Make the MemoryDatasets and CachedDatasets among ``names`` (node outputs) shared; the runner sets their manager."""
    shared = []
    catalog_logger = logging.getLogger("kedro.io.data_catalog")
    level = catalog_logger.level
    catalog_logger.setLevel(logging.ERROR)  # one "Replacing dataset" warning per dataset: the summary below says it
    try:
        for name in sorted(names):
            dataset = catalog.get(name) if name in catalog else None
            if type(dataset) is MemoryDataset:
                catalog[name] = SharedMemoryDataset()
            elif isinstance(dataset, CachedDataset):  # Kedro refuses CachedDatasets under ParallelRunner
                catalog[name] = SharedCachedDataset(dataset._dataset)
            else:
                continue
            shared.append(name)
    finally:
        catalog_logger.setLevel(level)
    return shared


class ShareMemoryDatasetsHook:
    """Under ParallelRunner, declared MemoryDatasets (``candidate_{family}``,
    ``{arch}.untrained_model`` ...) and the report's cached figures pass between worker processes like Kedro's
    implicit datasets; other runners keep them in memory, uncopied."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not isinstance(catalog, SharedMemoryDataCatalog):
            return
        shared = share_memory_datasets(catalog, set(pipeline.all_outputs()))
        if shared:
            logger.info("ParallelRunner: %d memory dataset(s) shared between processes: %s", len(shared), shared)
