"""Make the catalog's declared MemoryDatasets work under ParallelRunner (Kedro shares only its implicit ones)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset, SharedMemoryDataset
from kedro.io.data_catalog import SharedMemoryDataCatalog

logger = logging.getLogger(__name__)


def share_memory_datasets(catalog: SharedMemoryDataCatalog, names: set[str]) -> list[str]:
    """Replace the plain MemoryDatasets among ``names`` (node outputs) by SharedMemoryDatasets, given the runner's manager."""
    shared = []
    for name in sorted(names):
        if name in catalog and type(catalog.get(name)) is MemoryDataset:
            catalog[name] = SharedMemoryDataset()
            shared.append(name)
    return shared


class ShareMemoryDatasetsHook:
    """Under ParallelRunner, declared MemoryDatasets (``{family}.fitted_variants``, ``candidate_{family}``,
    ``{arch}.untrained_model`` ...) pass between worker processes like Kedro's implicit ones; other runners keep
    them in memory, uncopied."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not isinstance(catalog, SharedMemoryDataCatalog):
            return
        shared = share_memory_datasets(catalog, set(pipeline.all_outputs()))
        if shared:
            logger.info("ParallelRunner: %d memory dataset(s) shared between processes: %s", len(shared), shared)
