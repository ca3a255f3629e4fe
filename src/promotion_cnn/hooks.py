"""Project hooks: name the source of bad input (the run journal is in ``promotion_cnn.runs``)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from promotion_cnn.datasets.image_folder import ImageSet

logger = logging.getLogger(__name__)


class DataSourceHook:
    """Tag each loaded table (of an image set: its files) with where it came from, so errors name the file.

    Once per table: pandas carries ``attrs`` through to derived tables."""

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        data = data.files if isinstance(data, ImageSet) else data
        if not isinstance(data, pd.DataFrame) or self._catalog is None:
            return
        if "source" in data.attrs:  # derived tables keep naming the input they came from
            return
        description = self._catalog.get(dataset_name)._describe()
        where = description.get("filepath") or description.get("path")
        data.attrs["source"] = f"dataset '{dataset_name}'" + (f" ({where})" if where else "")
