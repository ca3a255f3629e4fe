"""Shared test fixtures: tiny generated data and the project's own configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _merge(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


@pytest.fixture(scope="session")
def project_params() -> dict[str, Any]:
    """The committed base parameters."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    return loader["parameters"]


@pytest.fixture(scope="session")
def fast_params(project_params) -> dict[str, Any]:
    """Base parameters shrunk for tests: small forests, two folds, no parallel workers."""
    return _merge(
        project_params,
        {
            "tabular_protocol": {"cv_folds": 2, "n_jobs": 1, "progress": 0},
            "random_forest": {
                "base_params": {"n_estimators": 40},
                "variants": {"n_estimators_500": {"n_estimators": 60}},
            },
        },
    )
