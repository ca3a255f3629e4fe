"""Datasets one pipeline writes and another reads back must agree on path and versioning."""

from pathlib import Path

from kedro.config import OmegaConfigLoader

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_reporting_reads_the_sample_grids_as_the_image_pipeline_writes_them():
    catalog = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")["catalog"]
    written = catalog["image_samples_{split}@figure"]
    read = catalog["image_samples_{split}@image"]["dataset"]
    assert read["filepath"] == written["filepath"]
    assert bool(read.get("versioned")) == bool(written.get("versioned"))
