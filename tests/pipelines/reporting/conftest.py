"""Tiny stand-ins for every input of the reporting pipeline, in the contracts' shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator
from kedro.validation.utils import get_typed_fields
from PIL import Image
from support import KeptDataset

from promotion_cnn.datasets import OptionalInputsHook, generate_employees
from promotion_cnn.model_lists import exported, load_model_lists
from promotion_cnn.pipelines.reporting import create_pipeline
from promotion_cnn.pipelines.reporting.params import Comparison, Eda, Report

PROJECT = Path(__file__).resolve().parents[3]
CLASSES = ["cat", "dog", "ship"]
FAMILIES = tuple(load_model_lists().families)  # the project's tabular families and image models (conf/base)
IMAGE_MODELS = tuple(load_model_lists().image_models)


@pytest.fixture(scope="session")
def parameters() -> dict[str, Any]:
    """The project's real parameters (so the tests also check parameters_reporting.yml)."""
    return OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")["parameters"]


@pytest.fixture(scope="session")
def reporting(parameters) -> dict[str, Any]:
    """The ``reporting`` block with its typed sub-blocks (as the nodes receive them) and the raw rest."""
    raw = parameters["reporting"]
    models = {"eda": Eda, "comparison": Comparison, "report": Report}
    return {**raw, **{key: model.model_validate(raw[key]) for key, model in models.items()}}


@pytest.fixture(scope="session")
def employees() -> pd.DataFrame:
    return generate_employees(n_rows=600, seed=3)


def tabular_outputs(family: str, seed: int) -> dict[str, Any]:
    """The tabular_modelling outputs of one family, as the catalog would load them."""
    rng = np.random.default_rng(seed)
    thresholds = np.linspace(0, 1, 21)
    precision, recall = np.linspace(0.1, 0.9, 21), np.linspace(1, 0, 21)
    return {
        f"{family}.variant_scores": pd.DataFrame(
            {
                "variant": ["default", "deep"],
                "train_accuracy": [0.9, 0.95],
                "cv_f1_tuned": [0.3, 0.35],
                "max_depth": [np.nan, 8.0],
            }
        ),
        f"{family}.selected_variant": "deep",
        f"{family}.threshold": {
            "threshold": 0.4,
            "method": "f1",
            "source": "out_of_fold",
            "score": "probability",
            "train_precision": 0.3,
            "train_recall": 0.5,
            "train_f1": 0.37,
        },
        f"{family}.threshold_curve": pd.DataFrame(
            {
                "threshold": thresholds,
                "precision": precision,
                "recall": recall,
                "f1": 2 * precision * recall / (precision + recall),
            }
        ),
        exported("test_metrics", family): {
            "variant": "deep",
            "threshold": 0.4,
            "accuracy": 0.8 + seed / 100,
            "precision": 0.3,
            "recall": 0.5 - seed / 100,
            "f1": 0.37 - seed / 100,
            "roc_auc": 0.75,
            "average_precision": 0.33,
            "n_test": 100,
        },
        f"{family}.confusion_matrix": pd.DataFrame(
            {"actual": ["actual_0", "actual_1"], "predicted_0": [80, 5], "predicted_1": [10, 5]}
        ),
        f"{family}.roc_curve": pd.DataFrame(
            {"fpr": np.sort(rng.random(10)), "tpr": np.sort(rng.random(10)), "threshold": np.linspace(1, 0, 10)}
        ),
        f"{family}.test_metric_intervals": pd.DataFrame(
            {"metric": ["f1", "roc_auc"], "value": [0.37, 0.75], "low": [0.3, 0.7], "high": [0.44, 0.8]}
        ),
        f"{family}.calibration": {
            "brier_score": 0.07,
            "expected_calibration_error": 0.01,
            "ece_limit": 0.02,
            "well_calibrated": True,
            "n_bins": 2,
            "reliability": [
                {"bin_low": 0.0, "bin_high": 0.5, "n": 80, "mean_predicted": 0.1, "observed_rate": 0.12},
                {"bin_low": 0.5, "bin_high": 1.0, "n": 20, "mean_predicted": 0.7, "observed_rate": 0.65},
            ],
        },
    }


def image_outputs(model: str, val_accuracy: float) -> dict[str, Any]:
    """The image_modelling outputs of one CNN, in the contract's shapes."""
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [2.0, 1.5, 1.2],
            "accuracy": [0.3, 0.5, 0.6],
            "val_loss": [2.1, 1.8, 1.7],
            "val_accuracy": [0.25, val_accuracy + 0.05, val_accuracy],
        }
    )
    matrix = pd.DataFrame({"label": CLASSES, "cat": [8, 1, 1], "dog": [2, 6, 0], "ship": [0, 3, 9]})
    return {
        exported("history", model): history,
        exported("val_metrics", model): {
            "val_accuracy": val_accuracy,
            "val_loss": 1.7,
            "train_accuracy": 0.6,
            "best_val_accuracy": val_accuracy + 0.05,
            "epochs": 3,
            "n_params": 1234,
            "train_seconds": 1.5,
            "images_per_second": 200.0,
            "image_size": 32,
            "batch_size": 16,
        },
        exported("val_confusion_matrix", model): matrix,
        f"{model}.model_summary": f'Model: "{model}"\nTotal params: 1,234',
    }


