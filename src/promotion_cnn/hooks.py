"""Project hooks."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog


class DataSourceHook:
    """Tag each loaded table with where it came from, so validation errors can name the file."""

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        if not isinstance(data, pd.DataFrame) or self._catalog is None:
            return
        try:
            description = self._catalog.get(dataset_name)._describe()
        except Exception:  # noqa: BLE001 - a description is a nicety, never a failure
            description = {}
        where = description.get("filepath") or description.get("path")
        data.attrs["source"] = f"dataset '{dataset_name}'" + (f" ({where})" if where else f" {description}" if description else "")
