"""Memory and cached datasets under ParallelRunner: shared between its processes as bytes the saving worker pickled."""

from __future__ import annotations

import logging
import pickle
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, CachedDataset, MemoryDataset, SharedMemoryDataset
from kedro.io.data_catalog import SharedMemoryDataCatalog

logger = logging.getLogger(__name__)


class SharedPickleDataset(SharedMemoryDataset):
    """``SharedMemoryDataset`` whose data the saving worker pickles: the manager process keeps bytes and never
    unpickles, so never imports, Keras or scikit-learn (two workers saving a Keras model at once made it import Keras
    in two threads: ``_DeadlockError``, the run failed)."""

    def save(self, data: Any) -> None:
        """Pickle in this process, keep the bytes in shared memory."""
        super().save(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))

    def load(self) -> Any:
        """The saved data, unpickled in this process."""
        return pickle.loads(super().load())


class SharedCachedDataset(SharedPickleDataset):
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
    """Make the memory and cached datasets among ``names`` (node outputs), declared or implicit, shared as pickled
    bytes; the runner sets their manager."""
    shared = []
    catalog_logger = logging.getLogger("kedro.io.data_catalog")
    level = catalog_logger.level
    catalog_logger.setLevel(logging.ERROR)  # one "Replacing dataset" warning per dataset: the summary below says it
    try:
        for name in sorted(names):
            dataset = catalog.get(name) if name in catalog else None
            if dataset is None or type(dataset) in (MemoryDataset, SharedMemoryDataset):  # None: Kedro's implicit
                catalog[name] = SharedPickleDataset()
            elif isinstance(dataset, CachedDataset):  # Kedro refuses CachedDatasets under ParallelRunner
                catalog[name] = SharedCachedDataset(dataset._dataset)
            else:
                continue
            shared.append(name)
    finally:
        catalog_logger.setLevel(level)
    return shared


class ShareMemoryDatasetsHook:
    """Under ParallelRunner, declared MemoryDatasets (``candidate_{family}``, ``{arch}.untrained_model`` ...), Kedro's
    implicit ones and the report's cached figures pass between worker processes as pickled bytes; other runners keep
    them in memory, uncopied."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not isinstance(catalog, SharedMemoryDataCatalog):
            return
        shared = share_memory_datasets(catalog, set(pipeline.all_outputs()))
        if shared:
            logger.info("ParallelRunner: %d memory dataset(s) shared between processes: %s", len(shared), shared)
