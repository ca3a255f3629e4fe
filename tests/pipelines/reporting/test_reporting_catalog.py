"""The project's catalog resolves every reporting output to the intended dataset under data/08_reporting.

Dataset factories match by pattern, so a new pattern elsewhere (``target_{split}`` once
caught ``target_correlation_figure``) can silently change where an output goes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import CachedDataset, DataCatalog
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pillow import ImageDataset
from kedro_datasets.text import TextDataset

from promotion_cnn.datasets import OptionalDataset
from promotion_cnn.pipelines.reporting import create_pipeline

PROJECT = Path(__file__).resolve().parents[3]
IN_MEMORY = {"eda_section", "image_overview_section", "recommender_section", "model_comparison"}


@pytest.fixture(scope="module")
def catalog() -> DataCatalog:
    config = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")["catalog"]
    return DataCatalog.from_config(config)


def reporting_path(dataset) -> bool:
    return "data/08_reporting/" in str(dataset._describe()["filepath"])


def test_every_reporting_output_has_its_dataset(catalog):
    outputs = create_pipeline().all_outputs()
    in_memory = {name for name in outputs if name.startswith("report_section_")} | IN_MEMORY
    for name in sorted(outputs - in_memory):
        dataset = catalog.get(name)
        if name.endswith("_figure"):
            assert isinstance(dataset, CachedDataset) and isinstance(dataset._dataset, MatplotlibDataset), name
            assert reporting_path(dataset._dataset), name
        elif name.startswith("study_report"):
            assert isinstance(dataset, TextDataset) and dataset._version is not None, name  # versioned
            assert reporting_path(dataset), name
        else:
            assert isinstance(dataset, CSVDataset) and reporting_path(dataset), name
    for name in in_memory:
        assert name not in catalog, f"{name} should stay in memory"


def test_comparisons_are_versioned(catalog):
    for name in ("tabular_comparison", "image_comparison"):
        assert catalog.get(name)._version is not None


def test_sample_grids_are_read_back_optionally(catalog):
    for split in ("train", "val"):
        dataset = catalog.get(f"image_samples_{split}@image")
        assert isinstance(dataset, OptionalDataset) and isinstance(dataset.wrapped, ImageDataset)
        assert str(dataset.wrapped._describe()["filepath"]).endswith(f"data/08_reporting/image_samples_{split}.png")


def test_a_figure_is_drawn_once_and_the_report_embeds_its_file(tmp_path, monkeypatch):
    import base64

    from matplotlib.figure import Figure

    from promotion_cnn.datasets import FigureDataset, RenderedFigure
    from promotion_cnn.pipelines.reporting.html import image_uri
    from promotion_cnn.pipelines.reporting.plots import is_placeholder, missing_figure

    path = tmp_path / "figures" / "curve.png"
    dataset = FigureDataset(
        dataset={"type": "matplotlib.MatplotlibDataset", "filepath": str(path), "save_args": {"dpi": 50}},
        copy_mode="assign",
    )
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([0, 1], [1, 0])
    drawn = []
    draw = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: drawn.append(1) or draw(self, *a, **k))
    dataset.save(figure)
    loaded = dataset.load()
    assert isinstance(loaded, RenderedFigure) and loaded.png == path.read_bytes() and not is_placeholder(loaded)
    assert image_uri(loaded) == "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    assert len(drawn) == 1  # written once; the report embeds the file's bytes
    dataset.save(missing_figure("history"))
    assert is_placeholder(dataset.load())
