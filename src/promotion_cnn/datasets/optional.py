"""Inputs that may be absent: a dataset wrapper that loads ``None``, and the hook that applies it.

The reporting pipeline reads what the other pipelines wrote, under their real names,
so ``kedro run`` orders it after them and kedro-viz draws the lineage. When only part
of them has run, the report says which parts are missing instead of failing:

- ``OptionalDataset`` wraps a dataset and loads ``None`` when its data does not exist.
  Used in YAML for files only reporting reads (the image pipeline's sample grids).
- ``OptionalInputsHook`` wraps, before a run, every input of the nodes with a given tag
  that no node of the run produces and whose data is absent (or that no catalog entry
  defines yet). Register it in ``settings.py``::

      from promotion_cnn.datasets.optional import OptionalInputsHook
      HOOKS = (DataSourceHook(), OptionalInputsHook(tag="reporting"))

This module imports no pipeline code, so registering the hook keeps settings light.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, DataCatalog, DatasetError
from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)


class OptionalDataset(AbstractDataset[Any, Any]):
    """Wrap a dataset so that loading it returns ``None`` when it does not exist.

    ``dataset`` is a dataset object, a catalog-style config dict, or ``None`` for
    a name the catalog does not define at all (for example the image outputs
    before the image pipeline is part of the project). Saving delegates to the
    wrapped dataset.

    Example catalog entry::

        "image_samples_train@image":    # the PNG that image_samples_train@figure writes
          type: promotion_cnn.datasets.OptionalDataset
          dataset:
            type: pillow.ImageDataset
            filepath: data/08_reporting/image_samples_train.png
    """

    def __init__(
        self,
        dataset: AbstractDataset | dict[str, Any] | None,
        missing_reason: str | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        if isinstance(dataset, dict):
            dataset = AbstractDataset.from_config("_optional", dataset)
        self._dataset = dataset
        self._missing_reason = missing_reason
        self.metadata = metadata

    @property
    def wrapped(self) -> AbstractDataset | None:
        """The wrapped dataset, ``None`` when the name has no catalog entry."""
        return self._dataset

    def load(self) -> Any:
        if self._dataset is None:
            logger.warning("No dataset to load (%s): using None", self._missing_reason or "not in the catalog")
            return None
        if not self._dataset.exists():
            logger.warning("%s does not exist: using None", self._dataset)
            return None
        return self._dataset.load()

    def save(self, data: Any) -> None:
        if self._dataset is None:
            raise DatasetError(f"Cannot save: no dataset is wrapped ({self._missing_reason or 'not in the catalog'})")
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset is not None and self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "dataset": self._dataset._describe() if self._dataset is not None else None,
            "missing_reason": self._missing_reason,
        }


def optional_inputs(pipeline: Pipeline, tag: str) -> set[str]:
    """Inputs of the tagged nodes that no node of ``pipeline`` produces (parameters excluded)."""
    consumed = {name for node in pipeline.nodes if tag in node.tags for name in node.inputs}
    return {name for name in consumed & pipeline.inputs() if not name.startswith("params:") and name != "parameters"}


def wrap_absent_inputs(catalog: DataCatalog, names: set[str]) -> list[str]:
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


class OptionalInputsHook:
    """Before a run, make the absent inputs of the nodes tagged ``tag`` load as ``None``.

    Inputs produced in the same run are never touched, so a full ``kedro run`` reads
    everything as usual; only a partial run (``kedro run --pipelines reporting`` after
    some pipelines have not run) sees ``None``.
    """

    def __init__(self, tag: str = "reporting"):
        self.tag = tag

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog) -> None:
        absent = wrap_absent_inputs(catalog, optional_inputs(pipeline, self.tag))
        if absent:
            logger.warning("Inputs of '%s' nodes not found (they load as None): %s", self.tag, ", ".join(absent))
