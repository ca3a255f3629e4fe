"""Shared test fixtures: tiny generated data and the project's own configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation.parameter_validator import ParameterValidator

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@pytest.fixture(scope="session")
def project_params() -> dict[str, Any]:
    """The committed base parameters."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    return loader["parameters"]


@pytest.fixture(scope="session")
def fast_params(project_params) -> dict[str, Any]:
    """Base parameters shrunk for tests: small forests, two folds, no parallel workers (starting the SVM family's
    six worker processes costs more than its fits on tiny data)."""
    return _merge(
        project_params,
        {
            "tabular_protocol": {"cv_folds": 2, "n_jobs": 1, "progress": 0},
            "svm": {"n_jobs": 1},
            "random_forest": {
                "base_params": {"n_estimators": 40},
                "variants": {"n_estimators_500": {"n_estimators": 60}},
            },
        },
    )


class KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read intermediate outputs."""

    def _release(self) -> None:
        pass


def _parameter(params: dict[str, Any], name: str) -> Any:
    value = params
    for key in name.removeprefix("params:").split("."):
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


def typed_params(pipeline: Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as a run gives them to ``pipeline``'s nodes: blocks hinted with a model become that model."""
    return ParameterValidator({"pipeline": pipeline}).validate_raw_params(params)


@pytest.fixture(scope="session")
def run_pipeline():
    """Run a pipeline in memory: ``inputs`` as datasets, parameters from ``params``, returns ``outputs``."""

    def run(pipeline: Pipeline, params: dict[str, Any], inputs: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
        catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
        params = typed_params(pipeline, params)
        for name in pipeline.datasets():
            if name.startswith("params:"):
                catalog[name] = MemoryDataset(_parameter(params, name))
        for name in outputs:
            catalog[name] = KeptDataset(copy_mode="assign")
        SequentialRunner().run(pipeline, catalog)
        return {name: catalog[name].load() for name in outputs}

    return run
