"""A dataset wrapper that loads ``None`` instead of failing when its data is absent.

The reporting pipeline reads what the other pipelines wrote. When only part of
them has run, the report says which parts are missing rather than failing, so
every input it reads from disk goes through this wrapper: in YAML for the
files only reporting reads (the image pipeline's sample grids), and at run time
for the other pipelines' outputs (see ``promotion_cnn.pipelines.reporting.hooks``).
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class OptionalDataset(AbstractDataset[Any, Any]):
    """Wrap a dataset so that loading it returns ``None`` when it does not exist.

    ``dataset`` is a dataset object, a catalog-style config dict, or ``None`` for
    a name the catalog does not define at all (for example the image outputs
    before the image pipeline is part of the project). Saving delegates to the
    wrapped dataset.

    Example catalog entry::

        image_sample_grid_train:
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
        return {"dataset": self._dataset._describe() if self._dataset is not None else None,
                "missing_reason": self._missing_reason}  # fmt: skip
