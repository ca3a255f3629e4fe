"""The reporting pipeline end to end on tiny inputs: complete, and with the image half missing."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import MemoryDataset
from kedro.runner import SequentialRunner

from promotion_cnn.datasets import OptionalInputsHook
from promotion_cnn.pipelines.reporting import create_pipeline
from promotion_cnn.pipelines.reporting.pipeline import IMAGE_MODELS
from promotion_cnn.pipelines.tabular_modelling.pipeline import MODEL_FAMILIES


class KeptDataset(MemoryDataset):
    """In memory, by reference (as the project's figure datasets hand figures on), and kept after the run."""

    def __init__(self):
        super().__init__(copy_mode="assign")

    def _release(self) -> None:
        pass


def run(catalog) -> dict:
    """Run the reporting pipeline as ``kedro run --pipeline reporting`` would, with the hook registered."""
    pipeline = create_pipeline()
    for name in pipeline.all_outputs():
        catalog[name] = KeptDataset()
    OptionalInputsHook("reporting").before_pipeline_run(run_params={}, pipeline=pipeline, catalog=catalog)
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in pipeline.all_outputs()}


def test_inputs_are_the_other_pipelines_outputs_under_their_contract_names():
    inputs = {name for name in create_pipeline().inputs() if not name.startswith("params:")}
    per_family = {
        "variant_scores",
        "selected_variant",
        "threshold",
        "threshold_curve",
        "test_metrics",
        "confusion_matrix",
        "roc_curve",
    }
    per_model = {"history", "val_metrics", "val_confusion_matrix", "model_summary"}
    expected = (
        {
            "employees_validated",
            "image_class_counts",
            "image_samples_train@image",
            "image_samples_val@image",
            "best_tabular_model",
            "tabular_model_comparison",
            "fairness_audit",
            "permutation_importance",
        }
        | {f"{f}.{name}" for f in MODEL_FAMILIES for name in per_family}
        | {f"{m}.{name}" for m in IMAGE_MODELS for name in per_model}
    )
    assert inputs == expected
    assert all("reporting" in node.tags for node in create_pipeline().nodes)


@pytest.fixture(scope="module")
def complete(tabular_inputs, image_inputs, make_catalog) -> dict:
    return run(make_catalog({**tabular_inputs, **image_inputs}))


def test_complete_report_embeds_every_part_and_no_external_asset(complete, reporting):
    report = complete["study_report"]
    assert "Missing parts" not in report
    assert not re.search(r"""(src|href)=["']?(https?:|//|/?[\w-]+/)""", report), "the report must be self-contained"
    images = re.findall(r'<img src="data:image/png;base64,', report)
    # EDA 4, per family 3, per CNN 1, sample grids 2, best-CNN confusion 1
    assert len(images) == 4 + 3 * len(MODEL_FAMILIES) + len(IMAGE_MODELS) + 2 + 1
    for name in (*MODEL_FAMILIES, *IMAGE_MODELS):
        assert f"<h3>{name}</h3>" in report
    for label in ("Fig. 1", "Fig. 4", "Appendix C", "Fig. 12", "Appendix F"):
        assert label in report
    assert "Total params: 1,234" in report  # model summaries embedded


def test_comparison_puts_the_published_numbers_beside_this_runs(complete, reporting):
    table = complete["tabular_comparison"].set_index(["model", "metric"])
    rf = reporting["published"]["tabular"]["random_forest"]
    assert table.loc[("random_forest", "recall"), "study"] == rf["recall"]
    assert table.loc[("random_forest", "recall"), "this_run"] == pytest.approx(0.5)
    assert table.loc[("random_forest", "recall"), "difference"] == pytest.approx(0.5 - rf["recall"])
    assert pd.isna(table.loc[("svm", "threshold"), "difference"])  # scales differ: no difference shown
    image = complete["image_comparison"].set_index(["model", "metric"])
    assert image.loc[("alexnet_25_epochs", "best_val_accuracy"), "study"] == 0.693
    assert image.loc[("lenet", "val_accuracy"), "this_run"] == pytest.approx(0.31)


def test_summary_names_the_best_model_per_task(complete):
    summary = complete["study_report_markdown"]
    # random_forest has the higher F1 in the fakes (0.37 vs 0.36); the last CNN the best validation accuracy
    assert "best model is **random_forest**" in summary
    assert f"best CNN is **{IMAGE_MODELS[-1]}**" in summary
    assert complete["best_cnn_class_accuracy"]["model"].unique().tolist() == [IMAGE_MODELS[-1]]
    assert complete["lenet_variant_table"]["val_accuracy"].notna().all()


def test_report_lists_what_is_missing_when_only_the_tabular_half_ran(tabular_inputs, make_catalog):
    outputs = run(make_catalog(tabular_inputs))
    report = outputs["study_report"]
    assert "Missing parts" in report
    for model in IMAGE_MODELS:
        assert f"<code>{model}</code>: history, val_metrics, model_summary" in report
    assert "kedro run --pipeline image_modelling" in report
    assert "image_class_counts" in report
    assert "kedro run --pipeline tabular_modelling</code> first" not in report  # the tabular half is complete
    assert "no CNN results in this run" in outputs["study_report_markdown"]
    assert outputs["image_comparison"]["this_run"].isna().all()


def test_docs_page_describes_every_node_and_parameter(reporting):
    page = (Path(__file__).resolve().parents[3] / "docs" / "reporting.md").read_text()
    nodes = {node.name.rsplit(".", 1)[-1] for node in create_pipeline().nodes}
    assert not {name for name in nodes if f"`{name}`" not in page}
    assert not {key for key in reporting if f"reporting.{key}" not in page}