@pytest.fixture(scope="session")
def fake_tabular():
    """``fake_tabular(family, seed)``: one family's tabular_modelling outputs."""
    return tabular_outputs


@pytest.fixture(scope="session")
def fake_image():
    """``fake_image(model, val_accuracy)``: one CNN's image_modelling outputs (classes cat, dog, ship)."""
    return image_outputs


@pytest.fixture(scope="session")
def tabular_inputs(employees) -> dict[str, Any]:
    data = {
        "employees_validated": employees,
        "employees_source": {
            "source": "dataset 'employees_raw'",
            "synthetic": "generated by SyntheticEmployeesDataset (n_rows 400, seed 1)",
            "rows": 400,
            "columns": list(employees.columns),
            "sha256": "cd" * 32,
        },
    }
    for seed, family in enumerate(FAMILIES):
        data.update(tabular_outputs(family, seed))
    data["best_tabular_model"] = {"family": next(iter(FAMILIES)), "cv_f1_tuned": 0.5}
    data["tabular_model_comparison"] = pd.DataFrame({"family": list(FAMILIES), "cv_f1_tuned": 0.5})
    data["fairness_audit"] = pd.DataFrame(
        {
            "family": next(iter(FAMILIES)),
            "attribute": "gender",
            "group": ["f", "m"],
            "selection_rate": [0.1, 0.1],
            "disparate_impact": [1.0, 1.0],
            "flagged": [False, False],
        }
    )
    data["fairness_summary"] = pd.DataFrame(
        {"family": next(iter(FAMILIES)), "attribute": ["gender"], "demographic_parity_ratio": [1.0]}
    )
    data["permutation_importance"] = pd.DataFrame(
        {"feature": ["avg_training_score"], "importance_mean": [0.2], "importance_std": [0.01]}
    )
    return data


@pytest.fixture(scope="session")
def image_inputs() -> dict[str, Any]:
    data = {
        "image_class_counts": pd.DataFrame(
            {"label": CLASSES * 2, "split": ["train"] * 3 + ["val"] * 3, "count": [50, 40, 30, 10, 10, 10]}
        ),
        "image_samples_train@image": Image.new("RGB", (30, 20), "white"),
        "image_samples_val@image": Image.new("RGB", (30, 20), "black"),
        "images_source": {
            "source": "dataset 'images_raw' (/data/imagenette)",
            "synthetic": None,
            "rows": 6,
            "columns": ["path", "label", "split"],
            "sha256": "ab" * 32,
        },
    }
    for i, model in enumerate(IMAGE_MODELS):
        data.update(image_outputs(model, val_accuracy=0.3 + i / 100))
    return data


def parameter_entries(parameters: dict[str, Any]) -> dict[str, Any]:
    """``params:a``, ``params:a.b``, ... for every nesting level, as a Kedro context provides them."""
    entries = {}

    def walk(prefix: str, value: Any) -> None:
        entries[f"params:{prefix}"] = value
        children = value if isinstance(value, dict) else get_typed_fields(value)
        for key, child in (children or {}).items():
            walk(f"{prefix}.{key}", child)

    for key, value in parameters.items():
        walk(key, value)
    return entries


@pytest.fixture(scope="session")
def make_catalog(parameters):
    """A catalog holding the parameters (with a 3-attribute pair plot, for speed) and the given data in memory."""
    eda = parameters["reporting"]["eda"]
    pair_plot = {**eda["pair_plot"], "columns": ["age", "previous_year_rating", "avg_training_score"]}
    fast = {**parameters, "reporting": {**parameters["reporting"], "eda": {**eda, "pair_plot": pair_plot}}}

    def make(data: dict[str, Any]) -> DataCatalog:
        catalog = DataCatalog()
        typed = ParameterValidator({"reporting": create_pipeline()}).validate_raw_params(fast)  # as in a run
        for name, value in {**parameter_entries(typed), **data}.items():
            catalog[name] = value
        return catalog

    return make


def run_pipeline(catalog: DataCatalog) -> dict[str, Any]:
    """Run the reporting pipeline as ``kedro run --pipelines reporting`` would, with the hook registered."""
    pipeline = create_pipeline()
    for name in pipeline.all_outputs():
        catalog[name] = KeptDataset()
    OptionalInputsHook("reporting").before_pipeline_run(run_params={}, pipeline=pipeline, catalog=catalog)
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in pipeline.all_outputs()}


@pytest.fixture(scope="session")
def run_reporting():
    """``run_reporting(catalog)``: every output of the reporting pipeline run on that catalog."""
    return run_pipeline


@pytest.fixture(scope="session")
def complete(tabular_inputs, image_inputs, make_catalog) -> dict[str, Any]:
    """The reporting pipeline's outputs on the complete tiny inputs (run once per session)."""
    return run_pipeline(make_catalog({**tabular_inputs, **image_inputs}))
