"""A report figure: written as a PNG, handed to the node that embeds it in memory (it cannot be loaded back)."""

from __future__ import annotations

from kedro.io import CachedDataset, MemoryDataset


class FigureDataset(CachedDataset, MemoryDataset):
    """A ``CachedDataset`` around a save-only dataset (``matplotlib.MatplotlibDataset``), typed as in memory.

    It behaves exactly as ``CachedDataset`` (every method is ``CachedDataset``'s): the figure is written to its
    file and the same ``Figure`` object goes to the node that reads it. ``MatplotlibDataset`` cannot load, so a
    process that did not draw the figure cannot read it: it is in-memory data, and being a ``MemoryDataset`` says so
    to the tools that plan where nodes run. ``kedro airflow create --group-by memory`` runs its producer and its
    consumer in one Airflow task (docs/scaling.md); ``ShareMemoryDatasetsHook`` shares it under ParallelRunner as
    any ``CachedDataset``.

    Catalog entry (as a ``CachedDataset``'s)::

        "{name}_figure":
          type: promotion_cnn.datasets.FigureDataset
          copy_mode: assign
          dataset:
            type: matplotlib.MatplotlibDataset
            filepath: data/08_reporting/figures/{name}.png
    """
