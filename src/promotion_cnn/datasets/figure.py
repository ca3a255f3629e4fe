"""A report figure: written as a PNG once, handed to the node that embeds it as those PNG bytes (no second drawing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kedro.io import CachedDataset, MemoryDataset
from kedro.io.core import get_filepath_str


@dataclass(frozen=True)
class RenderedFigure:
    """A figure as its file holds it: the PNG bytes, and the figure's matplotlib label (``get_label``)."""

    png: bytes
    label: str = ""

    def get_label(self) -> str:
        return self.label


class FigureDataset(CachedDataset, MemoryDataset):
    """A ``CachedDataset`` around a save-only dataset (``matplotlib.MatplotlibDataset``), typed as in memory.

    Saving writes the figure to its file (the wrapped dataset's ``save_args``: dpi, bbox) and keeps the bytes
    written as a ``RenderedFigure`` for the node that reads it: the report embeds the image of the file, drawn once
    (matplotlib drawing is ~0.3 s a figure here; a second drawing for the report cost ~9 s of a default run).
    ``MatplotlibDataset`` cannot load, so a process that did not draw the figure cannot read it: it is in-memory
    data, and being a ``MemoryDataset`` says so to the tools that plan where nodes run. ``kedro airflow create
    --group-by memory`` runs its producer and its consumer in one Airflow task (docs/scaling.md);
    ``ShareMemoryDatasetsHook`` shares it under ParallelRunner as any ``CachedDataset``.

    Catalog entry (as a ``CachedDataset``'s)::

        "{name}_figure":
          type: promotion_cnn.datasets.FigureDataset
          copy_mode: assign
          dataset:
            type: matplotlib.MatplotlibDataset
            filepath: data/08_reporting/figures/{name}.png
    """

    def save(self, data: Any) -> None:
        self._dataset.save(data)
        self._cache.save(RenderedFigure(self._written(), data.get_label()))

    def _written(self) -> bytes:
        """The bytes the wrapped dataset has just written (its filesystem, its latest version)."""
        dataset = self._dataset
        with dataset._fs.open(get_filepath_str(dataset._get_load_path(), dataset._protocol), "rb") as file:
            return file.read()
