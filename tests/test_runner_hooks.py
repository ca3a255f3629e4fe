"""ShareMemoryDatasetsHook: the catalog's memory and cached datasets become shared under ParallelRunner only."""

from __future__ import annotations

from multiprocessing.managers import SyncManager

from kedro.io import CachedDataset, DataCatalog, MemoryDataset, SharedMemoryDataset
from kedro.io.data_catalog import SharedMemoryDataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner.parallel_runner import ParallelRunnerManager
from kedro_datasets.pickle import PickleDataset

from promotion_cnn.runner_hooks import SharedCachedDataset, SharedPickleDataset, ShareMemoryDatasetsHook


def _pipeline() -> Pipeline:
    return Pipeline(
        [
            Node(lambda x: x, "params:a", "kept", name="a"),
            Node(lambda x: x, "kept", "figure", name="b"),
            Node(lambda x: x, "figure", "implicit", name="c"),  # in no catalog: Kedro's runtime memory dataset
        ]
    )


def _datasets(tmp_path) -> dict:
    return {
        "kept": MemoryDataset(copy_mode="assign"),
        "figure": CachedDataset(PickleDataset(filepath=str(tmp_path / "figure.pkl"))),
        "params:a": MemoryDataset(1),
    }


def test_parallel_catalog_shares_memory_and_cached_datasets(tmp_path):
    catalog = SharedMemoryDataCatalog(_datasets(tmp_path))
    ShareMemoryDatasetsHook().before_pipeline_run({}, _pipeline(), catalog)
    assert type(catalog.get("kept")) is SharedPickleDataset and type(catalog.get("implicit")) is SharedPickleDataset
    assert isinstance(catalog.get("figure"), SharedCachedDataset)
    assert type(catalog.get("params:a")) is MemoryDataset  # an input, not a node output
    manager: SyncManager = ParallelRunnerManager()
    manager.start()
    try:
        catalog.set_manager_datasets(manager)
        catalog.validate_catalog()  # no longer refused as single-process
        catalog.save("figure", {"x": 1})
        assert catalog.load("figure") == {"x": 1} and (tmp_path / "figure.pkl").is_file()
        # the manager process holds bytes pickled by the saving worker: it never unpickles, so never imports, the
        # data's libraries (two workers saving Keras models at once made it import Keras twice: _DeadlockError)
        catalog.save("kept", {"model": [1.0, 2.0]})
        assert isinstance(SharedMemoryDataset.load(catalog.get("kept")), bytes)
        assert catalog.load("kept") == {"model": [1.0, 2.0]}
    finally:
        manager.shutdown()


def test_other_catalogs_are_left_alone(tmp_path):
    catalog = DataCatalog(_datasets(tmp_path))
    ShareMemoryDatasetsHook().before_pipeline_run({}, _pipeline(), catalog)
    assert type(catalog.get("kept")) is MemoryDataset and isinstance(catalog.get("figure"), CachedDataset)
